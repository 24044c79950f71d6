"""Learning-rate schedulers with PyTorch's semantics, used as ``autograd_lite.optim.lr_scheduler``.

A scheduler sets ``group["lr"]`` in its optimizer's ``param_groups``. Build it after the
optimizer: it records each group's starting rate as ``group["initial_lr"]`` (kept if already
there) and in ``base_lrs``, and ``last_epoch`` starts at 0. Call ``scheduler.step()`` once per
epoch, *after* that epoch's ``optimizer.step()`` calls (PyTorch's order since 1.1; the other
order skips the first rate and warns). ``get_last_lr()`` is the rate of each group now.

>>> from autograd_lite import Value, optim
>>> opt = optim.SGD([Value(1.0)], lr=0.1)
>>> scheduler = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
>>> for epoch in range(4):
...     opt.step()       # the epoch's training steps
...     scheduler.step()
>>> scheduler.get_last_lr(), scheduler.last_epoch
([0.025], 4)

``state_dict()`` / ``load_state_dict()`` save and restore a scheduler (plain numbers; a
``LambdaLR``'s functions are code and are not saved: build it with the same ones). To resume,
build the optimizer and the scheduler as at the start, then load both states, in either order.

Import it as PyTorch's is imported: ``from autograd_lite.optim.lr_scheduler import StepLR``,
or ``from autograd_lite.optim import lr_scheduler``. It imports nothing from the package (an
optimizer is anything with ``param_groups``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from ._state import check_state_type

__all__ = ["CosineAnnealingLR", "ExponentialLR", "LRScheduler", "LambdaLR", "StepLR"]


class SupportsParamGroups(Protocol):
    """What a scheduler needs of an optimizer: PyTorch's list of parameter-group dicts."""

    param_groups: list[dict[str, Any]]


