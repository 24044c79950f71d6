"""An optimizer stepping on flat NumPy arrays: the parameters as one vector θ, its state aligned.

:meth:`Optimizer.packed(params) <autograd_lite.optim.Optimizer.packed>` copies the parameters'
data into ``theta`` (in the order of ``params``, e.g. ``model.parameters()``) and the optimizer's
per-parameter buffers into arrays of the same length. ``step(grad)`` then takes a gradient
vector in that order and updates ``theta`` and the buffers in place, each parameter group with
its own hyper-parameters, read from ``param_groups`` at every step (a scheduler's new ``lr``
takes effect). It runs the optimizer's own update rule (``_rule``), the one its ``step()``
runs on floats, so the numbers are the same, bit for bit.

While packed, the Values and ``optimizer.state`` are not updated: ``sync()`` writes ``theta``
into every ``p.data`` and the buffers into ``optimizer.state`` as ``step()`` would have left
them; ``refresh()`` reads both again after code changed them.

>>> from autograd_lite import Value, optim
>>> w, b = Value(1.0), Value(0.0)
>>> packed = optim.SGD([w, b], lr=0.1, momentum=0.9).packed()
>>> packed.step([0.5, -0.5]); packed.theta.tolist()
[0.95, 0.05]
>>> packed.sync(); w.data, packed.optimizer.state[b]
(0.95, {'momentum_buffer': -0.5})

NumPy is imported when a packed view is made: the rest of the package does not need it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from ..engine import Value

if TYPE_CHECKING:
    from typing import TypeAlias

    import numpy as np
    import numpy.typing as npt

    from . import Optimizer

    Index: TypeAlias = slice | npt.NDArray[np.intp]
    """Where a group's parameters lie in ``theta``: a slice when they are contiguous."""

__all__ = ["Packed"]


