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
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ._compiled_loss import (
    LossRunner,
    _compiled,
    _compiled_outputs,
    _compiled_scores,
    _GroupedLoss,
    _numpy,
    eager_batch,
    eager_scores,
)
from ._progress import Progress
from .engine import Value
from .grad_mode import no_grad
from .losses import LossFunction, Objective, Output, choose_loss, get_objective, one_score
from .nn import Module, clip_grad_norm_
from .optim import Adam, Optimizer
from .optim.lr_scheduler import LRScheduler
from .optim.packed import Packed, _steps_packed
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
    ``program_source`` is the code of the grouped program compiled training ran (one
    matrix product per layer, forward and backward; see ``fit``), None when it ran another way.
    """

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    best_epoch: int = 0  # 1-based; the epoch whose weights the model ends with
    stopped_early: bool = False  # by early stopping or by a callback (see stopped_by)
    stopped_by: Literal["early_stopping", "callback"] | None = None
    gradient_norms: dict[str, list[float]] = field(default_factory=dict)
    program_source: str | None = None  # the grouped training program fit ran, if it ran one

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
        """Add one epoch's numbers; None (no labels, no validation) records nothing there.

        Args:
            loss: The epoch's training loss.
            accuracy: The training accuracy, or None.
            val_loss: The validation loss, or None.
            val_accuracy: The validation accuracy, or None.
        """
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


def layer_parameters(model: Module) -> dict[str, list[Value]]:
    """The parameters of each layer of ``model``, by name, for ``fit(track_gradients=True)``.

    A layer is a direct submodule that has parameters (:meth:`~autograd_lite.nn.Module.
    named_children`): ``layers.0``, ``layers.1``, … of an MLP, ``0``, ``2``, … of a
    Sequential. Parameters outside them are one more layer, named ``other``; a model without
    such submodules (a Linear, a Neuron) is one layer, named after its class.

    Args:
        model: The model.

    Returns:
        Each layer's parameters by the layer's name.

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
    """The mean loss and the accuracy of ``model`` on ``(X, y)``, without building a graph.

    The model runs in eval mode (no dropout); its modes are put back after. As in
    :func:`predict`, a :class:`~autograd_lite.nn.Module` given 256 rows or more runs as
    generated code (traced once, kept with the model), eagerly if it cannot be traced.

    Args:
        model: a model (or any function of one row giving a Value or a list of them).
        X: the rows, a list of lists of numbers or a 2-D NumPy array.
        y: one target per row, a list or a 1-D NumPy array.
        loss: as in :func:`fit`; None chooses it from ``y`` (``losses.choose_loss``).

    Returns:
        ``(mean loss, accuracy)``; accuracy is None for regression losses and losses of
        one's own.

    Raises:
        ValueError: rows and targets differ in number, rows differ in length, or a target
            is not one the loss accepts.

    >>> from autograd_lite import nn
    >>> loss, accuracy = evaluate(nn.Linear(2, 1, seed=0), [[0.0, 1.0], [1.0, 0.0]], [0, 1])
    >>> accuracy in (0.0, 0.5, 1.0)
    True
    """
    X, y = _listed(X), _listed(y)
    objective = get_objective(loss if loss is not None else _chosen(y))
    targets = _check_data(X, y, objective, "evaluate")
    return _scores(model, X, targets, objective, compiled=True)


def _scores(
    model: Callable[[Sequence[float]], Output],
    rows: Sequence[Sequence[float]],
    targets: list[float],
    objective: Objective,
    compiled: bool,
) -> tuple[float, float | None]:
    """``(mean loss, accuracy)`` of checked rows in eval mode: from generated code when
    ``compiled`` and the model can be traced, else eagerly without a graph."""
    with _evaluating(model):
        found = _compiled_scores(model, objective, rows, targets) if compiled else None
        if found is not None:
            return found
        return eager_scores(model, objective, rows, targets)


