"""Compiled training's runner: a model's per-example loss and its gradient as generated code.

``fit`` asks :func:`_compiled` for a runner: one object with ``batch(rows, targets)`` (sets
each parameter's ``grad`` to the batch's mean gradient) and ``evaluate(rows, targets)``
(the mean loss and accuracy), as :class:`LossRunner` says. ``RUNNER`` makes them; another
runner (a vectorised one, say) stands in by being assigned there.

>>> from autograd_lite import nn
>>> from autograd_lite.losses import get_objective
>>> model = nn.Linear(1, 1, seed=0)  # a runner holds its model weakly: keep it
>>> runner = _CompiledLoss(model, get_objective("mse"))
>>> loss, accuracy = runner.evaluate([[1.0], [2.0]], [0.0, 0.0])
>>> accuracy is None
True
"""

from __future__ import annotations

import contextlib
import math
import operator
import warnings
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from .compiler import Generated, TraceError, trace_gradient
from .compiler.vectorize import VectorProgram, decisions, vectorize_loss
from .engine import Value
from .grad_mode import enable_grad, gc_paused, no_grad
from .losses import Objective, Output
from .nn import Module

ARRAY_MIN_ROWS = 64
"""With NumPy installed, compiled training runs a batch of at least this many rows as
columns (one call of the generated code per ``ARRAY_CHUNK`` rows) instead of row by row."""
ARRAY_CHUNK = 4096


class LossRunner(Protocol):
    """What ``fit`` needs from a compiled per-example loss (:class:`_CompiledLoss` is one)."""

    params: list[Value]  # the model's parameters when it was made, in order
    shape: tuple[Any, ...]  # the model's _structure_of when it was made

    def program(self, row: Sequence[float], target: float, gradient: bool = True) -> object:
        """Trace now (in the model's current mode) what rows like this one need; raises
        ``TraceError`` if the model cannot be traced."""

    def batch(self, rows: Sequence[Sequence[float]], targets: Sequence[float]) -> tuple[float, int]:
        """Forward and backward of a batch: sets each ``p.grad`` to the batch's mean
        gradient; returns (the batch's mean loss times its size, the number of hits)."""

    def evaluate(
        self, rows: Sequence[Sequence[float]], targets: Sequence[float]
    ) -> tuple[float, float | None]:
        """``(mean loss, accuracy)`` of the rows, the model in eval mode."""


