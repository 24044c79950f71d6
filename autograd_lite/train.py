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

import math
import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .engine import no_grad
from .losses import Objective, Output, get_objective, one_score
from .nn import Module
from .optim import Adam, Optimizer

__all__ = ["History", "evaluate", "fit", "predict"]


@dataclass
class History:
    """What happened in each epoch; ``accuracy`` lists stay empty for regression (``mse``)."""

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    best_epoch: int = 0  # 1-based; the epoch whose weights the model ends with
    stopped_early: bool = False

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


def evaluate(
    model: Callable[[Sequence[float]], Output],
    X: Sequence[Sequence[float]],
    y: Sequence[float],
    *,
    loss: str | Objective = "mse",
) -> tuple[float, float | None]:
    """``(mean loss, accuracy)`` of ``model`` on ``(X, y)``, without building a graph.

    Accuracy is None for regression losses.
    """
    objective = get_objective(loss)
    targets = _check_data(X, y, objective, "evaluate")
    with no_grad():
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
    """The label each row gets (the raw output for regression), without building a graph."""
    objective = get_objective(loss)
    with no_grad():
        outputs = [model(row) for row in X]
    if objective.decide is None:
        return [one_score(o).data for o in outputs]
    return [objective.decide(o) for o in outputs]


class _Progress:
    """A tqdm bar when tqdm is installed, else a plain line to stderr every tenth of the run."""

    def __init__(self, epochs: int, enabled: bool) -> None:
        self.epochs, self.enabled, self.bar = epochs, enabled, None
        if enabled:
            try:
                from tqdm import tqdm  # the text bar: works in terminals and notebooks alike
            except ImportError:
                return
            self.bar = tqdm(total=epochs, unit="epoch", desc="fit", leave=True)

    def update(self, epoch: int, numbers: dict[str, float]) -> None:
        if not self.enabled:
            return
        shown = {k: f"{v:.4f}" for k, v in numbers.items()}
        if self.bar is not None:
            self.bar.set_postfix(shown, refresh=False)
            self.bar.update(1)
        elif epoch == 1 or epoch % max(1, self.epochs // 10) == 0 or epoch == self.epochs:
            text = "  ".join(f"{k} {v}" for k, v in shown.items())
            print(f"epoch {epoch}/{self.epochs}  {text}", file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def fit(
    model: Module,
    X: Sequence[Sequence[float]],
    y: Sequence[float],
    *,
    loss: str | Objective = "mse",
    optimizer: Optimizer | None = None,
    epochs: int = 100,
    batch_size: int | None = None,
    validation: tuple[Sequence[Sequence[float]], Sequence[float]] | None = None,
    early_stopping: int | None = None,
    progress: bool = True,
    seed: int | None = 0,
) -> History:
    """Train ``model`` on ``(X, y)`` and return the per-epoch :class:`History`.

    Each epoch shuffles the rows (with ``seed``), and for each batch of ``batch_size`` rows
    (all of them when None) computes the mean ``loss``, back-propagates and takes an
    ``optimizer`` step (default ``Adam(lr=0.01)``). Training loss and accuracy are measured on
    the batches as they are trained on; ``validation=(X_val, y_val)`` is scored after each epoch.
    ``early_stopping=N`` stops once the validation loss (training loss without validation) has
    not improved for N epochs, and puts back the weights of the best epoch. ``progress`` shows
    a tqdm bar (a line per tenth of the run without tqdm); ``progress=False`` prints nothing.
    """
    objective = get_objective(loss)
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
    if optimizer is None:
        optimizer = Adam(model.parameters(), lr=0.01)
    rng, order = random.Random(seed), list(range(len(X)))
    size = batch_size or len(X)
    history, best_loss, best_state = History(), math.inf, model.state_dict()
    bar = _Progress(epochs, progress)
    model.train()
    try:
        for epoch in range(1, epochs + 1):
            rng.shuffle(order)
            total, hits = 0.0, 0
            for start in range(0, len(order), size):
                batch = order[start : start + size]
                batch_outputs = [model(X[i]) for i in batch]
                batch_targets = [targets[i] for i in batch]
                batch_loss = objective.loss(batch_outputs, batch_targets)
                optimizer.zero_grad()
                batch_loss.backward()
                optimizer.step()
                total += batch_loss.data * len(batch)
                hits += _hits(objective, batch_outputs, batch_targets)  # keeps no graphs alive
            accuracy = hits / len(X) if objective.decide is not None else None
            val_loss, val_accuracy = None, None
            if validation is not None:
                model.eval()
                val_loss, val_accuracy = evaluate(model, X_val, y_val, loss=objective)
                model.train()
            history.record(total / len(X), accuracy, val_loss, val_accuracy)
            bar.update(epoch, history.last())
            watched = total / len(X) if val_loss is None else val_loss
            if watched < best_loss:
                best_loss, best_state, history.best_epoch = watched, model.state_dict(), epoch
            elif early_stopping is not None and epoch - history.best_epoch >= early_stopping:
                history.stopped_early = True
                break
    finally:
        bar.close()
    if early_stopping is not None:
        model.load_state_dict(best_state)
    else:
        history.best_epoch = history.epochs
    return history
