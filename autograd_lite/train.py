"""The training loop: ``fit`` runs epochs of (mini-)batch gradient descent and returns a History.

>>> from autograd_lite import data, nn, optim
>>> X, y = data.make_xor(40, seed=0)
>>> model = nn.MLP(2, [8, 1], seed=0)
>>> history = fit(model, X, y, loss="bce", optimizer=optim.Adam(model.parameters(), lr=0.05),
...               epochs=60, progress=False)
>>> history.accuracy[-1]
1.0
"""

from __future__ import annotations

import contextlib
import html
import importlib
import math
import operator
import sys
import time
import warnings
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .compiler import Generated, TraceError, trace_gradient
from .engine import Value, no_grad
from .grad_mode import gc_paused
from .losses import LossFunction, Objective, Output, choose_loss, get_objective, one_score
from .nn import Module, clip_grad_norm_
from .optim import Adam, Optimizer
from .optim.lr_scheduler import LRScheduler
from .seeding import generator

__all__ = ["Callback", "History", "evaluate", "fit", "layer_parameters", "predict"]

Callback = Callable[[int, dict[str, float]], "bool | None"]
"""``callback(epoch, numbers)``, called by ``fit`` after each epoch: ``epoch`` counts from 1,
``numbers`` is :meth:`History.last` (``loss``, and ``accuracy``, ``val_loss``,
``val_accuracy`` when recorded). Returning ``False`` stops training (``None``, ``True``:
carry on)."""


@dataclass
class History:
    """What happened in each epoch; ``accuracy`` lists stay empty for regression (``mse``).

    ``gradient_norms`` (filled by ``fit(..., track_gradients=True)``) maps each layer's name
    (see :func:`layer_parameters`) to its gradient's L2 norm per epoch: the mean over the
    epoch's batches, taken after ``backward`` and before clipping. ``stopped_by`` says what
    ended training before ``epochs``: ``"early_stopping"``, ``"callback"``, or None.
    """

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    best_epoch: int = 0  # 1-based; the epoch whose weights the model ends with
    stopped_early: bool = False  # by early stopping or by a callback (see stopped_by)
    stopped_by: Literal["early_stopping", "callback"] | None = None
    gradient_norms: dict[str, list[float]] = field(default_factory=dict)

    @property
    def epochs(self) -> int:
        return len(self.loss)

    def record(
        self,
        loss: float,
        accuracy: float | None = None,
        val_loss: float | None = None,
        val_accuracy: float | None = None,
    ) -> None:
        """Add one epoch's numbers; None (no labels, no validation) records nothing there."""
        self.loss.append(loss)
        if accuracy is not None:
            self.accuracy.append(accuracy)
        if val_loss is not None:
            self.val_loss.append(val_loss)
        if val_accuracy is not None:
            self.val_accuracy.append(val_accuracy)

    def last(self) -> dict[str, float]:
        """The latest number of each recorded series, by field name, for printing.

        >>> history = History()
        >>> history.record(0.5, accuracy=0.75)
        >>> history.last()
        {'loss': 0.5, 'accuracy': 0.75}
        """
        series = {
            "loss": self.loss,
            "accuracy": self.accuracy,
            "val_loss": self.val_loss,
            "val_accuracy": self.val_accuracy,
        }
        return {name: values[-1] for name, values in series.items() if values}


def _check_data(
    X: Sequence[Sequence[float]], y: Sequence[float], objective: Objective, name: str
) -> list[float]:
    if len(X) != len(y):
        raise ValueError(f"{name}: {len(X)} rows but {len(y)} labels")
    if not X:
        raise ValueError(f"{name}: no examples")
    width = len(X[0])
    for i, row in enumerate(X):
        if len(row) != width:
            raise ValueError(f"{name}: row {i} has {len(row)} values, row 0 has {width}")
    targets = [float(t) for t in y]
    bad = [t for t in targets if not objective.check_target(t)]
    if bad:
        raise ValueError(f"{name}: this loss wants {objective.targets}, got {bad[0]!r}")
    return targets