class _CompiledLoss:
    """The per-example loss of a model (and its gradient in the parameters) as generated code.

    One program is traced per target value for classification (the label is a constant
    there: cross-entropy picks a score by it) and one for regression (the target is an
    input); and one with the gradient for training, one without for scoring. Rows run one
    by one on floats, or ``ARRAY_CHUNK`` at a time over NumPy columns.
    """

    def __init__(self, model: Module, objective: Objective) -> None:
        self._model = weakref.ref(model)  # weak: the model's cache holds this runner
        self.objective = objective
        self.params = model.parameters()
        self.programs: dict[tuple[float | None, bool, bool], Generated] = {}
        self.shape: tuple[Any, ...] = ()  # the model's settings when traced (_structure_of)

    @property
    def model(self) -> Module:
        """The model this runner was made for (``ReferenceError`` once it is freed)."""
        model = self._model()
        if model is None:
            raise ReferenceError("the model of this compiled loss was freed")
        return model

    def program(self, row: Sequence[float], target: float, gradient: bool = True) -> Generated:
        """The program for rows with this target, traced now if it is new (in the model's
        current mode: training uses train mode, scoring eval mode)."""
        key = None if self.objective.decide is None else target
        program = self.programs.get((key, gradient, self.model.training))
        if program is None:
            loss = self.objective.loss

            def example(x: list[Value], t: Value) -> tuple[Value, Output]:
                out = self.model(x)
                target_: list[Any] = [t if key is None else key]  # a Value works as a number
                return loss([out], target_), out

            with enable_grad():  # scoring may be asked for inside no_grad
                program = trace_gradient(
                    example, [list(row), target], self.params, "example", gradient=gradient
                )
            self.programs[key, gradient, self.model.training] = program
        return program

    def batch(self, rows: Sequence[Sequence[float]], targets: Sequence[float]) -> tuple[float, int]:
        """Forward and backward of a batch: sets each ``p.grad`` to the batch's mean
        gradient; returns (the batch's mean loss times its size, the number of hits)."""
        mean, hits, total = self._run(rows, targets, gradient=True)
        scale = 1.0 / len(rows)
        for p, g in zip(self.params, total, strict=True):
            p.grad = g * scale
        return mean * len(rows), hits

    def evaluate(
        self, rows: Sequence[Sequence[float]], targets: Sequence[float]
    ) -> tuple[float, float | None]:
        """``(mean loss, accuracy)`` as :func:`evaluate` gives them, from generated code."""
        mean, hits, _ = self._run(rows, targets, gradient=False)
        accuracy = hits / len(rows) if self.objective.decide is not None else None
        return mean, accuracy

    def _run(
        self, rows: Sequence[Sequence[float]], targets: Sequence[float], gradient: bool
    ) -> tuple[float, int, list[float]]:
        """(mean loss, hits, summed gradient) of the rows; the mean is taken as the losses
        take it (in row order, times 1/n), so it equals the eager number."""
        weights = [p.data for p in self.params]
        losses = [0.0] * len(rows)
        total = [0.0] * len(weights) if gradient else []
        hits = 0
        decide = self.objective.decide
        columns = _numpy() is not None and len(rows) >= ARRAY_MIN_ROWS
        groups: dict[float | None, list[int]] = {}
        for i, t in enumerate(targets):
            groups.setdefault(None if decide is None else t, []).append(i)
        for indices in groups.values():
            program = self.program(rows[indices[0]], targets[indices[0]], gradient)
            array_mode = columns and program.array_function() is not None
            step = ARRAY_CHUNK if array_mode else len(indices)
            for start in range(0, len(indices), step):
                chunk = indices[start : start + step]
                run = self._columns if array_mode else self._rows
                hit, grads = run(program, weights, rows, targets, chunk, losses)
                hits += hit
                if gradient:
                    total = list(map(operator.add, total, grads))
        return sum(losses[1:], losses[0]) * (1.0 / len(rows)), hits, total

    def _rows(
        self,
        program: Generated,
        weights: list[float],
        rows: Sequence[Sequence[float]],
        targets: Sequence[float],
        chunk: list[int],
        losses: list[float],
    ) -> tuple[int, list[float]]:
        """The rows at ``chunk`` one by one, on floats: (hits, summed gradient); each
        row's loss goes into ``losses``."""
        total: list[float] = []
        hits = 0
        decide = self.objective.decide
        for i in chunk:
            (losses[i], out), grads = program.run(weights, rows[i], targets[i])
            total = list(map(operator.add, total, grads)) if total else grads
            if decide is not None:
                hits += decide(_as_output(out)) == targets[i]
        return hits, total

    def _columns(
        self,
        program: Generated,
        weights: list[float],
        rows: Sequence[Sequence[float]],
        targets: Sequence[float],
        chunk: list[int],
        losses: list[float],
    ) -> tuple[int, list[float]]:
        """The same, in one call of the generated code over NumPy columns. If a number
        comes out NaN or infinite, the rows run again one by one on floats, so a domain
        error is raised (or a NaN kept) exactly as the eager engine does it."""
        np = _numpy()
        n = len(chunk)
        table = np.asarray([rows[i] for i in chunk], dtype=float)
        column = np.asarray([targets[i] for i in chunk], dtype=float)
        function: Callable[..., Any] = program.array_function()  # type: ignore[assignment]
        with np.errstate(all="ignore"):
            (loss, out), grads = function(weights, list(table.T), column)
        row_losses = np.broadcast_to(loss, (n,))
        per_row = np.empty((len(grads), n))
        for k, g in enumerate(grads):  # a gradient the same in every row is a number
            per_row[k] = g
        sums = per_row.sum(axis=1).tolist()
        if not (np.all(np.isfinite(row_losses)) and all(math.isfinite(g) for g in sums)):
            return self._rows(program, weights, rows, targets, chunk, losses)
        for i, value in zip(chunk, row_losses.tolist(), strict=True):
            losses[i] = value
        hits = 0
        if self.objective.decide is not None:
            scores = [np.broadcast_to(o, (n,)) for o in (out if isinstance(out, list) else [out])]
            for k, i in enumerate(chunk):
                row_scores = [float(o[k]) for o in scores]
                output = row_scores if isinstance(out, list) else row_scores[0]
                hits += self.objective.decide(_as_output(output)) == targets[i]
        return hits, sums


