"""Optimizers with PyTorch's update rules, defaults and parameter groups, on parameter Values.

An optimizer takes a list of parameters, or PyTorch's list of parameter groups: dicts with
``"params"`` and any hyper-parameter to override for those parameters (the others come from
the constructor's arguments). ``optimizer.param_groups`` is that list of dicts, each holding
every hyper-parameter; a scheduler from :mod:`autograd_lite.optim.lr_scheduler` changes
``group["lr"]`` there.

>>> w, b = Value(1.0), Value(1.0)
>>> opt = SGD([{"params": [w]}, {"params": [b], "lr": 0.01}], lr=0.1)
>>> w.grad = b.grad = 1.0
>>> opt.step()
>>> w.data, b.data, [group["lr"] for group in opt.param_groups]
(0.9, 0.99, [0.1, 0.01])

Each step reads ``p.grad`` and writes ``p.data``. ``optimizer.state`` maps a parameter to its
buffers (momentum, moments, step count), created at its first step; ``state_dict()`` /
``load_state_dict()`` save and restore the groups' hyper-parameters and those buffers in
PyTorch's layout (parameters numbered in group order), as plain numbers, lists and dicts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, ClassVar

from ..engine import Value
from ..ops import FLOAT_MATH
from . import lr_scheduler
from ._state import check_state_type
from .packed import Packed

if TYPE_CHECKING:
    from .packed import Index

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "Packed", "RMSprop", "lr_scheduler"]

ParamGroup = dict[str, Any]
Params = Iterable[Value | Mapping[str, Any]]  # Values, or parameter-group dicts
Update = Callable[..., tuple[Any, ...]]
"""One parameter's update: ``update(data, grad, *buffers) -> (data, *buffers)``, on floats or
on arrays of the same shape (a whole group at once)."""


UPDATE_MATH = SimpleNamespace(sqrt=math.sqrt, maximum=max, where=FLOAT_MATH.where)
"""The math an update rule calls as ``m.<name>``, on floats. ``maximum(a, b)`` is ``b`` if
``b > a`` else ``a`` (Python's ``max``); ``sqrt`` is only given numbers >= 0 or NaN. The packed
path passes the same functions on NumPy arrays (:func:`.packed.array_math`)."""


class Optimizer:
    """The shared part: parameter groups, ``zero_grad``, ``step`` and state saving.

    A subclass passes its hyper-parameters' defaults to ``__init__`` (None marks one that is
    required), lists its per-parameter buffers in ``state_keys`` (``optional_state_keys`` for
    those only some settings use, in the order a first step creates them), checks a group in
    ``_check_group`` and updates one group's parameters in ``_step_group``.

    The built-in optimizers write their update once, in ``_rule(group, m)``: a function of one
    parameter's data, gradient and buffers, over the math namespace ``m``. ``_step_group`` calls
    it on floats, parameter after parameter; ``_step_packed`` calls it on NumPy arrays, a whole
    group at once, for :meth:`packed`.

    Args:
        params: The parameters, or a list of parameter-group dicts (``"params"`` and overrides).
        defaults: Each hyper-parameter's default for the groups; None marks a required one.

    Raises:
        TypeError: If ``params`` is neither Values nor group dicts.
        ValueError: For no parameters, a parameter in two groups, or a bad hyper-parameter.
    """

    state_keys: tuple[str, ...] = ()
    optional_state_keys: tuple[str, ...] = ()
    squares: tuple[str, ...] = ()
    """The buffers that are running means of squares: a saved state must not make them negative."""
    settings_added_later: ClassVar[Mapping[str, Any]] = {}
    """Hyper-parameters a saved state may lack, having been saved before they existed, with the
    values that behave as it did then (PyTorch's ``__setstate__`` fills them in the same way)."""

    def __init__(self, params: Params, defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.param_groups: list[ParamGroup] = []
        self.state: dict[Value, dict[str, float]] = {}
        self.steps = 0  # calls to step(), over all groups
        if isinstance(params, (Value, Mapping)):
            raise TypeError("params must be a list of Values or of parameter-group dicts")
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not all(isinstance(g, Mapping) for g in groups):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)  # type: ignore[arg-type]

    @property
    def params(self) -> list[Value]:
        """Every parameter, group after group."""
        return [p for group in self.param_groups for p in group["params"]]

    @property
    def lr(self) -> float:
        """The learning rate shared by every group (setting it sets every group's)."""
        rates = {group["lr"] for group in self.param_groups}
        if len(rates) != 1:
            raise AttributeError("the parameter groups have different rates: see param_groups")
        return float(rates.pop())

    @lr.setter
    def lr(self, value: float) -> None:
        for group in self.param_groups:
            self._check_group({**group, "lr": value})
        for group in self.param_groups:
            group["lr"] = value

    def add_param_group(self, param_group: Mapping[str, Any]) -> None:
        """Add a group: a dict with ``"params"`` (a Value or a list of Values) and overrides.

        Args:
            param_group: The group's dict.

        Raises:
            ValueError: If a parameter is already in a group, or a hyper-parameter is bad.
        """
        if not isinstance(param_group, Mapping) or "params" not in param_group:
            raise TypeError('a parameter group must be a dict with a "params" entry')
        params = param_group["params"]
        params = [params] if isinstance(params, Value) else params
        if isinstance(params, (set, frozenset, Mapping)) or not isinstance(params, Iterable):
            raise TypeError("a group's params must be a Value or an ordered list of Values")
        params = list(params)
        if not all(isinstance(p, Value) for p in params):
            raise TypeError("optimizer parameters must be Values")
        seen = {id(p) for p in self.params}
        if len({id(p) for p in params}) != len(params) or seen & {id(p) for p in params}:
            raise ValueError("some parameters appear more than once in the parameter groups")
        group = {**self.defaults, **param_group, "params": params}
        missing = [name for name in self.defaults if group[name] is None]
        if missing:
            raise ValueError(
                f"{type(self).__name__} needs {', '.join(missing)}: pass it to the "
                "optimizer or set it in every parameter group"
            )
        self._check_group(group)
        self.param_groups.append(group)

    def _check_group(self, group: ParamGroup) -> None:
        """Raise ValueError for a hyper-parameter out of range (subclasses add their own)."""
        lr = group["lr"]
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 <= lr < math.inf:
            raise ValueError(f"learning rate must be a finite number >= 0, got {lr!r}")
        _check_range(group, "weight_decay", 0.0, math.inf)

    def zero_grad(self) -> None:
        """Set every parameter's gradient to 0."""
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = 0.0
                p.grad_value = None

    def step(self) -> None:
        """Update every parameter from its ``.grad``, group by group."""
        self.steps += 1
        for group in self.param_groups:
            self._step_group(group)

    def _step_group(self, group: ParamGroup) -> None:
        raise NotImplementedError

    def _step_packed(self, group: ParamGroup, packed: Packed, at: Index) -> None:
        """Update ``packed.theta[at]`` and the state arrays of one group, as ``_step_group``."""
        raise NotImplementedError

    def packed(self, params: Iterable[Value] | None = None) -> Packed:
        """The parameters and this optimizer's state copied into flat NumPy arrays, to step there.

        Args:
            params: the order of ``theta`` (``model.parameters()``); by default ``self.params``.
                It must hold every parameter of the optimizer; any other Value is kept in
                ``theta`` and left alone.

        Returns:
            A :class:`~autograd_lite.optim.packed.Packed` view: ``step(grad)`` updates ``theta``
            and the state arrays as ``step()`` updates the Values, ``sync()`` writes them back,
            ``refresh()`` reads them again.

        Raises:
            ImportError: NumPy is not installed.

        >>> w = Value(1.0)
        >>> packed = SGD([w], lr=0.1).packed()
        >>> packed.step([0.5]); packed.sync(); w.data
        0.95
        """
        return Packed(self, self.params if params is None else params)

    def state_dict(self) -> dict[str, Any]:
        """The hyper-parameters and buffers, in PyTorch's layout, as plain data.

        ``{"type", "steps", "state": {index: {buffer: number}}, "param_groups": [{..., "params":
        [index, ...]}]}``; parameters are numbered across the groups in order. Betas are a list.
        """
        index = {id(p): i for i, p in enumerate(self.params)}
        groups = [
            {
                **{k: list(v) if isinstance(v, tuple) else v for k, v in group.items()},
                "params": [index[id(p)] for p in group["params"]],
            }
            for group in self.param_groups
        ]
        state = {index[id(p)]: dict(buffers) for p, buffers in self.state.items()}
        return {
            "type": type(self).__name__,
            "steps": self.steps,
            "state": state,
            "param_groups": groups,
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore a ``state_dict()`` (also after a JSON round trip: string indices are read).

        The groups must hold as many parameters as this optimizer's; everything is checked
        before anything changes, so a bad state raises ValueError and leaves the optimizer as it
        was.

        Args:
            state_dict: What :meth:`state_dict` returned (or its JSON round trip).

        Raises:
            ValueError: For a state that does not fit this optimizer.
        """
        check_state_type(state_dict, self)
        saved_groups = state_dict.get("param_groups")
        if not isinstance(saved_groups, list) or len(saved_groups) != len(self.param_groups):
            raise ValueError(f"state must hold {len(self.param_groups)} parameter groups")
        params = self.params
        groups = []
        for k, (saved, group) in enumerate(zip(saved_groups, self.param_groups, strict=True)):
            if not isinstance(saved, Mapping) or not isinstance(saved.get("params"), list):
                raise ValueError(f"parameter group {k} must be a dict with a params list")
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"parameter group {k} holds {len(saved['params'])} parameters in the "
                    f"state, {len(group['params'])} in the optimizer"
                )
            saved = {**self.settings_added_later, **saved}
            absent = [key for key in self.defaults if key not in saved]
            if absent:
                raise ValueError(f"parameter group {k} lacks {', '.join(absent)}")
            restored = {**saved, "params": group["params"]}
            if isinstance(restored.get("betas"), list):
                restored["betas"] = tuple(restored["betas"])
            self._check_group(restored)
            groups.append(restored)
        state = self._read_state(state_dict.get("state"), len(params))
        steps = state_dict.get("steps", 0)
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise ValueError(f"steps must be an int >= 0, got {steps!r}")
        self.param_groups = groups
        self.state = {params[i]: buffers for i, buffers in state.items()}
        self.steps = steps

    def _read_state(self, saved: Any, count: int) -> dict[int, dict[str, float]]:
        if not isinstance(saved, Mapping):
            raise ValueError("state must hold a dict of per-parameter buffers")
        state = {}
        for key, buffers in saved.items():
            i = int(key) if isinstance(key, str) and key.isdigit() else key
            if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < count:
                raise ValueError(f"state has an entry for parameter {key!r} of {count}")
            if not isinstance(buffers, Mapping):
                raise ValueError(f"state of parameter {i} must be a dict")
            missing = set(self.state_keys) - set(buffers)
            unknown = set(buffers) - set(self.state_keys) - set(self.optional_state_keys)
            if missing or unknown:
                raise ValueError(
                    f"state of parameter {i} must hold {', '.join(self.state_keys)}, "
                    f"got {', '.join(map(str, buffers)) or 'nothing'}"
                )
            for buffer, value in buffers.items():
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise ValueError(f"state {buffer!r} of parameter {i} must be a number")
                try:
                    float(value)
                except OverflowError:
                    raise ValueError(f"state {buffer!r} of parameter {i} is too large") from None
                if buffer in self.squares and value < 0:
                    raise ValueError(
                        f"state {buffer!r} of parameter {i} is a mean of squares: it cannot be "
                        f"negative, got {value!r}"
                    )
            step = buffers.get("step", 0)
            if not isinstance(step, int) or step < 0:  # a negative step makes complex weights
                raise ValueError(f"state 'step' of parameter {i} must be an int >= 0, got {step!r}")
            state[i] = {
                buffer: value if buffer == "step" else float(value)
                for buffer, value in buffers.items()
            }
        return state


def _check_range(group: ParamGroup, name: str, low: float, high: float) -> None:
    """Raise unless ``low <= group[name] < high``."""
    value = group[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value < high:
        raise ValueError(f"{name} must lie in [{low}, {high}), got {value!r}")


def _check_flag(group: ParamGroup, name: str) -> None:
    if not isinstance(group[name], bool):
        raise ValueError(f"{name} must be True or False, got {group[name]!r}")


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov and L2 weight decay.

    g ← grad + wd·p;  b ← μ·b + g (b = g at the first step);  g ← g + μ·b if Nesterov else b;
    p ← p - lr·g.

    Args:
        params: The parameters, or PyTorch's list of parameter-group dicts.
        lr: The learning rate (required).
        momentum: μ, 0 for none.
        weight_decay: The L2 weight decay wd.
        nesterov: Use Nesterov momentum (needs ``momentum > 0``).

    Raises:
        ValueError: For a missing ``lr`` or a hyper-parameter out of range.

    >>> w = Value(1.0); w.grad = 0.5
    >>> SGD([w], lr=0.1).step(); w.data
    0.95
    """

    optional_state_keys = ("momentum_buffer",)

    def __init__(
        self,
        params: Params,
        lr: float | None = None,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: ParamGroup) -> None:
        super()._check_group(group)
        _check_range(group, "momentum", 0.0, math.inf)
        _check_flag(group, "nesterov")
        if group["nesterov"] and group["momentum"] <= 0:
            raise ValueError("Nesterov momentum needs momentum > 0")

    def _rule(self, group: ParamGroup, m: Any) -> Update:
        lr, momentum, weight_decay = group["lr"], group["momentum"], group["weight_decay"]
        nesterov = group["nesterov"]

        def update(data: Any, grad: Any, buffer: Any) -> tuple[Any, Any]:
            """``(data, momentum_buffer)`` after a step; ``buffer`` is None before the first."""
            g = grad + weight_decay * data
            if momentum:
                buffer = g if buffer is None else momentum * buffer + g
                g = g + momentum * buffer if nesterov else buffer
            return data - lr * g, buffer

        return update

    def _step_group(self, group: ParamGroup) -> None:
        update, state = self._rule(group, UPDATE_MATH), self.state
        if not group["momentum"]:
            for p in group["params"]:
                p.data = update(p.data, p.grad, None)[0]
            return
        for p in group["params"]:
            buffers = state.setdefault(p, {})
            p.data, buffers["momentum_buffer"] = update(
                p.data, p.grad, buffers.get("momentum_buffer")
            )

    def _step_packed(self, group: ParamGroup, packed: Packed, at: Index) -> None:
        update, theta, grad = self._rule(group, packed.math), packed.theta, packed.grad
        if not group["momentum"]:
            theta[at] = update(theta[at], grad[at], None)[0]
            return
        buffers = packed.buffers["momentum_buffer"]
        for part, started in packed.parts(at, "momentum_buffer"):  # a first step: no buffer
            theta[part], buffers[part] = update(
                theta[part], grad[part], buffers[part] if started else None
            )
        packed.mark(at, "momentum_buffer")


class Adam(Optimizer):
    """Adam with bias correction (and L2 weight decay added to the gradient, as PyTorch's Adam).

    m ← β₁m + (1-β₁)g;  v ← β₂v + (1-β₂)g²  (v̂ ← max(v̂, v) with ``amsgrad``, else v̂ = v);
    p ← p - (lr / (1-β₁ᵗ)) · m / (√v̂ / √(1-β₂ᵗ) + ε).

    Args:
        params: The parameters, or PyTorch's list of parameter-group dicts.
        lr: The learning rate.
        betas: ``(β₁, β₂)``, the decay rates of the moment estimates.
        eps: ε, added to the denominator.
        weight_decay: The L2 weight decay, added to the gradient.
        amsgrad: Keep the largest v̂ so far (AMSGrad).

    Raises:
        ValueError: For a hyper-parameter out of range.
    """

    state_keys = ("step", "exp_avg", "exp_avg_sq")
    optional_state_keys = ("max_exp_avg_sq",)
    squares = ("exp_avg_sq", "max_exp_avg_sq")
    decoupled_weight_decay = False  # AdamW: p ← p(1 - lr·wd) instead of g ← g + wd·p

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": tuple(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: ParamGroup) -> None:
        super()._check_group(group)
        betas = group["betas"]
        if not isinstance(betas, tuple) or len(betas) != 2:
            raise ValueError(f"betas must be a pair of numbers in [0, 1), got {betas!r}")
        for beta in betas:
            _check_range({"betas": beta}, "betas", 0.0, 1.0)
        _check_range(group, "eps", 0.0, math.inf)
        _check_flag(group, "amsgrad")

    def _rule(self, group: ParamGroup, m: Any) -> Update:
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        weight_decay, amsgrad = group["weight_decay"], group["amsgrad"]
        decay = 1 - lr * weight_decay if self.decoupled_weight_decay else 1.0
        l2 = 0.0 if self.decoupled_weight_decay else weight_decay
        keep1, keep2 = 1 - beta1, 1 - beta2

        def update(
            data: Any,
            grad: Any,
            exp_avg: Any,
            exp_avg_sq: Any,
            max_exp_avg_sq: Any,
            step_size: Any,
            correction2: Any,
        ) -> tuple[Any, Any, Any, Any]:
            """``(data, exp_avg, exp_avg_sq, max_exp_avg_sq)`` after a step, given the bias
            corrections of :meth:`_corrections`."""
            if weight_decay:
                data = data * decay
            g = grad + l2 * data if l2 else grad
            exp_avg = exp_avg + keep1 * (g - exp_avg)  # PyTorch's lerp
            exp_avg_sq = beta2 * exp_avg_sq + keep2 * g * g
            if amsgrad:
                max_exp_avg_sq = m.maximum(max_exp_avg_sq, exp_avg_sq)
            v = max_exp_avg_sq if amsgrad else exp_avg_sq
            step = step_size * (exp_avg / (m.sqrt(v) / correction2 + eps))  # addcdiv
            return data - step, exp_avg, exp_avg_sq, max_exp_avg_sq

        return update

    @staticmethod
    def _corrections(group: ParamGroup, step: int) -> tuple[float, float]:
        """The bias corrections at a parameter's ``step``: lr / (1-β₁ᵗ) and √(1-β₂ᵗ)."""
        beta1, beta2 = group["betas"]
        return group["lr"] / (1 - beta1**step), (1 - beta2**step) ** 0.5

    def _step_group(self, group: ParamGroup) -> None:
        update, amsgrad, state = self._rule(group, UPDATE_MATH), group["amsgrad"], self.state
        last_step, step_size, correction2 = 0, 0.0, 0.0
        for p in group["params"]:
            s = state.get(p)
            if s is None:
                s = state[p] = {"step": 0, "exp_avg": 0.0, "exp_avg_sq": 0.0}
            step = s["step"] = int(s["step"]) + 1
            if step != last_step:  # the same for every parameter but after add_param_group
                last_step, (step_size, correction2) = step, self._corrections(group, step)
            p.data, s["exp_avg"], s["exp_avg_sq"], top = update(
                p.data,
                p.grad,
                s["exp_avg"],
                s["exp_avg_sq"],
                s.get("max_exp_avg_sq", 0.0) if amsgrad else 0.0,
                step_size,
                correction2,
            )
            if amsgrad:
                s["max_exp_avg_sq"] = top

    def _step_packed(self, group: ParamGroup, packed: Packed, at: Index) -> None:
        update, theta, buffers = self._rule(group, packed.math), packed.theta, packed.buffers
        steps = buffers["step"][at] + 1
        buffers["step"][at] = steps
        step_size, correction2 = packed.per_step(steps, lambda t: self._corrections(group, t))
        exp_avg, exp_avg_sq = buffers["exp_avg"], buffers["exp_avg_sq"]
        top = buffers["max_exp_avg_sq"]
        theta[at], exp_avg[at], exp_avg_sq[at], highest = update(
            theta[at], packed.grad[at], exp_avg[at], exp_avg_sq[at], top[at], step_size, correction2
        )
        packed.mark(at, "step", "exp_avg", "exp_avg_sq")
        if group["amsgrad"]:
            top[at] = highest
            packed.mark(at, "max_exp_avg_sq")


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as PyTorch's AdamW.

    p ← p·(1 - lr·wd), then Adam's step on the plain gradient; ``weight_decay`` defaults to 0.01.

    Args:
        params: The parameters, or PyTorch's list of parameter-group dicts.
        lr: The learning rate.
        betas: ``(β₁, β₂)``, the decay rates of the moment estimates.
        eps: ε, added to the denominator.
        weight_decay: The decoupled weight decay wd.
        amsgrad: Keep the largest v̂ so far (AMSGrad).

    Raises:
        ValueError: For a hyper-parameter out of range.

    >>> w = Value(1.0); w.grad = 0.0
    >>> AdamW([w], lr=0.1, weight_decay=0.5).step(); w.data
    0.95
    """

    decoupled_weight_decay = True

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)


class RMSprop(Optimizer):
    """RMSprop, with PyTorch's momentum and centred options.

    v ← αv + (1-α)g²;  with ``centered``: ḡ ← ḡ + (1-α)(g - ḡ) and d = √(v - ḡ²) + ε, else
    d = √v + ε;  with ``momentum`` μ > 0: b ← μb + g/d and p ← p - lr·b, else p ← p - lr·g/d.
    (g includes L2 weight decay: g ← grad + wd·p.) The buffers ``square_avg`` (v),
    ``grad_avg`` (ḡ, centred only) and ``momentum_buffer`` (b) start at 0, as PyTorch's.

    Args:
        params: The parameters, or PyTorch's list of parameter-group dicts.
        lr: The learning rate.
        alpha: α, the decay rate of the squared-gradient average.
        eps: ε, added to the denominator.
        weight_decay: The L2 weight decay wd.
        momentum: μ, 0 for none.
        centered: Divide by the estimated standard deviation instead of the root mean square.

    Raises:
        ValueError: For a hyper-parameter out of range.

    >>> w = Value(1.0); w.grad = 0.5
    >>> opt = RMSprop([w], lr=0.01, momentum=0.9, centered=True)
    >>> opt.step(); round(w.data, 4)     # centred: √(v - ḡ²) is smaller than √v, the step larger
    0.8995
    """

    state_keys = ("step", "square_avg")
    optional_state_keys = ("grad_avg", "momentum_buffer")
    squares = ("square_avg",)
    settings_added_later: ClassVar[Mapping[str, Any]] = {"momentum": 0.0, "centered": False}

    def __init__(
        self,
        params: Params,
        lr: float = 0.01,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "alpha": alpha,
            "eps": eps,
            "centered": centered,
            "weight_decay": weight_decay,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: ParamGroup) -> None:
        super()._check_group(group)
        _check_range(group, "alpha", 0.0, math.inf)
        _check_range(group, "eps", 0.0, math.inf)
        _check_range(group, "momentum", 0.0, math.inf)
        _check_flag(group, "centered")

    def _rule(self, group: ParamGroup, m: Any) -> Update:
        lr, alpha, eps, momentum = group["lr"], group["alpha"], group["eps"], group["momentum"]
        centered, weight_decay, keep = group["centered"], group["weight_decay"], 1 - alpha

        def update(
            data: Any, grad: Any, square_avg: Any, grad_avg: Any, momentum_buffer: Any
        ) -> tuple[Any, Any, Any, Any]:
            """``(data, square_avg, grad_avg, momentum_buffer)`` after a step."""
            g = grad + weight_decay * data
            square_avg = alpha * square_avg + keep * g * g
            if centered:
                grad_avg = _lerp(grad_avg, g, keep)
                variance = square_avg - grad_avg * grad_avg
                d = m.sqrt(m.where(variance >= 0, variance, math.nan)) + eps  # NaN as torch
            else:
                d = m.sqrt(square_avg) + eps
            if momentum > 0:
                momentum_buffer = momentum * momentum_buffer + g / d
                return data - lr * momentum_buffer, square_avg, grad_avg, momentum_buffer
            # (lr·g)/d, rounded as PyTorch's addcdiv
            return data - lr * g / d, square_avg, grad_avg, momentum_buffer

        return update

    def _step_group(self, group: ParamGroup) -> None:
        update, state = self._rule(group, UPDATE_MATH), self.state
        centered, momentum = group["centered"], group["momentum"] > 0
        for p in group["params"]:
            s = state.get(p)
            if s is None:
                s = state[p] = {"step": 0, "square_avg": 0.0}
            s["step"] = int(s["step"]) + 1
            p.data, s["square_avg"], mean, buffer = update(
                p.data,
                p.grad,
                s["square_avg"],
                s.get("grad_avg", 0.0) if centered else 0.0,
                s.get("momentum_buffer", 0.0) if momentum else 0.0,
            )
            if centered:
                s["grad_avg"] = mean
            if momentum:
                s["momentum_buffer"] = buffer

    def _step_packed(self, group: ParamGroup, packed: Packed, at: Index) -> None:
        update, theta, buffers = self._rule(group, packed.math), packed.theta, packed.buffers
        square_avg, grad_avg = buffers["square_avg"], buffers["grad_avg"]
        momentum_buffer = buffers["momentum_buffer"]
        buffers["step"][at] += 1
        theta[at], square_avg[at], mean, buffer = update(
            theta[at], packed.grad[at], square_avg[at], grad_avg[at], momentum_buffer[at]
        )
        packed.mark(at, "step", "square_avg")
        if group["centered"]:
            grad_avg[at] = mean
            packed.mark(at, "grad_avg")
        if group["momentum"] > 0:
            momentum_buffer[at] = buffer
            packed.mark(at, "momentum_buffer")


def _lerp(start: float, end: float, weight: float) -> float:
    """start + weight·(end - start), computed as PyTorch's ``lerp`` does for exact agreement."""
    if abs(weight) < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (1 - weight)