def _hits(objective: Objective, outputs: list[Output], targets: list[float]) -> int:
    """How many outputs predict their target (0 for regression, which has no labels)."""
    if objective.decide is None:
        return 0
    decide = objective.decide
    return sum(decide(o) == t for o, t in zip(outputs, targets, strict=True))


def layer_parameters(model: Module) -> dict[str, list[Value]]:
    """The parameters of each layer of ``model``, by name, for ``fit(track_gradients=True)``.

    A layer is a direct submodule that has parameters (:meth:`~autograd_lite.nn.Module.
    named_children`): ``layers.0``, ``layers.1``, … of an MLP, ``0``, ``2``, … of a
    Sequential. Parameters outside them are one more layer, named ``other``; a model without
    such submodules (a Linear, a Neuron) is one layer, named after its class.

    >>> from autograd_lite import nn
    >>> {name: len(ps) for name, ps in layer_parameters(nn.MLP(2, [3, 1], seed=0)).items()}
    {'layers.0': 9, 'layers.1': 4}
    """
    groups = {name: child.parameters() for name, child in model.named_children()}
    groups = {name: params for name, params in groups.items() if params}
    inside = {p for params in groups.values() for p in params}
    rest = [p for p in model.parameters() if p not in inside]
    if rest:
        groups["other" if groups else type(model).__name__] = rest
    return groups


@contextlib.contextmanager
def _evaluating(model: object) -> Iterator[None]:
    """The model in eval mode (dropout off) while inside, its own modes back after."""
    if not isinstance(model, Module):
        yield
        return
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training


def evaluate(
    model: Callable[[Sequence[float]], Output],
    X: Sequence[Sequence[float]],
    y: Sequence[float],
    *,
    loss: str | Objective | LossFunction | None = None,
) -> tuple[float, float | None]:
    """``(mean loss, accuracy)`` of ``model`` on ``(X, y)``, without building a graph, with
    the model in eval mode (no dropout; its modes are put back after).

    ``loss`` as in :func:`fit` (None: chosen from ``y`` by ``losses.choose_loss``). Accuracy
    is None for regression losses and losses of one's own.
    """
    objective = get_objective(loss if loss is not None else _chosen(y))
    targets = _check_data(X, y, objective, "evaluate")
    with no_grad(), _evaluating(model):
        outputs = [model(row) for row in X]
        loss_value = objective.loss(outputs, targets).data
    if objective.decide is None:
        return loss_value, None
    return loss_value, _hits(objective, outputs, targets) / len(targets)


def predict(
    model: Callable[[Sequence[float]], Output],
    X: Sequence[Sequence[float]],
    *,
    loss: str | Objective = "mse",
) -> list[float]:
    """The label each row gets (the raw output for regression), without building a graph,
    with the model in eval mode (no dropout; its modes are put back after)."""
    objective = get_objective(loss)
    with no_grad(), _evaluating(model):
        outputs = [model(row) for row in X]
    if objective.decide is None:
        return [one_score(o).data for o in outputs]
    return [objective.decide(o) for o in outputs]


def _chosen(y: Sequence[float]) -> str:
    """The loss ``losses.choose_loss`` picks for labels ``y`` (numbers checked later)."""
    try:
        return choose_loss([float(t) for t in y])
    except (TypeError, ValueError):
        return "mse"  # not numbers: the loss's own check says what is wrong


