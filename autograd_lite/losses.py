"""Loss functions on Values, each numerically stable, each checked against PyTorch.

Every loss takes a batch: predictions and targets are equal-length lists (a single example
may be passed bare), and the loss is averaged over the batch. ``OBJECTIVES`` names the losses
``fit`` and the command line know, and :func:`choose_loss` picks one from a target column.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .engine import Value

__all__ = [
    "MAX_CLASSES",
    "OBJECTIVES",
    "LossFunction",
    "Objective",
    "binary_cross_entropy_with_logits",
    "choose_loss",
    "class_scores",
    "cross_entropy",
    "get_objective",
    "hinge_loss",
    "log_softmax",
    "mse_loss",
    "one_score",
    "softmax",
]

Scalar = Value | float
Batch = Scalar | Sequence[Scalar]
Output = Value | list[Value]  # what a model returns for one example: a score or a list of them
LossFunction = Callable[[list[Output], list[float]], Value]
"""A loss of one's own: ``loss(outputs, targets) -> Value`` for a batch (``fit(loss=...)``)."""


def _pairs(prediction: Batch, target: Batch) -> list[tuple[Scalar, Scalar]]:
    predictions = list(prediction) if isinstance(prediction, Sequence) else [prediction]
    targets = list(target) if isinstance(target, Sequence) else [target]
    if len(predictions) != len(targets):
        raise ValueError(f"{len(predictions)} predictions but {len(targets)} targets")
    if not predictions:
        raise ValueError("a loss needs at least one prediction")
    return list(zip(predictions, targets, strict=True))


def _mean(terms: list[Value]) -> Value:
    return sum(terms[1:], terms[0]) * (1.0 / len(terms))


def mse_loss(prediction: Batch, target: Batch) -> Value:
    """Mean squared error, mean((p - t)²).

    Args:
        prediction: The model's outputs, a batch (or one output).
        target: The target numbers, as many as predictions.

    Returns:
        The mean squared error as a scalar ``Value``.

    Raises:
        ValueError: If the batch is empty or the lengths differ.

    >>> mse_loss([Value(1.0), Value(3.0)], [0.0, 1.0]).data
    2.5
    """
    return _mean([(p - t) * (p - t) for p, t in _pairs(prediction, target)])  # type: ignore[misc]


def hinge_loss(score: Batch, label: Batch) -> Value:
    """SVM max-margin loss for labels ±1: mean(relu(1 - label · score)), micrograd's demo loss.

    Args:
        score: The model's scores, a batch (or one score).
        label: The labels, each -1 or +1.

    Returns:
        The mean hinge loss as a scalar ``Value``.

    Raises:
        ValueError: If the batch is empty or the lengths differ.

    >>> hinge_loss([Value(2.0), Value(0.5)], [1.0, 1.0]).data
    0.25
    """
    return _mean([(1.0 - y * s).relu() for s, y in _pairs(score, label)])  # type: ignore[union-attr]


def binary_cross_entropy_with_logits(logit: Batch, target: Batch) -> Value:
    """-[t log σ(z) + (1-t) log(1-σ(z))] for targets in [0, 1], written as softplus(z) - t·z.

    Exact and finite for any logit (±1000 included); its gradient is σ(z) - t.

    Args:
        logit: The model's scores (logits, not probabilities), a batch or one.
        target: The targets, each in [0, 1].

    Returns:
        The mean loss as a scalar ``Value``.

    Raises:
        ValueError: If the batch is empty or the lengths differ.

    >>> round(binary_cross_entropy_with_logits(Value(0.0), 1.0).data, 6)   # log 2
    0.693147
    """
    terms = []
    for z, t in _pairs(logit, target):
        z = z if isinstance(z, Value) else Value(z, requires_grad=False)
        terms.append(z.softplus() - t * z)
    return _mean(terms)