def predict(
    model: Callable[[Sequence[float]], Output],
    X: Sequence[Sequence[float]],
    *,
    loss: str | Objective = "mse",
) -> list[float]:
    """The label each row gets (the raw output for regression), without building a graph.

    The model runs in eval mode (no dropout); its modes are put back after. A
    :class:`~autograd_lite.nn.Module` given 256 rows or more (``TRACE_MIN_ROWS``) is traced
    once and runs as generated code, over NumPy columns when NumPy is installed; the program
    is kept with the model for later calls (and traced again if the model changes). A model
    that cannot be traced runs eagerly; both give the same numbers.

    Args:
        model: a model (or any function of one row giving a Value or a list of them).
        X: the rows, a list of lists of numbers or a 2-D NumPy array.
        loss: the name (or :class:`~autograd_lite.losses.Objective`) whose decision rule
            turns an output into a label; ``"mse"`` (the default) gives the raw outputs.

    Returns:
        One label (or number) per row, as floats.

    >>> from autograd_lite import nn
    >>> labels = predict(nn.Linear(2, 1, seed=0), [[0.0, 1.0], [1.0, 0.0]] * 150, loss="bce")
    >>> len(labels), set(labels) <= {0.0, 1.0}
    (300, True)
    """
    objective, rows = get_objective(loss), _listed(X)
    with _evaluating(model):
        outputs = _compiled_outputs(model, rows) if isinstance(model, Module) else None
        if outputs is None:
            with no_grad():
                outputs = [model(row) for row in rows]
    if objective.decide is None:
        return [one_score(o).data for o in outputs]
    return [objective.decide(o) for o in outputs]


def _listed(data: Any) -> Any:
    """A NumPy array (or a pandas frame or series) as nested lists of Python numbers, made
    once where data comes in; lists, tuples and other sequences pass through."""
    if hasattr(data, "to_numpy"):
        data = data.to_numpy()
    return data.tolist() if hasattr(data, "tolist") else data


def _chosen(y: Sequence[float]) -> str:
    """The loss ``losses.choose_loss`` picks for labels ``y`` (numbers checked later)."""
    try:
        return choose_loss([float(t) for t in y])
    except (TypeError, ValueError):
        return "mse"  # not numbers: the loss's own check says what is wrong


