"""Loss functions on Values, each numerically stable, each checked against PyTorch.

Predictions and targets may be single values or equal-length lists; losses are averaged
over the list.
"""

from __future__ import annotations

from collections.abc import Sequence

from .engine import Value

__all__ = [
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "hinge_loss",
    "log_softmax",
    "mse_loss",
    "softmax",
]

Scalar = Value | float
Batch = Scalar | Sequence[Scalar]


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

    >>> mse_loss([Value(1.0), Value(3.0)], [0.0, 1.0]).data
    2.5
    """
    return _mean([(p - t) * (p - t) for p, t in _pairs(prediction, target)])  # type: ignore[misc]


def hinge_loss(score: Batch, label: Batch) -> Value:
    """SVM max-margin loss for labels ±1: mean(relu(1 - label · score)), micrograd's demo loss.

    >>> hinge_loss([Value(2.0), Value(0.5)], [1.0, 1.0]).data
    0.25
    """
    return _mean([(1.0 - y * s).relu() for s, y in _pairs(score, label)])  # type: ignore[union-attr]


def binary_cross_entropy_with_logits(logit: Batch, target: Batch) -> Value:
    """-[t log σ(z) + (1-t) log(1-σ(z))] for targets in [0, 1], written as softplus(z) - t·z.

    Exact and finite for any logit (±1000 included); its gradient is σ(z) - t.

    >>> round(binary_cross_entropy_with_logits(Value(0.0), 1.0).data, 6)   # log 2
    0.693147
    """
    terms = []
    for z, t in _pairs(logit, target):
        z = z if isinstance(z, Value) else Value(z, requires_grad=False)
        terms.append(z.softplus() - t * z)
    return _mean(terms)


def log_softmax(logits: Sequence[Scalar]) -> list[Value]:
    """log softmax, shifted by the largest logit so that no exp overflows."""
    if not logits:
        raise ValueError("log_softmax needs at least one logit")
    values = [z if isinstance(z, Value) else Value(z, requires_grad=False) for z in logits]
    shift = max(v.data for v in values)  # a constant: the result does not depend on it
    shifted = [v - shift for v in values]
    exps = [s.exp() for s in shifted]
    log_total = sum(exps[1:], exps[0]).log()
    return [s - log_total for s in shifted]


def softmax(logits: Sequence[Scalar]) -> list[Value]:
    """e^zᵢ / Σⱼ e^zⱼ, computed stably (max-subtracted).

    >>> [round(p.data, 4) for p in softmax([1000.0, 1000.0])]
    [0.5, 0.5]
    """
    return [v.exp() for v in log_softmax(logits)]


def cross_entropy(logits: Sequence[Scalar], target: int) -> Value:
    """-log softmax(logits)[target] for one example with an integer class target.

    >>> round(cross_entropy([0.0, 0.0], 1).data, 6)    # log 2
    0.693147
    """
    if not isinstance(target, int) or not 0 <= target < len(logits):
        raise ValueError(f"target must be a class index in [0, {len(logits)}), got {target!r}")
    return -log_softmax(logits)[target]