class _GroupedLoss:
    """The per-example loss as one grouped program (:mod:`~autograd_lite.compiler.vectorize`):
    a batch's losses, outputs and summed gradient in a few array operations, every class in
    one program.

    What does not group (or cannot be traced that way) runs through ``scalar``, a
    :class:`_CompiledLoss`, which traces or refuses exactly as before. ``batch`` and
    ``evaluate`` read the weights from the Values (the :class:`LossRunner` protocol);
    ``gradient`` and ``scores`` take them as one vector θ, for training with the parameters
    and the optimizer's state in arrays. A batch whose numbers come out NaN or infinite is
    run again eagerly, so that errors and NaNs are exactly the eager engine's.
    """

    def __init__(self, model: Module, objective: Objective) -> None:
        self._model = weakref.ref(model)
        self.objective = objective
        self.params = model.parameters()
        self.shape: tuple[Any, ...] = ()
        self.grouped: dict[tuple[bool, bool], VectorProgram | None] = {}
        self.scalar = _CompiledLoss(model, objective)

    @property
    def model(self) -> Module:
        """The model this runner was made for (``ReferenceError`` once it is freed)."""
        model = self._model()
        if model is None:
            raise ReferenceError("the model of this compiled loss was freed")
        return model

    def grouped_program(self, training: bool) -> VectorProgram | None:
        """The grouped program traced for this mode (with its gradient in training), if any."""
        return self.grouped.get((training, training)) or self.grouped.get((training, True))

    def program(self, row: Sequence[float], target: float, gradient: bool = True) -> object:
        """The grouped program for the model's current mode, traced now if it is new; the
        scalar runner's program (and its errors) where the example does not group."""
        key = (self.model.training, gradient)
        if key not in self.grouped:
            try:
                with enable_grad():
                    self.grouped[key] = vectorize_loss(
                        self.model, self.objective.loss, row, params=self.params,
                        gradient=gradient,
                    )  # fmt: skip
            except Exception:  # the scalar runner traces again and says why, as before
                self.grouped[key] = None
        program = self.grouped[key]
        return program if program is not None else self.scalar.program(row, target, gradient)

    def gradient(self, theta: Any, X: Any, targets: Any) -> tuple[float, int, Any] | None:
        """(the batch's mean loss times its size, hits, the mean gradient) at θ; None if a
        number is not finite (the caller reruns the batch eagerly)."""
        np = _numpy()
        program = self.grouped_program(True)
        try:
            losses, outputs, grad = program.run(theta, X, targets)  # type: ignore[union-attr]
        except (AttributeError, TypeError, ValueError):  # not a class, not numbers: eagerly
            return None
        if not (np.isfinite(losses).all() and np.isfinite(grad).all()):
            return None
        n = len(losses)
        grad *= 1.0 / n
        return self._mean(losses) * n, self._hits(outputs, targets), grad

    def scores(self, theta: Any, X: Any, targets: Any) -> tuple[float, float | None] | None:
        """``(mean loss, accuracy)`` at θ in eval mode; None if a number is not finite."""
        np = _numpy()
        program = self.grouped_program(False)
        try:
            losses, outputs = program.forward(theta, X, targets)  # type: ignore[union-attr]
        except (AttributeError, TypeError, ValueError):  # not a class, not numbers: eagerly
            return None
        if not (np.isfinite(losses).all() and np.isfinite(outputs).all()):
            return None
        accuracy = None
        if self.objective.decide is not None:
            accuracy = self._hits(outputs, targets) / len(losses)
        return self._mean(losses), accuracy

    def _mean(self, losses: Any) -> float:
        """The mean as the losses take it (in row order, times 1/n)."""
        values = losses.tolist()
        return float(sum(values[1:], values[0]) * (1.0 / len(values)))

    def _hits(self, outputs: Any, targets: Any) -> int:
        if self.objective.decide is None:
            return 0
        labels = decisions(self.objective, outputs)
        if labels is None:  # an objective without a vectorised rule: its decide, row by row
            decide = self.objective.decide
            return sum(
                decide(_as_output(o if len(o) > 1 else o[0])) == t
                for o, t in zip(outputs.tolist(), _numpy().asarray(targets).tolist())
            )
        return int((labels == _numpy().asarray(targets, dtype=float)).sum())

    def batch(self, rows: Sequence[Sequence[float]], targets: Sequence[float]) -> tuple[float, int]:
        """As :meth:`_CompiledLoss.batch`: sets each ``p.grad`` to the batch's mean gradient."""
        if self.model.training and self.grouped_program(True) is None:
            self.program(rows[0], targets[0])  # traced now if new
        if self.grouped_program(True) is None:
            return self.scalar.batch(rows, targets)
        theta = [p.data for p in self.params]
        found = self.gradient(theta, rows, targets)
        if found is None:
            return eager_batch(self.model, self.objective, rows, targets)
        loss_sum, hits, grad = found
        for p, g in zip(self.params, grad.tolist(), strict=True):
            p.grad = g
        return loss_sum, hits

    def evaluate(
        self, rows: Sequence[Sequence[float]], targets: Sequence[float]
    ) -> tuple[float, float | None]:
        """``(mean loss, accuracy)`` as :func:`evaluate` gives them, from generated code."""
        if not self.model.training and self.grouped_program(False) is None and rows:
            self.program(rows[0], targets[0], gradient=False)  # traced now if new
        if self.grouped_program(False) is None:
            return self.scalar.evaluate(rows, targets)
        found = self.scores([p.data for p in self.params], rows, targets)
        if found is None:
            return eager_scores(self.model, self.objective, rows, targets)
        return found