class Packed:
    """The parameters and an optimizer's state as flat arrays, updated by ``step(grad)``.

    Attributes:
        optimizer: the optimizer whose groups, hyper-parameters and rules are used.
        params: the Values, in the order of ``theta``.
        theta: the parameters' data, float64, one entry per Value of ``params``. Updated in
            place (a program holding it sees every step); never replaced.
        buffers: each per-parameter buffer the optimizer keeps (``"exp_avg"``, ``"step"``, ...)
            as an array aligned with ``theta`` (``"step"`` is int64), 0 where a parameter has
            none yet.
        present: for each buffer, a bool array: whether that parameter has it (``sync``
            writes only those, as ``step()`` creates buffers at a parameter's first step).
        grad: the gradient of the last ``step``.
        math: the namespace the update rules get as ``m`` (:func:`array_math`).

    Between ``refresh()`` (or the view's creation) and ``sync()``, ``theta`` and the arrays
    are the truth: code may write into ``theta`` (restoring saved weights) and the next step
    and ``sync()`` use it; changes made to the Values or to ``optimizer.state`` meanwhile are
    not seen until ``refresh()``. Entries of ``theta`` that belong to no parameter group are
    left as they are.

    Args:
        optimizer: The optimizer to view.
        params: Its parameters, in the order ``theta`` is to have them.

    Raises:
        ImportError: Without NumPy.
        TypeError: If ``params`` is not a list of Values.
        ValueError: If a parameter appears twice.
    """

    def __init__(self, optimizer: Optimizer, params: Iterable[Value]) -> None:
        """Copy ``params``' data and ``optimizer``'s state into arrays.

        Args:
            optimizer: a built-in optimizer, or a subclass with its own ``_step_group`` (stepped
                through the Values then: slower, the same numbers).
            params: the order of ``theta``; every parameter of the optimizer must be among them.

        Raises:
            TypeError: ``params`` holds something other than Values.
            ValueError: a Value appears twice, or a parameter of the optimizer is missing.
            ImportError: NumPy is not installed.
        """
        try:
            import numpy
        except ImportError:
            raise ImportError("an optimizer's packed view needs NumPy: pip install numpy") from None
        self._np = numpy
        self.math = array_math()
        self.optimizer = optimizer
        if isinstance(params, (Value, str)) or not isinstance(params, Iterable):
            raise TypeError("params must be a list of Values")
        self.params = list(params)
        if not all(isinstance(p, Value) for p in self.params):
            raise TypeError("packed parameters must be Values")
        self._index = {id(p): i for i, p in enumerate(self.params)}
        if len(self._index) != len(self.params):
            raise ValueError("some parameters appear more than once in params")
        n = len(self.params)
        self.theta = numpy.zeros(n)
        self.grad = numpy.zeros(n)
        keys = optimizer.state_keys + optimizer.optional_state_keys
        self.buffers = {key: numpy.zeros(n, numpy.int64 if key == "step" else None) for key in keys}
        self.present = {key: numpy.zeros(n, bool) for key in keys}
        self._has_state = numpy.zeros(n, bool)
        self._layout: tuple[tuple[int, int], ...] = ()
        self._at: list[Index] = []  # where each group's parameters are in theta
        self._members: tuple[list[Value], Any] = ([], None)  # the optimizer's, and where
        self._vectorised = _steps_packed(type(optimizer))
        self.refresh()

    def __len__(self) -> int:
        return len(self.params)

    def __repr__(self) -> str:
        groups = len(self.optimizer.param_groups)
        return f"Packed({type(self.optimizer).__name__}, {len(self)} parameters, {groups} groups)"

    def step(self, grad: Any) -> None:
        """One optimizer step from ``grad`` (one number per entry of ``theta``, in its order).

        Updates ``theta`` and the buffers in place and counts the step in
        ``optimizer.steps``. A group added since the last step (``add_param_group``) is found
        and starts its own step counts, as in ``step()``. Where ``step()`` on floats would
        raise (a zero denominator with ``eps=0``), the arrays get inf or NaN, as PyTorch's.

        Args:
            grad: The gradient, one number per entry of ``theta``.

        Raises:
            ValueError: ``grad`` is not one number per parameter, or a group holds a Value
                that is not in ``params``.
        """
        np = self._np
        g = np.asarray(grad, dtype=np.float64)
        if g.shape != self.theta.shape:
            expected = f"{len(self)} numbers, one per parameter"
            raise ValueError(f"grad must hold {expected}, got an array of shape {g.shape}")
        self._place_groups()
        if not self._vectorised:
            self._step_through_values(g)
            return
        self.grad = g
        self.optimizer.steps += 1
        with np.errstate(all="ignore"):
            for group, at in zip(self.optimizer.param_groups, self._at):
                if len(group["params"]):
                    self.optimizer._step_packed(group, self, at)

    def sync(self) -> None:
        """Write ``theta`` into every ``p.data`` and the buffers into ``optimizer.state``.

        A parameter's state dict is updated in place (created if new) with the buffers it has,
        ``"step"`` as an int, the others as floats: what ``step()`` on the Values would have
        left. ``optimizer.steps`` is always current.
        """
        for p, x in zip(self.params, self.theta.tolist()):
            p.data = x
        if not self._vectorised:
            return
        params, where = self._members
        started = self._has_state[where]
        if not started.all():
            chosen = started.nonzero()[0]
            params, where = [params[k] for k in chosen.tolist()], where[chosen]
        state = self.optimizer.state
        dicts = [state.get(p) or state.setdefault(p, {}) for p in params]  # in place, as step()
        for key, values in self.buffers.items():  # the keys in the order a first step adds them
            present = self.present[key][where]
            if not present.any():
                continue
            if present.all():
                for buffers, value in zip(dicts, values[where].tolist()):
                    buffers[key] = value
                continue
            for buffers, value, here in zip(dicts, values[where].tolist(), present.tolist()):
                if here:
                    buffers[key] = value

    def refresh(self) -> None:
        """Read ``theta`` from the Values and the buffers from ``optimizer.state`` again.

        Call it after code changed ``p.data``, the optimizer's state (``load_state_dict``) or
        which parameters a group holds. ``theta`` stays the same array.

        Raises:
            ValueError: a parameter of the optimizer is not in ``params``.
        """
        np = self._np
        self.theta[:] = np.fromiter((p.data for p in self.params), np.float64, len(self))
        self._layout = ()
        self._place_groups()
        if not self._vectorised:
            return  # optimizer.state stays the state: it steps through the Values
        index = self._index
        state = self.optimizer.state  # (no tuple per parameter: they would wake the GC)
        started = [index[id(p)] for p in state if id(p) in index]
        dicts = [buffers for p, buffers in state.items() if id(p) in index]
        unknown = set().union(*dicts) - set(self.buffers)
        if unknown:
            raise ValueError(f"the optimizer's state holds unknown buffers {sorted(unknown)}")
        self._has_state[:] = False
        self._has_state[started] = True
        for key, values in self.buffers.items():
            column = [buffers.get(key) for buffers in dicts]
            where = started
            if None in column:
                where = [i for i, value in zip(started, column) if value is not None]
                column = [value for value in column if value is not None]
            values[:] = 0
            values[where] = column
            self.present[key][:] = False
            self.present[key][where] = True

    def mark(self, at: Index, *keys: str) -> None:
        """Record that the parameters at ``at`` now have state with these buffers."""
        self._has_state[at] = True
        for key in keys:
            self.present[key][at] = True

    def parts(self, at: Index, key: str) -> Iterator[tuple[Index, bool]]:
        """``at`` split by whether each parameter has buffer ``key``: ``(where, has)`` pairs.

        Most often one pair: a group's parameters start stepping together.
        """
        present = self.present[key][at]
        if present.all() or not present.any():
            yield at, bool(present.all())
            return
        where = self._np.arange(len(self))[at]
        yield where[present], True
        yield where[~present], False

    def per_step(self, steps: Any, corrections: Callable[[int], tuple[float, ...]]) -> Any:
        """``corrections(step)`` for each parameter's step count, computed once per count.

        Numbers when the steps are all equal (the usual case), else one array per number.
        """
        np = self._np
        if steps.min() == steps.max():
            return corrections(int(steps[0]))
        counts, where = np.unique(steps, return_inverse=True)
        table = np.array([corrections(int(t)) for t in counts.tolist()])
        return tuple(column[where] for column in table.T)

    def _place_groups(self) -> None:
        """Find where each group's parameters lie in ``theta``, if the groups changed."""
        groups = self.optimizer.param_groups
        layout = tuple((id(group["params"]), len(group["params"])) for group in groups)
        if layout == self._layout:
            return
        np = self._np
        at: list[Index] = []
        members: list[int] = []
        for k, group in enumerate(groups):
            try:
                where = [self._index[id(p)] for p in group["params"]]
            except KeyError:
                missing = sum(id(p) not in self._index for p in group["params"])
                raise ValueError(
                    f"parameter group {k} holds {missing} parameter(s) that are not in the "
                    f"packed params ({len(self)} Values): pack every parameter of the optimizer"
                ) from None
            members += where
            first = where[0] if where else 0
            if where == list(range(first, first + len(where))):
                at.append(slice(first, first + len(where)))
            else:
                at.append(np.array(where, dtype=np.intp))
        params = [p for group in groups for p in group["params"]]
        self._members = params, np.array(members, dtype=np.intp)
        self._at, self._layout = at, layout

    def _step_through_values(self, grad: Any) -> None:
        """A step of an optimizer with no packed rule: through the Values and ``step()``."""
        self.sync()
        for p, g in zip(self.params, grad.tolist()):
            p.grad = g
        self.optimizer.step()
        self.refresh()


def _steps_packed(cls: type) -> bool:
    """Whether ``cls``'s ``_step_group`` comes with a ``_step_packed`` of the same class."""
    for klass in cls.__mro__:
        if "_step_group" in vars(klass):
            return "_step_packed" in vars(klass)
    return False


def array_math() -> SimpleNamespace:
    """The update rules' math namespace on NumPy arrays (see ``optim.UPDATE_MATH``)."""
    import numpy as np

    return SimpleNamespace(
        sqrt=np.sqrt,
        maximum=lambda a, b: np.where(b > a, b, a),  # max(a, b) for floats, NaN included
        where=np.where,
    )
