"""Compiled training's runner: a model's per-example loss and its gradient as generated code.

``fit`` asks :func:`_compiled` for a runner; a runner is one object with ``batch(rows,
targets)`` (sets each parameter's ``grad`` to the batch's mean gradient) and
``evaluate(rows, targets)`` (the mean loss and accuracy), so another runner can stand in.

>>> from autograd_lite import nn
>>> from autograd_lite.losses import get_objective
>>> runner = _CompiledLoss(nn.Linear(1, 1, seed=0), get_objective("mse"))
>>> loss, accuracy = runner.evaluate([[1.0], [2.0]], [0.0, 0.0])
>>> accuracy is None
True
"""

from __future__ import annotations

import math
import operator
import warnings
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from .compiler import Generated, TraceError, trace_gradient
from .engine import Value
from .losses import Objective, Output
from .nn import Module

ARRAY_MIN_ROWS = 64
"""With NumPy installed, compiled training runs a batch of at least this many rows as
columns (one call of the generated code per ``ARRAY_CHUNK`` rows) instead of row by row."""
ARRAY_CHUNK = 4096


class _CompiledLoss:
    """The per-example loss of a model (and its gradient in the parameters) as generated code.

    One program is traced per target value for classification (the label is a constant
    there: cross-entropy picks a score by it) and one for regression (the target is an
    input); and one with the gradient for training, one without for scoring. Rows run one
    by one on floats, or ``ARRAY_CHUNK`` at a time over NumPy columns.
    """

    def __init__(self, model: Module, objective: Objective) -> None:
        self.model, self.objective = model, objective
        self.params = model.parameters()
        self.programs: dict[tuple[float | None, bool, bool], Generated] = {}
        self.shape: tuple[Any, ...] = ()  # the model's settings when traced (_structure_of)

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
) -> tuple[_CompiledLoss | None, _CompiledLoss | None]:
    """The compiled per-example loss for training and for scoring (eval mode, traced only
    when ``scoring``); None for what runs eagerly: everything with ``compile=False`` or a loss
    of one's own (not separable), and under ``"auto"`` what cannot be traced, which is said
    once. Everything is traced before training starts."""
    if mode is False or not objective.separable:
        if mode is True:
            raise ValueError(
                "compile=True needs a named loss (a loss of one's own trains eagerly): "
                "pass compile=False or 'auto'"
            )
        return None, None
    shape = _structure_of(model)
    compiled = _compiled_before.get(model, {}).get(objective)
    if compiled is None or compiled.shape != shape or compiled.params != model.parameters():
        compiled = _CompiledLoss(model, objective)  # new, or the model changed since
        compiled.shape = shape
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
        warnings.warn(f"fit {what}: the model cannot be compiled ({failure})", stacklevel=3)
    if any(works):
        _compiled_before.setdefault(model, {})[objective] = compiled
    train = compiled if works[0] else None
    return train, (compiled if scoring and works[-1] else None)


def _structure_of(model: Module) -> tuple[Any, ...]:
    """What traced code depends on besides the weights: every setting (a number, string or
    flag, not a parameter) of the model and its submodules, found by walking attributes."""
    found: list[Any] = []
    stack: list[tuple[str, Any]] = [("", model)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, Module):
            stack.extend((f"{path}.{k}", v) for k, v in vars(item).items() if k != "training")
        elif isinstance(item, (list, tuple)):
            stack.extend((f"{path}.{i}", v) for i, v in enumerate(item))
        elif isinstance(item, (str, int, float, type(None))):
            found.append((path, item))
        elif not isinstance(item, Value):
            found.append((path, type(item).__name__, id(item)))  # anything else: by identity
    return tuple(found)


_compiled_before: weakref.WeakKeyDictionary[Module, dict[Objective, _CompiledLoss]] = (
    weakref.WeakKeyDictionary()
)
"""What ``fit`` compiled for a model, so that calling ``fit`` again (one epoch at a time,
say) traces nothing new. Forgotten with the model."""