def eager_batch(
    model: Module, objective: Objective, rows: Sequence[Sequence[float]], targets: Sequence[float]
) -> tuple[float, int]:
    """A batch forward and backward by the eager engine: the batch's mean gradient is added
    to each ``p.grad``; returns (the mean loss times the batch's size, the hits)."""
    targets = [float(t) for t in targets]
    with gc_paused():  # the batch's graph is large, acyclic and soon freed
        outputs = [model(row) for row in rows]
        batch_loss = objective.loss(outputs, targets)
        batch_loss.backward()
    return batch_loss.data * len(rows), hits(objective, outputs, targets)  # no graph kept


def eager_scores(
    model: Callable[[Sequence[float]], Output],
    objective: Objective,
    rows: Sequence[Sequence[float]],
    targets: Sequence[float],
) -> tuple[float, float | None]:
    """``(mean loss, accuracy)`` by the eager engine, without a graph."""
    targets = [float(t) for t in targets]
    with no_grad():
        outputs = [model(row) for row in rows]
        mean = objective.loss(outputs, targets).data
    if objective.decide is None:
        return mean, None
    return mean, hits(objective, outputs, targets) / len(targets)


def hits(objective: Objective, outputs: Sequence[Output], targets: Sequence[float]) -> int:
    """How many outputs predict their target (0 for regression, which has no labels)."""
    if objective.decide is None:
        return 0
    decide = objective.decide
    return sum(decide(o) == t for o, t in zip(outputs, targets, strict=True))


def _numpy() -> Any:
    try:
        import numpy
    except ImportError:
        return None
    return numpy


def _as_output(out: float | list[float]) -> Output:
    """A compiled output as the Values an objective's ``decide`` reads."""
    if isinstance(out, list):
        return [Value(x, requires_grad=False) for x in out]
    return Value(out, requires_grad=False)