def log_softmax(logits: Sequence[Scalar]) -> list[Value]:
    """log softmax, shifted by the largest logit so that no exp overflows.

    Args:
        logits: One example's class scores.

    Returns:
        One ``Value`` per class: zᵢ - log Σⱼ e^zⱼ.

    Raises:
        ValueError: If ``logits`` is empty.
    """
    if not logits:
        raise ValueError("log_softmax needs at least one logit")
    values = [z if isinstance(z, Value) else Value(z, requires_grad=False) for z in logits]
    # Shift by the largest logit. The result does not depend on the shift, but the shift
    # must follow the data, so it is max written with relu (max(a, b) = a + relu(b - a)),
    # not a number read off .data: compiled code then shifts by each call's own maximum.
    shift = values[0]
    for v in values[1:]:
        shift = shift + (v - shift).relu()
    shifted = [v - shift for v in values]
    exps = [s.exp() for s in shifted]
    log_total = sum(exps[1:], exps[0]).log()
    return [s - log_total for s in shifted]


def softmax(logits: Sequence[Scalar]) -> list[Value]:
    """e^zᵢ / Σⱼ e^zⱼ, computed stably (max-subtracted).

    Args:
        logits: One example's class scores.

    Returns:
        One probability ``Value`` per class, summing to 1.

    >>> [round(p.data, 4) for p in softmax([1000.0, 1000.0])]
    [0.5, 0.5]
    """
    return [v.exp() for v in log_softmax(logits)]


def cross_entropy(
    logits: Sequence[Sequence[Scalar]] | Sequence[Scalar],
    target: Sequence[float] | float,
) -> Value:
    """Cross-entropy of class scores zₙ and class indices tₙ: -1/N Σₙ log softmax(zₙ)[tₙ].

    ``logits`` is a batch of score lists, one per example, and ``target`` their class
    indices; one example may also be passed bare, as its score list and one index.

    Args:
        logits: A batch of score lists, or one score list.
        target: The class index of each example (one index for one example).

    Returns:
        The mean cross-entropy as a scalar ``Value``.

    Raises:
        ValueError: If the batch is empty.

    >>> round(cross_entropy([[0.0, 0.0], [0.0, 0.0]], [1, 0]).data, 6)    # log 2
    0.693147
    >>> round(cross_entropy([0.0, 0.0], 1).data, 6)                       # one example
    0.693147
    """
    if not logits:
        raise ValueError("a loss needs at least one prediction")
    rows = list(logits) if isinstance(logits[0], Sequence) else [logits]
    terms = []
    for scores, index in _pairs(rows, target):  # type: ignore[arg-type]
        scores = list(scores)  # type: ignore[call-overload]
        if not (isinstance(index, (int, float)) and float(index).is_integer()):
            raise ValueError(f"target must be a class index, got {index!r}")
        if not 0 <= index < len(scores):
            raise ValueError(f"target must be a class index in [0, {len(scores)}), got {index!r}")
        terms.append(-log_softmax(scores)[int(index)])
    return _mean(terms)


@dataclass(frozen=True)
class Objective:
    """A named loss: how to score a batch of model outputs, and which label an output predicts.

    ``decide`` is None for regression, where accuracy means nothing. ``outputs`` is how many
    scores per example a model needs for these targets (the width of its last layer).
    ``separable`` says the batch loss is the mean of one-example losses, which lets compiled
    training trace a single example (a loss of one's own makes no such promise).
    """

    loss: LossFunction
    decide: Callable[[Output], float] | None
    check_target: Callable[[float], bool]
    targets: str  # what check_target accepts, for the error message
    outputs: Callable[[Sequence[float]], int] = lambda targets: 1
    separable: bool = True


def one_score(output: Output) -> Value:
    """The output of a model with one score per example (a clear error for a list of them).

    Args:
        output: A model's output for one example.

    Returns:
        The one score.

    Raises:
        ValueError: For a list of scores.
    """
    if isinstance(output, list):
        raise ValueError(f"this loss wants one output per example, the model gives {len(output)}")
    return output


def class_scores(output: Output) -> list[Value]:
    """The output of a model with a list of class scores per example (a clear error otherwise).

    Args:
        output: A model's output for one example.

    Returns:
        The class scores.

    Raises:
        ValueError: For a single score.
    """
    if not isinstance(output, list):
        raise ValueError("cross_entropy wants a list of class scores per example (nouts[-1] > 1)")
    return output


