"""The losses: values on simple inputs, the registry and the rule that picks a loss, and
PyTorch's numbers to 1e-12 (marked requires_torch)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from autograd_lite import Value, losses

try:
    import torch
except ImportError:  # the tests that need it are marked requires_torch
    torch = None


def test_losses_on_simple_values() -> None:
    assert losses.mse_loss([Value(1.0), Value(3.0)], [0.0, 1.0]).data == 2.5
    assert losses.hinge_loss(Value(0.5), -1.0).data == 1.5
    big = losses.binary_cross_entropy_with_logits([Value(1000.0), Value(-1000.0)], [0.0, 1.0])
    assert big.data == 1000.0
    assert [round(p.data, 12) for p in losses.softmax([Value(1000.0), Value(-1000.0)])] == [
        1.0,
        0.0,
    ]
    with pytest.raises(ValueError, match="predictions"):
        losses.mse_loss([Value(1.0)], [1.0, 2.0])
    with pytest.raises(ValueError, match="class index"):
        losses.cross_entropy([1.0, 2.0], 2)


def test_cross_entropy_takes_a_batch_of_score_lists() -> None:
    batch = [[Value(0.3), Value(-2.0), Value(1.5)], [Value(1.0), Value(1.0), Value(-1.0)]]
    mean = losses.cross_entropy(batch, [2, 0])
    one_by_one = [losses.cross_entropy(scores, t).data for scores, t in zip(batch, [2, 0])]
    assert mean.data == pytest.approx(sum(one_by_one) / 2, rel=1e-15)
    assert losses.cross_entropy(batch, [2.0, 0.0]).data == mean.data  # fit's float labels
    with pytest.raises(ValueError, match="2 predictions but 1 targets"):
        losses.cross_entropy(batch, [2])
    with pytest.raises(ValueError, match="class index"):
        losses.cross_entropy(batch, [2, 0.5])
    with pytest.raises(ValueError, match="at least one"):
        losses.cross_entropy([], [])


def test_the_loss_registry_and_the_rule_that_picks_a_loss() -> None:
    assert sorted(losses.OBJECTIVES) == ["bce", "cross_entropy", "hinge", "mse"]
    for name, objective in losses.OBJECTIVES.items():
        assert isinstance(objective, losses.Objective), name
        assert (objective.decide is None) == (name == "mse")  # only regression has no accuracy
    assert losses.OBJECTIVES["cross_entropy"].outputs([0.0, 2.0, 1.0]) == 3
    assert losses.OBJECTIVES["bce"].outputs([0.0, 1.0]) == 1
    assert losses.choose_loss([0.0, 1.0, 1.0]) == "bce"
    assert losses.choose_loss([0.0, 1.0, 2.0]) == "cross_entropy"
    assert losses.choose_loss([float(k) for k in range(losses.MAX_CLASSES)]) == "cross_entropy"
    assert losses.choose_loss([float(k) for k in range(losses.MAX_CLASSES + 1)]) == "mse"
    assert losses.choose_loss([0.0, 1.5]) == "mse"
    assert losses.choose_loss([-1.0, 1.0]) == "mse"
    assert losses.choose_loss([0.0, math.inf]) == "mse"


def t64(values: list[float]) -> Any:
    return torch.tensor(values, dtype=torch.float64, requires_grad=True)


@pytest.mark.requires_torch
@pytest.mark.parametrize(
    ("ours", "theirs", "targets"),
    [
        (losses.mse_loss, lambda z, t: torch.nn.functional.mse_loss(z, t), [0.5, -1.0, 2.0]),
        (losses.binary_cross_entropy_with_logits,
         lambda z, t: torch.nn.functional.binary_cross_entropy_with_logits(z, t), [1.0, 0.0, 0.25]),
        (losses.hinge_loss, lambda z, t: torch.relu(1 - t * z).mean(), [1.0, -1.0, 1.0]),
    ],
)  # fmt: skip
@pytest.mark.parametrize("logits", [[0.3, -2.0, 0.0], [1000.0, -1000.0, 3.0]])
def test_losses_match_pytorch(
    ours: Any, theirs: Any, targets: list[float], logits: list[float]
) -> None:
    xs = [Value(v) for v in logits]
    loss = ours(xs, targets)
    loss.backward()
    z = t64(logits)
    expected = theirs(z, torch.tensor(targets, dtype=torch.float64))
    expected.backward()
    assert loss.data == pytest.approx(expected.item(), rel=1e-12)
    assert [x.grad for x in xs] == pytest.approx(z.grad.tolist(), rel=1e-12, abs=1e-15)


@pytest.mark.requires_torch
@pytest.mark.parametrize("logits", [[0.3, -2.0, 1.5], [1000.0, -1000.0, 999.0]])
def test_cross_entropy_and_softmax_match_pytorch(logits: list[float]) -> None:
    xs = [Value(v) for v in logits]
    loss = losses.cross_entropy(xs, 2)
    loss.backward()
    z = t64(logits)
    expected = torch.nn.functional.cross_entropy(z.unsqueeze(0), torch.tensor([2]))
    expected.backward()
    assert loss.data == pytest.approx(expected.item(), rel=1e-12)
    assert [x.grad for x in xs] == pytest.approx(z.grad.tolist(), rel=1e-12, abs=1e-15)
    probabilities = [p.data for p in losses.softmax(logits)]
    assert probabilities == pytest.approx(
        torch.nn.functional.softmax(z.detach(), 0).tolist(), rel=1e-12
    )


@pytest.mark.requires_torch
def test_cross_entropy_on_a_batch_matches_pytorch() -> None:
    rows = [[0.3, -2.0, 1.5], [1000.0, -1000.0, 999.0], [0.0, 0.0, 0.0]]
    targets = [2, 0, 1]
    xs = [[Value(v) for v in row] for row in rows]
    loss = losses.cross_entropy(xs, targets)
    loss.backward()
    z = torch.tensor(rows, dtype=torch.float64, requires_grad=True)
    expected = torch.nn.functional.cross_entropy(z, torch.tensor(targets))
    expected.backward()
    assert loss.data == pytest.approx(expected.item(), rel=1e-12)
    grads = [[x.grad for x in row] for row in xs]
    for ours, theirs in zip(grads, z.grad.tolist(), strict=True):
        assert ours == pytest.approx(theirs, rel=1e-12, abs=1e-15)