def _compiled(
    model: Module,
    objective: Objective,
    row: Sequence[float],
    target: float,
    mode: bool | str,
    scoring: bool,
) -> tuple[LossRunner | None, LossRunner | None]:
    """The compiled per-example loss for training and for scoring (eval mode, traced only
    when ``scoring``); None for what runs eagerly: everything with ``compile=False`` or a loss
    of one's own (not separable), and under ``"auto"`` what cannot be traced, which is said
    once (a warning pointing at the caller of ``fit``). Everything is traced before training
    starts; what was traced for the same model before is reused unless the model changed."""
    if mode is False or not objective.separable:
        if mode is True:
            raise ValueError(
                "compile=True needs a named loss (a loss of one's own trains eagerly): "
                "pass compile=False or 'auto'"
            )
        return None, None
    compiled = _cached(model, objective, lambda: RUNNER(model, objective))
    works: list[bool] = []
    failure: TraceError | None = None
    for training in [True, False] if scoring else [True]:
        model.train(training)
        try:
            compiled.program(row, target, gradient=training)
            works.append(True)
        except TraceError as error:
            if mode is True:
                raise TraceError(f"{error} Or train eagerly: fit(..., compile=False).") from error
            failure = failure or error
            works.append(False)
        finally:
            model.train()
    if failure is not None:
        what = "trains eagerly" if not works[0] else "scores eagerly"
        warnings.warn(f"fit {what}: the model cannot be compiled ({failure})", stacklevel=4)
    if any(works):
        _cache_of(model)[objective] = compiled
    train = compiled if works[0] else None
    return train, (compiled if scoring and works[-1] else None)


def _runner(model: Module, objective: Objective) -> LossRunner:
    """The one place that chooses how compiled training runs: the grouped program
    (:class:`_GroupedLoss`, which hands what does not group to the scalar programs) when NumPy
    is installed, the scalar programs (:class:`_CompiledLoss`) without it."""
    if _numpy() is None:
        return _CompiledLoss(model, objective)
    return _GroupedLoss(model, objective)


RUNNER: Callable[[Module, Objective], LossRunner] = _runner
"""What makes the runner ``fit`` trains with, from the model and the objective. A runner
holds its model weakly (the model's cache holds the runner)."""


class _CompiledForward:
    """A model's output for one row, in eval mode, as generated code (no gradient): what
    :func:`autograd_lite.predict` runs, row by row on floats or over NumPy columns."""

    def __init__(self, model: Module, row: Sequence[float]) -> None:
        self.params, self.width = model.parameters(), len(row)
        self.shape: tuple[Any, ...] = ()  # the model's settings when traced (_structure_of)
        self.grouped, self.listed = self._grouped(model, row)
        if self.grouped is not None:
            return  # no scalar program needed
        with enable_grad():  # predict may be called inside no_grad: tracing needs a graph
            self.program = trace_gradient(
                lambda x: (0.0, model(x)), [list(row)], self.params, "forward", gradient=False
            )  # the first output is what a gradient would be taken of: none here

    def _grouped(self, model: Module, row: Sequence[float]) -> tuple[VectorProgram | None, bool]:
        """The model's grouped forward program (None without NumPy or if it does not
        group), and whether the model gives a list (else one Value)."""
        if _numpy() is None:
            return None, False
        try:
            with enable_grad():
                program = vectorize_loss(model, None, row, params=self.params, gradient=False)
            with no_grad():
                listed = isinstance(model(list(row)), list)
        except Exception:  # the scalar trace says why, or the eager model runs
            return None, False
        return program, listed

    def outputs(self, rows: Sequence[Sequence[float]]) -> list[Output]:
        """Each row's output, as Values without history (what the eager model gives).

        Raises:
            ValueError: the grouped program gave a number that is not finite (the eager
                model runs instead, for its own errors and NaNs).
        """
        weights = [p.data for p in self.params]
        if self.grouped is not None:
            _, out = self.grouped.forward(weights, rows)
            if not _numpy().isfinite(out).all():
                raise ValueError("not finite: run eagerly")
            return [_as_output(o if self.listed else o[0]) for o in out.tolist()]
        function = self.program.array_function() if _numpy() is not None else None
        if function is None or len(rows) < ARRAY_MIN_ROWS:
            return [_as_output(self.program.run(weights, row)[0][1]) for row in rows]
        found: list[Output] = []
        for start in range(0, len(rows), ARRAY_CHUNK):
            found += self._columns(function, weights, rows[start : start + ARRAY_CHUNK])
        return found

    def _columns(
        self, function: Callable[..., Any], weights: list[float], rows: Sequence[Sequence[float]]
    ) -> list[Output]:
        """The rows in one call over NumPy columns; on floats again, row by row, if a number
        comes out NaN or infinite, so that errors and NaNs are exactly the eager engine's."""
        np = _numpy()
        table = np.asarray(rows, dtype=float)
        with np.errstate(all="ignore"):
            (_, out), _ = function(weights, list(table.T))
        scores = [
            np.broadcast_to(o, (len(rows),)) for o in (out if isinstance(out, list) else [out])
        ]
        if not all(np.all(np.isfinite(column)) for column in scores):
            return [_as_output(self.program.run(weights, row)[0][1]) for row in rows]
        per_row = np.stack(scores, axis=1).tolist()
        return [_as_output(o if isinstance(out, list) else o[0]) for o in per_row]