def _argmax(output: Output) -> float:
    scores = class_scores(output)
    return float(max(range(len(scores)), key=lambda i: scores[i].data))


def _is_class(target: float) -> bool:
    return target >= 0 and float(target).is_integer()  # is_integer: False for inf and nan


OBJECTIVES: dict[str, Objective] = {
    "mse": Objective(
        lambda o, t: mse_loss([one_score(v) for v in o], t), None, math.isfinite, "numbers"
    ),
    "hinge": Objective(
        lambda o, t: hinge_loss([one_score(v) for v in o], t),
        lambda o: 1.0 if one_score(o).data > 0 else -1.0,
        lambda t: t in (-1.0, 1.0),
        "labels -1 and 1",
    ),
    "bce": Objective(
        lambda o, t: binary_cross_entropy_with_logits([one_score(v) for v in o], t),
        lambda o: 1.0 if one_score(o).data > 0 else 0.0,
        lambda t: t in (0.0, 1.0),
        "labels 0 and 1",
    ),
    "cross_entropy": Objective(
        lambda o, t: cross_entropy([class_scores(v) for v in o], t),
        _argmax,
        _is_class,
        "class indices 0, 1, 2, …",
        lambda targets: int(max(targets)) + 1,
    ),
}
"""The losses known by name (``fit(loss=...)``, ``autograd-lite train --loss``). The model's
outputs are scores (logits), not probabilities. Add an :class:`Objective` here to name a new one.
"""


def get_objective(loss: str | Objective | LossFunction) -> Objective:
    """The :class:`Objective` named ``loss`` (an Objective passes through); ``ValueError`` if none.

    A callable ``loss(outputs, targets) -> Value`` becomes an Objective of its own: any finite
    targets, no accuracy (it does not say which label an output predicts), not separable.

    Args:
        loss: A name of :data:`OBJECTIVES`, an :class:`Objective`, or a callable
            ``loss(outputs, targets) -> Value``.

    Returns:
        The :class:`Objective`.

    Raises:
        ValueError: If ``loss`` is a name that is not known.

    >>> get_objective("bce").targets
    'labels 0 and 1'
    """
    if isinstance(loss, Objective):
        return loss
    if callable(loss):
        return Objective(_checked(loss), None, math.isfinite, "numbers", separable=False)
    if loss not in OBJECTIVES:
        raise ValueError(f"unknown loss {loss!r}; choose from {sorted(OBJECTIVES)}")
    return OBJECTIVES[loss]


def _checked(loss: LossFunction) -> LossFunction:
    def checked(outputs: list[Output], targets: list[float]) -> Value:
        value = loss(outputs, targets)
        if not isinstance(value, Value):
            name = getattr(loss, "__name__", repr(loss))
            raise TypeError(f"the loss {name} must return a Value, got {type(value).__name__}")
        return value

    return checked


MAX_CLASSES = 20
""":func:`choose_loss` reads integer targets with more distinct values than this as numbers."""


def choose_loss(targets: Sequence[float]) -> str:
    """The loss a target column asks for: 0/1 → ``"bce"``, class labels 0, 1, …, k-1 for
    k ≤ ``MAX_CLASSES`` → ``"cross_entropy"``, anything else → ``"mse"`` (regression: a
    0/100000 column or a year holds numbers, not a few classes).

    Args:
        targets: The target column.

    Returns:
        ``"bce"``, ``"cross_entropy"`` or ``"mse"``.

    >>> choose_loss([0.0, 1.0, 1.0]), choose_loss([0.0, 2.0, 1.0]), choose_loss([0.5, 2.0])
    ('bce', 'cross_entropy', 'mse')
    >>> choose_loss([0.0, 100000.0]), choose_loss([1999.0, 2024.0])
    ('mse', 'mse')
    """
    if all(OBJECTIVES["bce"].check_target(t) for t in targets):
        return "bce"
    classes = OBJECTIVES["cross_entropy"]
    if all(classes.check_target(t) and t < MAX_CLASSES for t in targets):
        return "cross_entropy"
    return "mse"