def _in_notebook() -> bool:
    """Whether this runs in a Jupyter kernel (where text bars print frame after frame)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return type(shell).__name__ == "ZMQInteractiveShell"


class _NotebookBar:
    """In Jupyter: one HTML progress bar, updated in place (at most ten times a second)."""

    def __init__(self, total: int, unit: str) -> None:
        display = importlib.import_module("IPython.display").display  # inside Jupyter only
        self.total, self.unit, self.done, self.numbers = total, unit, 0, ""
        self.start = self.shown = time.perf_counter()
        self.handle = display(self._bundle(), raw=True, display_id=True)

    def update(self, n: int = 1) -> None:
        self.done += n
        self._show()

    def set_postfix(self, numbers: dict[str, str], refresh: bool = True) -> None:
        self.numbers = "  ".join(f"{k} {v}" for k, v in numbers.items())
        self._show()

    def _show(self, force: bool = False) -> None:
        now = time.perf_counter()
        if force or now - self.shown >= 0.1 or self.done >= self.total:
            self.shown = now
            self.handle.update(self._bundle(), raw=True)

    def _bundle(self) -> dict[str, str]:
        elapsed = time.perf_counter() - self.start
        text = f"fit {self.done}/{self.total} {self.unit}  {self.numbers}  ({elapsed:.1f} s)"
        bar = f'<progress value="{self.done}" max="{self.total}" style="width:30%"></progress>'
        return {"text/plain": text, "text/html": f"<code>{bar} {html.escape(text)}</code>"}

    def close(self) -> None:
        self._show(force=True)


class _Progress:
    """A tqdm bar when tqdm is installed, else a plain line to stderr every tenth of the run;
    in a Jupyter notebook, one HTML bar updated in place (no tqdm needed).

    The bar counts epochs; when an epoch is long (``LONG_EPOCH`` examples or more) it
    counts examples instead, so it moves, with an ETA, within the first epoch too.
    """

    LONG_EPOCH = 10_000

    def __init__(self, epochs: int, examples: int, enabled: bool) -> None:
        self.epochs, self.enabled = epochs, enabled
        self.bar: Any = None
        self.per_example = examples >= self.LONG_EPOCH
        if enabled and _in_notebook():
            total = epochs * examples if self.per_example else epochs
            self.bar = _NotebookBar(total, "examples" if self.per_example else "epochs")
        elif enabled:
            try:
                from tqdm import tqdm  # the text bar, for terminals
            except ImportError:
                return
            if self.per_example:
                self.bar = tqdm(
                    total=epochs * examples, unit="ex", unit_scale=True, desc="fit", leave=True
                )
            else:
                self.bar = tqdm(total=epochs, unit="epoch", desc="fit", leave=True)

    def advance(self, examples: int) -> None:
        """``examples`` more were trained on (moves the bar of a long epoch)."""
        if self.bar is not None and self.per_example:
            self.bar.update(examples)

    def update(self, epoch: int, numbers: dict[str, float]) -> None:
        if not self.enabled:
            return
        shown = {k: f"{v:.4f}" for k, v in numbers.items()}
        if self.bar is not None:
            self.bar.set_postfix(shown, refresh=self.per_example)
            if not self.per_example:
                self.bar.update(1)
        elif epoch == 1 or epoch % max(1, self.epochs // 10) == 0 or epoch == self.epochs:
            text = "  ".join(f"{k} {v}" for k, v in shown.items())
            print(f"epoch {epoch}/{self.epochs}  {text}", file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


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


def fit(
    model: Module,
    X: Sequence[Sequence[float]],
    y: Sequence[float],
    *,
    loss: str | Objective | LossFunction | None = None,
    optimizer: Optimizer | None = None,
    scheduler: LRScheduler | None = None,
    epochs: int = 100,
    batch_size: int | None = None,
    validation: tuple[Sequence[Sequence[float]], Sequence[float]] | None = None,
    early_stopping: int | None = None,
    progress: bool = True,
    seed: int | None = None,
    compile: bool | str = "auto",  # shadows the built-in on purpose: the name users know
    callbacks: Callback | Sequence[Callback] | None = None,
    track_gradients: bool = False,
    clip_grad_norm: float | None = None,
) -> History:
    """Train ``model`` on ``(X, y)`` and return the per-epoch :class:`History`.

    ``loss`` is a name in ``losses.OBJECTIVES`` (``"bce"``, ``"cross_entropy"``, ``"hinge"``,
    ``"mse"``), or a function of one's own, ``loss(outputs, targets) -> Value``, given the
    batch's model outputs and targets (floats) and returning their mean loss; such a loss
    trains eagerly (compiled code traces one example, which only a named loss promises to
    average) and records no accuracy. None (the default) picks the loss from ``y`` with
    ``losses.choose_loss``: labels 0/1 → ``"bce"``, 0…k-1 → ``"cross_entropy"``, else
    ``"mse"``.

    Each epoch shuffles the rows (with ``seed``: an int, or None for the library's global
    generator, which ``ag.manual_seed`` resets), and for each batch of ``batch_size`` rows
    (all of them when None) computes the mean ``loss``, back-propagates and takes an
    ``optimizer`` step (default ``Adam(lr=0.01)``). Training loss and accuracy are measured on
    the batches as they are trained on; ``validation=(X_val, y_val)`` is scored after each epoch.
    ``scheduler`` (from :mod:`autograd_lite.optim.lr_scheduler`, built on the ``optimizer``
    passed) steps once per epoch, after the epoch's optimizer steps and its validation, as in
    PyTorch's loop: epoch 1 trains at the optimizer's rates, epoch k at the schedule's k-1.
    ``early_stopping=N`` stops once the validation loss (training loss without validation) has
    not improved for N epochs, and puts back the weights of the best epoch. ``progress`` shows
    a tqdm bar (a line per tenth of the run without tqdm); ``progress=False`` prints nothing.

    ``compile=True`` traces the per-example loss and its gradient once
    (:func:`autograd_lite.compile`) and runs every batch as generated code, over NumPy
    columns when NumPy is installed and a batch has ``ARRAY_MIN_ROWS`` rows or more;
    no graph is kept, so memory does not grow with the batch. ``"auto"`` (the default)
    does so when the model can be traced and trains eagerly otherwise, saying why once;
    ``False`` always trains eagerly. Both give the same history (to rounding). A model
    that cannot be traced in training mode but can in eval mode (one with
    :class:`~autograd_lite.nn.Dropout`) trains eagerly and is scored compiled.

    ``callbacks`` (one or a list) are called after each epoch as ``callback(epoch, numbers)``
    (see :data:`Callback`); one returning ``False`` stops training, recorded as
    ``history.stopped_by == "callback"``. ``track_gradients=True`` records each layer's
    gradient norm per epoch in ``history.gradient_norms`` (see :func:`layer_parameters`;
    ``plots.plot_gradient_norms`` draws them). ``clip_grad_norm=c`` rescales the gradient
    after each backward pass, before the optimizer step, so that its total L2 norm is at most
    ``c`` (:func:`~autograd_lite.nn.clip_grad_norm_`), compiled or eager.

    Raises ``ValueError`` naming the learning rate if the loss or a weight stops being a
    finite number (training diverged); the model is then left with its best epoch's weights.
    """
    objective = get_objective(loss if loss is not None else _chosen(y))
    targets = _check_data(X, y, objective, "fit")
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"batch_size must be a positive int or None, got {batch_size!r}")
    if early_stopping is not None and (not isinstance(early_stopping, int) or early_stopping < 1):
        raise ValueError(f"early_stopping must be a positive int or None, got {early_stopping!r}")
    X_val, y_val = validation or ([], [])
    if validation is not None:
        _check_data(X_val, y_val, objective, "validation")
    if compile not in (True, False, "auto"):
        raise ValueError(f'compile must be True, False or "auto", got {compile!r}')
    if scheduler is not None and not isinstance(scheduler, LRScheduler):
        raise TypeError(f"scheduler must be an lr_scheduler, got {type(scheduler).__name__}")
    if scheduler is not None and (optimizer is None or scheduler.optimizer is not optimizer):
        raise ValueError("scheduler must be built on the optimizer passed as optimizer=")
    if clip_grad_norm is not None and (
        isinstance(clip_grad_norm, bool)
        or not isinstance(clip_grad_norm, (int, float))
        or not clip_grad_norm > 0
    ):
        raise ValueError(
            f"clip_grad_norm must be a positive number or None, got {clip_grad_norm!r}"
        )
    hooks = [callbacks] if callable(callbacks) else list(callbacks or [])
    for hook in hooks:
        if not callable(hook):
            raise TypeError(f"callbacks must be callables, got {type(hook).__name__}")
    if optimizer is None:
        optimizer = Adam(model.parameters(), lr=0.01)
    rng, order = generator(seed), list(range(len(X)))
    size = batch_size or len(X)
    history, best_loss, best_state = History(), math.inf, model.state_dict()
    params, layers = model.parameters(), layer_parameters(model) if track_gradients else {}
    model.train()
    compiled, scorer = _compiled(
        model, objective, X[0], targets[0], compile, validation is not None
    )
    bar = _Progress(epochs, len(X), progress)
    try:
        for epoch in range(1, epochs + 1):
            rng.shuffle(order)
            total, hits = 0.0, 0
            norms = dict.fromkeys(layers, 0.0)
            for start in range(0, len(order), size):
                batch = order[start : start + size]
                batch_targets = [targets[i] for i in batch]
                optimizer.zero_grad()
                if compiled is not None:
                    loss_sum, batch_hits = compiled.batch([X[i] for i in batch], batch_targets)
                else:
                    with gc_paused():  # the batch's graph is large, acyclic and soon freed
                        batch_outputs = [model(X[i]) for i in batch]
                        batch_loss = objective.loss(batch_outputs, batch_targets)
                        batch_loss.backward()
                    loss_sum = batch_loss.data * len(batch)
                    batch_hits = _hits(objective, batch_outputs, batch_targets)  # no graph kept
                for name, group in layers.items():
                    norms[name] += math.sqrt(math.fsum(p.grad * p.grad for p in group))
                if clip_grad_norm is not None:
                    clip_grad_norm_(params, clip_grad_norm)
                optimizer.step()
                total += loss_sum
                hits += batch_hits
                bar.advance(len(batch))
            batches = math.ceil(len(order) / size)
            for name, norm in norms.items():
                history.gradient_norms.setdefault(name, []).append(norm / batches)
            accuracy = hits / len(X) if objective.decide is not None else None
            val_loss, val_accuracy = None, None
            if validation is not None:
                model.eval()
                if scorer is not None:
                    val_loss, val_accuracy = scorer.evaluate(X_val, [float(t) for t in y_val])
                else:
                    val_loss, val_accuracy = evaluate(model, X_val, y_val, loss=objective)
                model.train()
            history.record(total / len(X), accuracy, val_loss, val_accuracy)
            bar.update(epoch, history.last())
            if not math.isfinite(total) or not all(map(math.isfinite, model.state_dict().values())):
                model.load_state_dict(best_state)  # the last finite weights worth keeping
                what = (
                    f"a loss of {total / len(X)}" if not math.isfinite(total) else "inf/nan weights"
                )
                raise ValueError(
                    f"training diverged to {what} in epoch {epoch} with learning rate "
                    f"{getattr(optimizer, 'lr', '?')}; try a smaller learning rate"
                )
            if scheduler is not None:
                scheduler.step()
            watched = total / len(X) if val_loss is None else val_loss
            if watched < best_loss:
                best_loss, best_state, history.best_epoch = watched, model.state_dict(), epoch
            elif early_stopping is not None and epoch - history.best_epoch >= early_stopping:
                history.stopped_by = "early_stopping"
            numbers = history.last()
            if any([hook(epoch, dict(numbers)) is False for hook in hooks]):  # call every one
                history.stopped_by = history.stopped_by or "callback"
            if history.stopped_by is not None:
                history.stopped_early = True
                break
    finally:
        bar.close()
    if early_stopping is not None:
        model.load_state_dict(best_state)
    else:
        history.best_epoch = history.epochs
    return history


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