def _compiled_outputs(model: Module, rows: Sequence[Sequence[float]]) -> list[Output] | None:
    """``model``'s outputs for ``rows`` from generated code (the model in eval mode), or None
    where the eager model should run instead: rows of different lengths, a model that cannot
    be traced, or fewer than ``TRACE_MIN_ROWS`` rows and nothing compiled yet."""
    if not rows or any(len(row) != len(rows[0]) for row in rows):
        return None
    width = len(rows[0])
    forward: _CompiledForward | None = _cache_of(model).get("forward")
    usable = forward is not None and forward.width == width and _unchanged(model, forward)
    if not usable and len(rows) < TRACE_MIN_ROWS:
        return None  # fewer rows than tracing costs
    if forward is None or not usable:
        try:
            forward = _CompiledForward(model, rows[0])
        except Exception:  # any failure: the eager model runs (and raises its own error)
            return None
        forward.shape = _structure_of(model)
        _cache_of(model)["forward"] = forward
    try:
        return forward.outputs(rows)
    except (TypeError, ValueError):  # a cell that is not a number, a domain error: the
        return None  # eager model runs and raises its own error, word for word


def _compiled_scores(
    model: object, objective: Objective, rows: Sequence[Sequence[float]], targets: list[float]
) -> tuple[float, float | None] | None:
    """``evaluate``'s ``(mean loss, accuracy)`` from generated code (the model in eval
    mode), or None where the eager model should run instead: a model that is not a Module,
    a loss of one's own, rows of different lengths, anything that fails compiled, or fewer
    than ``TRACE_MIN_ROWS`` rows and nothing compiled yet. The runner is the one ``fit``
    uses for this objective."""
    if not isinstance(model, Module) or not objective.separable:
        return None
    if any(len(row) != len(rows[0]) for row in rows):
        return None
    runner: LossRunner | None = _cache_of(model).get(objective)
    usable = runner is not None and _unchanged(model, runner)
    if not usable and len(rows) < TRACE_MIN_ROWS:
        return None  # fewer rows than tracing costs
    if runner is None or not usable:
        runner = RUNNER(model, objective)
        runner.shape = _structure_of(model)
    try:
        scores = runner.evaluate(rows, targets)
    except Exception:  # not traceable, or an error: the eager model runs and raises its own
        return None
    _cache_of(model)[objective] = runner
    return scores


TRACE_MIN_ROWS = 256
"""``predict`` and ``evaluate`` trace a model (once: later calls reuse the program) when
given this many rows or more; fewer rows run eagerly, which is cheaper than tracing."""


def _cache_of(model: Module) -> dict[Any, Any]:
    """What was compiled for ``model`` (a new dict, kept with the model, the first time;
    a throwaway one for a model that cannot be a dictionary key)."""
    try:
        return _compiled_before.setdefault(model, {})
    except TypeError:  # a Module defining __eq__ without __hash__
        return {}