class LRScheduler:
    """The shared part: ``step``, ``get_last_lr``, ``last_epoch`` and state saving.

    A subclass computes the groups' next rates in ``get_lr()`` (called by ``step()`` after it
    advances ``last_epoch``; call ``get_last_lr()`` to read the rates), names the settings to
    save in ``settings`` and checks them in ``_check``.

    Args:
        optimizer: The optimizer whose groups' ``lr`` to set.
        last_epoch: The epoch to start from; -1 starts afresh (and sets each group's
            ``initial_lr``), another value resumes (each group needs ``initial_lr``).

    Raises:
        TypeError: If ``optimizer`` has no ``param_groups``.
        ValueError: For a bad setting, or when resuming and a group has no ``initial_lr``.
    """

    settings: tuple[str, ...] = ()

    def __init__(self, optimizer: SupportsParamGroups, last_epoch: int = -1) -> None:
        groups = getattr(optimizer, "param_groups", None)
        if not isinstance(groups, list) or not all(
            isinstance(group, dict) and "lr" in group for group in groups
        ):
            raise TypeError(f"{type(optimizer).__name__} is not an optimizer with param_groups")
        if isinstance(last_epoch, bool) or not isinstance(last_epoch, int) or last_epoch < -1:
            raise ValueError(f"last_epoch must be an int >= -1, got {last_epoch!r}")
        self._check()
        if last_epoch == -1:
            for group in groups:
                group.setdefault("initial_lr", group["lr"])
        for k, group in enumerate(groups):
            if "initial_lr" not in group:
                raise ValueError(
                    f"param_groups[{k}] has no 'initial_lr': resuming with last_epoch="
                    f"{last_epoch} needs the optimizer's state loaded first"
                )
        self.optimizer = optimizer
        self.base_lrs: list[float] = [group["initial_lr"] for group in groups]
        self.last_epoch = last_epoch
        self._optimizer_steps = getattr(optimizer, "steps", None)
        self._step_count = 0
        self._initial = True  # the constructor's step sets the rates for epoch last_epoch + 1
        try:
            self.step()
        finally:
            self._initial = False

    def _check(self) -> None:
        """Raise ValueError for a setting out of range."""

    def get_lr(self) -> list[float]:
        """The groups' rates for ``last_epoch``, computed by ``step()`` (read ``get_last_lr()``)."""
        raise NotImplementedError

    def get_last_lr(self) -> list[float]:
        """The learning rate of each parameter group, as the last ``step()`` set it."""
        return list(self._last_lr)

    def step(self) -> None:
        """Advance ``last_epoch`` by one and set each group's ``lr`` for it.

        Call it after the epoch's ``optimizer.step()`` calls; called before the first of them,
        it warns (as PyTorch does), since the first rate of the schedule is then skipped.
        """
        if (
            self._step_count == 1
            and self._optimizer_steps is not None
            and getattr(self.optimizer, "steps", None) == self._optimizer_steps
        ):
            warnings.warn(
                "lr_scheduler.step() was called before optimizer.step(); call them in the "
                "opposite order, or the first learning rate of the schedule is skipped",
                UserWarning,
                stacklevel=2,
            )
        groups = self.optimizer.param_groups
        if len(groups) != len(self.base_lrs):
            raise ValueError(
                f"the optimizer has {len(groups)} parameter groups, the scheduler was built "
                f"for {len(self.base_lrs)}"
            )
        self._step_count += 1
        self.last_epoch += 1
        for group, lr in zip(groups, self.get_lr(), strict=True):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in groups]

    def _current(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        """``last_epoch``, ``base_lrs``, the last rates, the step count and the settings."""
        return {
            "type": type(self).__name__,
            "last_epoch": self.last_epoch,
            "base_lrs": list(self.base_lrs),
            "last_lr": list(self._last_lr),
            "step_count": self._step_count,
            **{name: getattr(self, name) for name in self.settings},
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore a ``state_dict()`` and set each group's ``lr`` to the saved last rate.

        Everything is checked before anything changes: a bad state raises ValueError.

        Args:
            state_dict: What :meth:`state_dict` returned (or its JSON round trip).

        Raises:
            ValueError: For a state that does not fit this scheduler.
        """
        check_state_type(state_dict, self)
        groups = self.optimizer.param_groups
        for key in ("base_lrs", "last_lr"):
            rates = state_dict.get(key)
            if not (
                isinstance(rates, list)
                and len(rates) == len(groups)
                and all(_is_number(rate) for rate in rates)
            ):
                raise ValueError(f"{key} must be a list of {len(groups)} numbers")
        for key in ("last_epoch", "step_count"):
            value = state_dict.get(key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{key} must be an int >= 0, got {value!r}")
        absent = [setting for setting in self.settings if setting not in state_dict]
        if absent:
            raise ValueError(f"state lacks {', '.join(absent)}")
        before = {setting: getattr(self, setting) for setting in self.settings}
        for setting in self.settings:
            setattr(self, setting, state_dict[setting])
        try:
            self._check()
        except ValueError:
            for setting, value in before.items():
                setattr(self, setting, value)
            raise
        self.last_epoch, self._step_count = state_dict["last_epoch"], state_dict["step_count"]
        self.base_lrs = list(state_dict["base_lrs"])
        self._last_lr = list(state_dict["last_lr"])
        for group, lr in zip(groups, self._last_lr, strict=True):
            group["lr"] = lr


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_number(name: str, value: Any, low: float = -math.inf) -> None:
    if not _is_number(value) or not low <= value < math.inf:
        raise ValueError(f"{name} must be a finite number >= {low}, got {value!r}")


def _check_positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


class StepLR(LRScheduler):
    """Multiply each group's rate by ``gamma`` every ``step_size`` epochs.

    lr = base_lr · gamma^⌊epoch / step_size⌋ (computed step by step, as PyTorch does).

    Args:
        optimizer: The optimizer whose rates to set.
        step_size: How many epochs between decays, a positive int.
        gamma: The factor.
        last_epoch: As for :class:`LRScheduler`.

    Raises:
        ValueError: If ``step_size`` is not a positive int.
    """

    settings = ("step_size", "gamma")

    def __init__(
        self,
        optimizer: SupportsParamGroups,
        step_size: int,
        gamma: float = 0.1,
        last_epoch: int = -1,
    ) -> None:
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def _check(self) -> None:
        _check_positive_int("step_size", self.step_size)
        _check_number("gamma", self.gamma, 0.0)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current()
        return [lr * self.gamma for lr in self._current()]


class ExponentialLR(LRScheduler):
    """Multiply each group's rate by ``gamma`` every epoch: lr = base_lr · gamma^epoch.

    Args:
        optimizer: The optimizer whose rates to set.
        gamma: The factor per epoch.
        last_epoch: As for :class:`LRScheduler`.
    """

    settings = ("gamma",)

    def __init__(self, optimizer: SupportsParamGroups, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def _check(self) -> None:
        _check_number("gamma", self.gamma, 0.0)

    def get_lr(self) -> list[float]:
        if self._initial:
            return self._current()
        return [lr * self.gamma for lr in self._current()]


class CosineAnnealingLR(LRScheduler):
    """Anneal each group's rate along a cosine from its base rate to ``eta_min`` in T_max epochs.

    lr = eta_min + (base_lr - eta_min)·(1 + cos(π·epoch/T_max))/2, computed recursively from the
    current rate as PyTorch does (so a rate changed by hand is followed); past ``T_max`` the rate
    climbs back, a period being 2·T_max.

    Args:
        optimizer: The optimizer whose rates to set.
        T_max: The half period, in epochs, a positive int.
        eta_min: The smallest rate.
        last_epoch: As for :class:`LRScheduler`.

    Raises:
        ValueError: If ``T_max`` is not a positive int.
    """

    settings = ("T_max", "eta_min")

    def __init__(
        self,
        optimizer: SupportsParamGroups,
        T_max: int,
        eta_min: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def _check(self) -> None:
        _check_positive_int("T_max", self.T_max)
        _check_number("eta_min", self.eta_min, 0.0)

    def get_lr(self) -> list[float]:
        epoch, period, low = self.last_epoch, self.T_max, self.eta_min
        if self._initial:
            return self._current()
        if (epoch - 1 - period) % (2 * period) == 0:  # the bottom: the formula below is 0/0
            return [
                lr + (base - low) * (1 - math.cos(math.pi / period)) / 2
                for lr, base in zip(self._current(), self.base_lrs, strict=True)
            ]
        ratio = (1 + math.cos(math.pi * epoch / period)) / (
            1 + math.cos(math.pi * (epoch - 1) / period)
        )
        return [ratio * (lr - low) + low for lr in self._current()]


class LambdaLR(LRScheduler):
    """Set each group's rate to its base rate times ``lr_lambda(epoch)``.

    ``lr_lambda`` is one function for every group or a list with one per group; a warm-up:
    ``LambdaLR(opt, lambda epoch: min(1.0, (epoch + 1) / 5))``. The functions are not saved
    by ``state_dict()``.

    Args:
        optimizer: The optimizer whose rates to set.
        lr_lambda: A function of the epoch, or a list with one per group.
        last_epoch: As for :class:`LRScheduler`.

    Raises:
        TypeError: If ``lr_lambda`` is neither a function nor a list of them.
        ValueError: If the list's length is not the number of groups.
    """

    def __init__(
        self,
        optimizer: SupportsParamGroups,
        lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
        last_epoch: int = -1,
    ) -> None:
        groups = getattr(optimizer, "param_groups", [])
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != len(groups):
                raise ValueError(f"expected {len(groups)} lr_lambdas, got {len(lr_lambda)}")
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * len(groups)
        if not all(callable(f) for f in self.lr_lambdas):
            raise TypeError("lr_lambda must be a function of the epoch, or a list of them")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [
            base * f(self.last_epoch)
            for f, base in zip(self.lr_lambdas, self.base_lrs, strict=True)
        ]