# long: fit's docstring is its manual (the API docs render it); its code is the short loop
# below, under 40 lines: each part is a function of its own.
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

    Each epoch shuffles the rows and, for each batch, computes the mean loss, back-propagates
    and takes an optimizer step. Training loss and accuracy are measured on the batches as
    they are trained on; the validation rows are scored after each epoch. ``compile="auto"``
    (the default) traces the per-example loss and its gradient once
    (:func:`autograd_lite.compile`) and runs every batch as generated code; no graph is
    kept, so memory does not grow with the batch. With NumPy installed the traced example is
    grouped (:func:`autograd_lite.compiler.vectorize.vectorize_loss`): each layer's scalar
    neurons become one matrix product, forward and backward, and one program serves every
    class. The parameters and the optimizer's state then live in arrays while the epochs run
    (``optimizer.packed``), and the Values, their ``grad`` (the last batch's, as eager
    training leaves it) and ``optimizer.state`` are written back before each callback, for
    early stopping and at the end (also on an exception). ``history.program_source`` holds
    the grouped program's code. What does not group, an optimizer of one's own and NumPy
    missing run the scalar generated code instead, row by row or over NumPy columns for
    batches of 64 rows or more (``ARRAY_MIN_ROWS``). A model that cannot be traced trains
    eagerly, with a warning saying why; one that can be traced only in eval mode (one with
    :class:`~autograd_lite.nn.Dropout`) trains eagerly and is scored compiled. Compiled and
    eager training give the same history, weights and optimizer state (to rounding).

    Args:
        model: the :class:`~autograd_lite.nn.Module` to train, in place.
        X: the rows, a list of lists of numbers or a 2-D NumPy array.
        y: one target per row, a list or a 1-D NumPy array.
        loss: a name in ``losses.OBJECTIVES`` (``"bce"``, ``"cross_entropy"``, ``"hinge"``,
            ``"mse"``), or a function of one's own, ``loss(outputs, targets) -> Value``,
            given a batch's model outputs and targets (floats) and returning their mean loss;
            such a loss trains eagerly (compiled code traces one example, which only a named
            loss promises to average) and records no accuracy. None picks the loss from
            ``y`` with ``losses.choose_loss``: labels 0/1 → ``"bce"``, 0…k-1 →
            ``"cross_entropy"``, else ``"mse"``.
        optimizer: steps once per batch; ``Adam(model.parameters(), lr=0.01)`` when None.
        scheduler: from :mod:`autograd_lite.optim.lr_scheduler`, built on ``optimizer``;
            steps once per epoch, after the epoch's optimizer steps and its validation, as in
            PyTorch's loop: epoch 1 trains at the optimizer's rates, epoch k at the
            schedule's k-1.
        epochs: how many passes over the rows.
        batch_size: rows per optimizer step; None takes all of them.
        validation: ``(X_val, y_val)``, scored after each epoch in eval mode.
        early_stopping: stop once the validation loss (the training loss without
            validation) has not improved for this many epochs, and put back the weights of
            the best epoch.
        progress: show a bar (an HTML bar in Jupyter, tqdm in a terminal, a line per tenth
            of the run without tqdm); False prints nothing.
        seed: shuffles the rows: an int, or None for the library's global generator, which
            ``ag.manual_seed`` resets.
        compile: ``"auto"``, True (raise :class:`~autograd_lite.TraceError` if the model
            cannot be traced) or False (always train eagerly).
        callbacks: one or a list of ``callback(epoch, numbers)`` (see :data:`Callback`),
            called after each epoch; one returning False stops training, recorded as
            ``history.stopped_by == "callback"``. A callback may change weights, learning
            rates or load an optimizer state; in compiled training a buffer edited in place
            inside ``optimizer.state`` is not read back.
        track_gradients: record each layer's gradient norm per epoch in
            ``history.gradient_norms`` (see :func:`layer_parameters`;
            ``plots.plot_gradient_norms`` draws them).
        clip_grad_norm: after each backward pass, before the optimizer step, rescale the
            gradient so that its total L2 norm is at most this
            (:func:`~autograd_lite.nn.clip_grad_norm_`), compiled or eager.

    Returns:
        The :class:`History` of the epochs trained.

    Raises:
        ValueError: a bad argument or bad data (before anything is trained); or training
            diverged: the loss or a weight stopped being a finite number (the message names
            the learning rate; the model is left with its best epoch's weights).
        TypeError: a scheduler that is not one, or a callback that cannot be called.
    """
    settings = _checked_settings(
        X, y, loss, optimizer, scheduler, epochs, batch_size, validation, early_stopping,
        compile, callbacks, clip_grad_norm,
    )  # fmt: skip
    if optimizer is None:
        optimizer = Adam(model.parameters(), lr=0.01)
    model.train()
    training = _training(model, optimizer, settings)
    rng, order = generator(seed), list(range(len(settings.rows)))
    history, best = History(), _Best(training, settings.early_stopping)
    history.program_source = training.source
    layers = layer_parameters(model) if track_gradients else {}
    bar = Progress(settings.epochs, len(order), progress)
    try:
        for epoch in range(1, settings.epochs + 1):
            rng.shuffle(order)
            mean, accuracy, norms = training.epoch(settings, order, layers, bar)
            for name, norm in norms.items():
                history.gradient_norms.setdefault(name, []).append(norm)
            history.record(mean, accuracy, *training.score(settings))
            bar.update(epoch, history.last())
            _check_divergence(training, optimizer, best, mean, epoch)
            if scheduler is not None:
                scheduler.step()
            watched = history.val_loss[-1] if settings.validation is not None else mean
            history.stopped_by = best.update(epoch, watched)
            history.best_epoch = best.epoch
            if _callbacks_stop(training, settings.callbacks, epoch, history.last()):
                history.stopped_by = history.stopped_by or "callback"
            if history.stopped_by is not None:
                history.stopped_early = True
                break
        if settings.early_stopping is not None:
            best.restore()
        else:
            history.best_epoch = history.epochs
    finally:
        training.close()  # the Values, p.grad and the optimizer's state as eager leaves them
        bar.close()
    return history


@dataclass(frozen=True)
class _Settings:
    """``fit``'s arguments once checked: the data, the loss, and how to loop."""

    objective: Objective
    rows: Sequence[Sequence[float]]
    targets: list[float]
    epochs: int
    batch_size: int  # the whole data set when fit is given None
    validation: tuple[Sequence[Sequence[float]], list[float]] | None
    early_stopping: int | None
    compile: bool | str
    clip_grad_norm: float | None
    callbacks: tuple[Callback, ...]


def _checked_settings(
    X: Sequence[Sequence[float]],
    y: Sequence[float],
    loss: str | Objective | LossFunction | None,
    optimizer: Optimizer | None,
    scheduler: LRScheduler | None,
    epochs: int,
    batch_size: int | None,
    validation: tuple[Sequence[Sequence[float]], Sequence[float]] | None,
    early_stopping: int | None,
    compile: bool | str,
    callbacks: Callback | Sequence[Callback] | None,
    clip_grad_norm: float | None,
) -> _Settings:
    """Every argument of ``fit`` checked, in the order of its signature, before training."""
    X, y = _listed(X), _listed(y)
    objective = get_objective(loss if loss is not None else _chosen(y))
    targets = _check_data(X, y, objective, "fit")
    _count(epochs, "epochs")
    _count(batch_size, "batch_size", optional=True)
    _count(early_stopping, "early_stopping", optional=True)
    scored = None
    if validation is not None:
        X_val, y_val = validation
        X_val, y_val = _listed(X_val), _listed(y_val)
        scored = (X_val, _check_data(X_val, y_val, objective, "validation"))
    if compile not in (True, False, "auto"):
        raise ValueError(f'compile must be True, False or "auto", got {compile!r}')
    if scheduler is not None and not isinstance(scheduler, LRScheduler):
        raise TypeError(
            "scheduler must be a scheduler from autograd_lite.optim.lr_scheduler, "
            f"got {type(scheduler).__name__}"
        )
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
    hooks = (callbacks,) if callable(callbacks) else tuple(callbacks or ())
    for hook in hooks:
        if not callable(hook):
            raise TypeError(f"callbacks must be callables, got {type(hook).__name__}")
    return _Settings(
        objective, X, targets, epochs, batch_size or len(X), scored, early_stopping, compile,
        clip_grad_norm, hooks,
    )  # fmt: skip


def _count(value: object, name: str, optional: bool = False) -> None:
    """Refuse ``value`` unless it is a positive int (or None, when ``optional``)."""
    if optional and value is None:
        return
    if not isinstance(value, int) or value < 1:
        allowed = "a positive int or None" if optional else "a positive int"
        raise ValueError(f"{name} must be {allowed}, got {value!r}")


_BatchStep = Callable[[list[Sequence[float]], list[float]], tuple[float, int]]
"""One batch forward and backward: sets each parameter's ``grad`` to the batch's mean
gradient and returns (the batch's mean loss times its size, how many rows it predicts)."""


def _training(model: Module, optimizer: Optimizer, settings: _Settings) -> _OnValues:
    """How ``fit`` runs, chosen here and nowhere else: in arrays (the grouped program and the
    optimizer's packed step, :class:`_InArrays`) when the model's example groups and the
    optimizer steps packed; else on the Values, batch by batch, through the compiled runner
    (grouped or scalar programs) or eagerly."""
    objective = settings.objective
    compiled, scorer = _compiled(
        model, objective, settings.rows[0], settings.targets[0], settings.compile,
        settings.validation is not None,
    )  # fmt: skip
    if compiled is None:

        def eager(rows: list[Sequence[float]], targets: list[float]) -> tuple[float, int]:
            return eager_batch(model, objective, rows, targets)

        return _OnValues(model, optimizer, eager, scorer)
    if isinstance(compiled, _GroupedLoss) and compiled.grouped_program(True) is not None:
        packed = _packed(optimizer, model)
        if packed is not None:
            arrays = _InArrays(model, optimizer, compiled, scorer, packed)
            if arrays.load(settings):
                return arrays
            packed.sync()  # nothing stepped: the Values are as they were
    return _OnValues(model, optimizer, compiled.batch, scorer)


def _packed(optimizer: Optimizer, model: Module) -> Packed | None:
    """The optimizer's packed view over the model's parameters, or None where it cannot step
    packed (an optimizer of one's own without a packed rule or with its own ``step``, one
    whose ``step`` was replaced on the instance, parameters outside the model)."""
    own_step = "step" in vars(optimizer) or type(optimizer).step is not Optimizer.step
    if own_step or not _steps_packed(type(optimizer)):
        return None
    try:
        return optimizer.packed(model.parameters())
    except ValueError:
        return None


class _OnValues:
    """Training on the Values: each batch sets ``p.grad`` and ``optimizer.step()`` reads it.

    The interface ``fit`` trains through: ``epoch``, ``score``, ``snapshot``/``restore``
    (early stopping's best weights), ``finite`` (the divergence check), ``show``/``hide``
    around user code and ``close`` at the end; the last three have nothing to do here.
    """

    source: str | None = None

    def __init__(
        self, model: Module, optimizer: Optimizer, step: _BatchStep, scorer: LossRunner | None
    ) -> None:
        self.model, self.optimizer, self.step, self.scorer = model, optimizer, step, scorer

    def epoch(
        self, settings: _Settings, order: list[int], layers: dict[str, list[Value]], bar: Progress
    ) -> tuple[float, float | None, dict[str, float]]:
        """One pass over the rows in ``order``: (mean loss, accuracy, gradient norms)."""
        return _epoch(self.model, self.optimizer, self.step, settings, order, layers, bar)

    def score(self, settings: _Settings) -> tuple[float | None, float | None]:
        """The validation rows' (mean loss, accuracy); (None, None) without."""
        return _score(self.model, self.scorer, settings)

    def snapshot(self) -> Any:
        return self.model.state_dict()

    def restore(self, saved: Any) -> None:
        self.model.load_state_dict(saved)

    def finite(self) -> bool:
        """Whether every weight is a finite number."""
        return all(map(math.isfinite, self.model.state_dict().values()))

    def show(self) -> None:
        """Make the Values, ``p.grad`` and the optimizer's state current (before user code)."""

    def hide(self) -> None:
        """Read back what user code may have changed (after it)."""

    def close(self) -> None:
        """Leave everything as eager training would (at the end, or on an exception)."""


class _InArrays(_OnValues):
    """Compiled training with the parameters and the optimizer's state in arrays.

    Each batch's gradient comes from the grouped program at θ (``packed.theta``), clipping
    and gradient norms work on that vector, and ``packed.step`` updates θ and the buffers.
    The Values, ``p.grad`` (the last batch's gradient, clipped, as eager leaves it) and
    ``optimizer.state`` are written back by ``show`` (before callbacks, at the end, on an
    exception) and read again by ``hide`` (callbacks may change weights or rates, which
    are read at every step; a state replaced by ``optimizer.load_state_dict`` is read again,
    a buffer edited in place inside ``optimizer.state`` is not).
    """

    def __init__(
        self,
        model: Module,
        optimizer: Optimizer,
        runner: _GroupedLoss,
        scorer: LossRunner | None,
        packed: Packed,
    ) -> None:
        super().__init__(model, optimizer, runner.batch, scorer)
        self.runner, self.packed, self.np = runner, packed, _numpy()
        program = runner.grouped_program(True)
        self.source = program.source if program is not None else None
        self.index = {id(p): i for i, p in enumerate(packed.params)}
        self.frozen = [v for _, v in model._named_values() if id(v) not in self.index]
        self.grad: Any = None  # the last batch's gradient; None: zeroed
        self.shown = False  # the Values hold θ, and θ is not read back yet
        self.state: tuple[Any, ...] = ()  # the optimizer's state when shown, to see a change
        self.arrays: dict[str, Any] = {}
        self.layers: dict[str, Any] = {}

    def load(self, settings: _Settings) -> bool:
        """Put the rows (and validation rows) into arrays; False if they are not numbers."""
        np = self.np
        try:
            self.arrays["X"] = np.asarray(settings.rows, dtype=float)
            self.arrays["T"] = np.asarray(settings.targets, dtype=float)
            if settings.validation is not None:
                self.arrays["X_val"] = np.asarray(settings.validation[0], dtype=float)
                self.arrays["T_val"] = np.asarray(settings.validation[1], dtype=float)
        except (TypeError, ValueError):
            return False
        self.optimizer.zero_grad()  # as eager's first batch does: grad_value cleared
        return bool(self.arrays["X"].ndim == 2)

    def epoch(
        self, settings: _Settings, order: list[int], layers: dict[str, list[Value]], bar: Progress
    ) -> tuple[float, float | None, dict[str, float]]:
        """One pass over the rows in ``order``, a packed optimizer step per batch."""
        np, X, T = self.np, self.arrays["X"], self.arrays["T"]
        total, hits, size = 0.0, 0, settings.batch_size
        norms = dict.fromkeys(layers, 0.0)
        where = self._layers(layers)
        index = np.asarray(order, dtype=np.intp)
        for start in range(0, len(index), size):
            batch = index[start : start + size]
            self.grad = None
            found = self.runner.gradient(self.packed.theta, X[batch], T[batch])
            loss_sum, batch_hits, grad = found or self._eagerly(batch, settings)
            for name, at in where.items():
                norms[name] += math.sqrt(math.fsum((grad[at] * grad[at]).tolist()))
            if settings.clip_grad_norm is not None:
                grad = _clipped(grad, settings.clip_grad_norm)
            self.grad = grad
            self.packed.step(grad)
            total += loss_sum
            hits += batch_hits
            bar.advance(len(batch))
        return _epoch_means(settings, total, hits, norms, len(order))

    def _layers(self, layers: dict[str, list[Value]]) -> dict[str, Any]:
        """Where each layer's parameters are in θ."""
        if self.layers.keys() != layers.keys():
            np = self.np
            self.layers = {
                name: np.array([self.index[id(p)] for p in group], dtype=np.intp)
                for name, group in layers.items()
            }
        return self.layers

    def _eagerly(self, batch: Any, settings: _Settings) -> tuple[float, int, Any]:
        """A batch whose numbers were not all finite, again by the eager engine at θ, so
        that errors and NaNs are exactly eager's."""
        self._write_weights()
        for p in self.packed.params:
            p.grad = 0.0
        chosen = batch.tolist()
        rows = [settings.rows[i] for i in chosen]
        loss_sum, hits = eager_batch(
            self.model, settings.objective, rows, [settings.targets[i] for i in chosen]
        )
        return loss_sum, hits, self.np.array([p.grad for p in self.packed.params])

    def _write_weights(self) -> None:
        for p, x in zip(self.packed.params, self.packed.theta.tolist(), strict=True):
            p.data = x

    def score(self, settings: _Settings) -> tuple[float | None, float | None]:
        """The validation rows' (mean loss, accuracy) from the grouped program at θ."""
        if settings.validation is None:
            return None, None
        if self.scorer is self.runner and self.runner.grouped_program(False) is not None:
            theta, X, T = self.packed.theta, self.arrays["X_val"], self.arrays["T_val"]
            found = self.runner.scores(theta, X, T)
            if found is not None:
                return found
        self._write_weights()
        return super().score(settings)

    def snapshot(self) -> Any:
        return self.packed.theta.copy()

    def restore(self, saved: Any) -> None:
        self.packed.theta[:] = saved

    def finite(self) -> bool:
        return bool(self.np.isfinite(self.packed.theta).all()) and all(
            math.isfinite(v.data) for v in self.frozen
        )

    def show(self) -> None:
        self.packed.sync()
        if self.grad is None:
            for p in self.optimizer.params:
                p.grad = 0.0
        else:
            for p, g in zip(self.packed.params, self.grad.tolist(), strict=True):
                p.grad = g
        self.shown = True
        self.state = (self.optimizer.state, len(self.optimizer.state), self.optimizer.steps)

    def hide(self) -> None:
        """Read the weights back; the optimizer's state too if it was replaced or changed in
        size (``load_state_dict``, a new group), the expensive part of ``refresh``."""
        if not self.shown:
            return
        self.shown = False
        state = (self.optimizer.state, len(self.optimizer.state), self.optimizer.steps)
        if state[0] is not self.state[0] or state[1:] != self.state[1:]:
            self.packed.refresh()
            return
        params = self.packed.params
        self.packed.theta[:] = self.np.fromiter((p.data for p in params), float, len(params))

    def close(self) -> None:
        if not self.shown:  # once shown, user code may have changed the Values since
            self.show()


def _clipped(grad: Any, max_norm: float) -> Any:
    """``grad`` scaled as :func:`~autograd_lite.nn.clip_grad_norm_` scales the ``p.grad``."""
    try:
        total = math.fsum((grad * grad).tolist()) ** 0.5
    except OverflowError:
        total = math.inf
    coefficient = max_norm / (total + 1e-6)
    if not coefficient >= 1.0:  # NaN too: it spreads, as in PyTorch
        return grad * coefficient
    return grad


def _epoch(
    model: Module,
    optimizer: Optimizer,
    step: _BatchStep,
    settings: _Settings,
    order: list[int],
    layers: dict[str, list[Value]],
    bar: Progress,
) -> tuple[float, float | None, dict[str, float]]:
    """One pass over the rows in ``order``, an optimizer step per batch: (the mean loss, the
    accuracy or None, each layer's gradient norm averaged over the batches)."""
    total, hits, size = 0.0, 0, settings.batch_size
    norms = dict.fromkeys(layers, 0.0)
    params = model.parameters()
    for start in range(0, len(order), size):
        batch = order[start : start + size]
        optimizer.zero_grad()
        loss_sum, batch_hits = step(
            [settings.rows[i] for i in batch], [settings.targets[i] for i in batch]
        )
        for name, group in layers.items():
            norms[name] += math.sqrt(math.fsum(p.grad * p.grad for p in group))
        if settings.clip_grad_norm is not None:
            clip_grad_norm_(params, settings.clip_grad_norm)
        optimizer.step()
        total += loss_sum
        hits += batch_hits
        bar.advance(len(batch))
    return _epoch_means(settings, total, hits, norms, len(order))


def _epoch_means(
    settings: _Settings, total: float, hits: int, norms: dict[str, float], rows: int
) -> tuple[float, float | None, dict[str, float]]:
    """An epoch's (mean loss, accuracy, mean gradient norm per layer) from its sums over
    ``rows`` rows in batches of ``settings.batch_size``."""
    batches = math.ceil(rows / settings.batch_size)
    accuracy = hits / rows if settings.objective.decide is not None else None
    return total / rows, accuracy, {name: n / batches for name, n in norms.items()}


def _score(
    model: Module, scorer: LossRunner | None, settings: _Settings
) -> tuple[float | None, float | None]:
    """The validation rows' (mean loss, accuracy), scored in eval mode; (None, None) without."""
    if settings.validation is None:
        return None, None
    rows, targets = settings.validation
    model.eval()
    try:
        if scorer is not None:
            return scorer.evaluate(rows, targets)
        return _scores(model, rows, targets, settings.objective, compiled=False)
    finally:
        model.train()


class _Best:
    """The epoch with the lowest watched loss so far and its weights; early stopping's patience."""

    def __init__(self, training: _OnValues, patience: int | None) -> None:
        self.training, self.patience = training, patience
        self.loss, self.epoch, self.state = math.inf, 0, training.snapshot()

    def update(self, epoch: int, watched: float) -> Literal["early_stopping"] | None:
        """Record epoch ``epoch``; ``"early_stopping"`` once patience has run out."""
        if watched < self.loss:
            self.loss, self.epoch, self.state = watched, epoch, self.training.snapshot()
        elif self.patience is not None and epoch - self.epoch >= self.patience:
            return "early_stopping"
        return None

    def restore(self) -> None:
        """Put the best epoch's weights back into the model."""
        self.training.restore(self.state)


def _check_divergence(
    training: _OnValues, optimizer: Optimizer, best: _Best, loss: float, epoch: int
) -> None:
    """Raise ``ValueError`` (the best weights put back) if the loss or a weight is not finite."""
    if math.isfinite(loss) and training.finite():
        return
    best.restore()  # the last finite weights worth keeping
    what = f"a loss of {loss}" if not math.isfinite(loss) else "inf/nan weights"
    raise ValueError(
        f"training diverged to {what} in epoch {epoch} with learning rate "
        f"{getattr(optimizer, 'lr', '?')}; try a smaller learning rate"
    )


def _callbacks_stop(
    training: _OnValues, hooks: Sequence[Callback], epoch: int, numbers: dict[str, float]
) -> bool:
    """Call every callback (each with its own copy of ``numbers``), the Values current while
    they run; True if one said stop."""
    if not hooks:
        return False
    training.show()
    answers = [hook(epoch, dict(numbers)) for hook in hooks]
    training.hide()
    return any(answer is False for answer in answers)