def _unchanged(model: Module, runner: Any) -> bool:
    """Whether ``runner`` was traced from the model as it is now: the same parameters in the
    same order, and the same :func:`_structure_of` (constants, settings, submodule types)."""
    return bool(runner.params == model.parameters() and runner.shape == _structure_of(model))


def _cached(model: Module, key: Any, make: Callable[[], LossRunner]) -> LossRunner:
    """The runner compiled for ``model`` under ``key``, or a new one if the model changed."""
    runner = _cache_of(model).get(key)
    if runner is None or not _unchanged(model, runner):
        runner = make()
        runner.shape = _structure_of(model)
    return runner


def _structure_of(model: Module) -> tuple[Any, ...]:
    """What traced code depends on besides the parameters' values, as a comparable key.

    Walking the model's attributes (and lists, tuples, dicts and plain objects inside them):
    the type of every object (a swapped activation module), every number, string or flag,
    the value of every Value that is not a parameter (a frozen weight or a buffer is a
    constant in the traced code), which objects are shared (tied weights); anything else
    (a function, say) by identity, with the values its closure holds.
    """
    params = {id(p) for p in model.parameters()}
    found: list[Any] = []
    seen: dict[int, str] = {}
    stack: list[tuple[str, Any]] = [("", model)]
    while stack:
        path, item = stack.pop()
        if id(item) in seen:
            found.append((path, "is", seen[id(item)]))
            continue
        seen[id(item)] = path
        found.append((path, type(item), *_leaf_key(item)))
        where, parts = _parts(item)
        for key, part in parts:
            if isinstance(part, Value):
                if id(part) not in params:
                    found.append((path + where.format(key), part.data.hex(), part.requires_grad))
            elif isinstance(part, _SCALARS):
                number = part.hex() if isinstance(part, float) else part
                found.append((path + where.format(key), type(part), number))
            else:
                stack.append((path + where.format(key), part))
    return tuple(found)


_SCALARS = (str, bytes, bool, int, float, complex, type(None))


def _leaf_key(item: Any) -> tuple[Any, ...]:
    """How an object that is not walked into is told apart: an array by its bytes, a
    function or anything opaque by identity; nothing for what :func:`_parts` walks."""
    if isinstance(item, (Module, list, tuple, dict)) or _plain(item):
        return ()
    if hasattr(item, "tobytes") and hasattr(item, "dtype"):  # a NumPy array or scalar
        return (str(item.dtype), getattr(item, "shape", ()), item.tobytes())
    return (id(item),)


def _plain(item: Any) -> bool:
    """An object of a class of one's own holding settings (walked through its ``vars``)."""
    return hasattr(item, "__dict__") and not callable(item) and not isinstance(item, type)


def _parts(item: Any) -> tuple[str, Iterable[tuple[Any, Any]]]:
    """What :func:`_structure_of` walks into inside ``item``: ``(key, part)`` pairs, and the
    format that turns a key into the next step of a path."""
    if isinstance(item, (list, tuple)):
        return "[{}]", enumerate(item)
    if isinstance(item, dict):
        return "[{!r}]", item.items()
    if isinstance(item, Module) or _plain(item):
        return ".{}", ((k, v) for k, v in vars(item).items() if k != "training")
    cells = []
    for cell in getattr(item, "__closure__", None) or ():
        with contextlib.suppress(ValueError):  # an empty cell
            cells.append(cell.cell_contents)
    bound = [getattr(item, "__self__", None)] if hasattr(item, "__func__") else []
    return "<{}>", enumerate([*cells, *(getattr(item, "__defaults__", None) or ()), *bound])


_compiled_before: weakref.WeakKeyDictionary[Module, dict[Any, Any]] = weakref.WeakKeyDictionary()
"""What was compiled for each model (by objective for ``fit``, ``"forward"`` for
``predict``), so that calling ``fit`` again (one epoch at a time, say) traces nothing new.
The runners hold their model weakly, so an entry goes with its model."""
