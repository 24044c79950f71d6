"""Losses and optimizers against PyTorch, to 1e-12 (skipped where torch is not installed)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from autograd_lite import Value, losses, optim

torch = pytest.importorskip("torch")
F = torch.nn.functional


def t64(values: list[float]) -> Any:
    return torch.tensor(values, dtype=torch.float64, requires_grad=True)


@pytest.mark.parametrize(
    ("ours", "theirs", "targets"),
    [
        (losses.mse_loss, lambda z, t: F.mse_loss(z, t), [0.5, -1.0, 2.0]),
        (losses.binary_cross_entropy_with_logits,
         lambda z, t: F.binary_cross_entropy_with_logits(z, t), [1.0, 0.0, 0.25]),
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


@pytest.mark.parametrize("logits", [[0.3, -2.0, 1.5], [1000.0, -1000.0, 999.0]])
def test_cross_entropy_and_softmax_match_pytorch(logits: list[float]) -> None:
    xs = [Value(v) for v in logits]
    loss = losses.cross_entropy(xs, 2)
    loss.backward()
    z = t64(logits)
    expected = F.cross_entropy(z.unsqueeze(0), torch.tensor([2]))
    expected.backward()
    assert loss.data == pytest.approx(expected.item(), rel=1e-12)
    assert [x.grad for x in xs] == pytest.approx(z.grad.tolist(), rel=1e-12, abs=1e-15)
    probabilities = [p.data for p in losses.softmax(logits)]
    assert probabilities == pytest.approx(F.softmax(z.detach(), 0).tolist(), rel=1e-12)


def test_cross_entropy_on_a_batch_matches_pytorch() -> None:
    rows = [[0.3, -2.0, 1.5], [1000.0, -1000.0, 999.0], [0.0, 0.0, 0.0]]
    targets = [2, 0, 1]
    xs = [[Value(v) for v in row] for row in rows]
    loss = losses.cross_entropy(xs, targets)
    loss.backward()
    z = torch.tensor(rows, dtype=torch.float64, requires_grad=True)
    expected = F.cross_entropy(z, torch.tensor(targets))
    expected.backward()
    assert loss.data == pytest.approx(expected.item(), rel=1e-12)
    grads = [[x.grad for x in row] for row in xs]
    for ours, theirs in zip(grads, z.grad.tolist(), strict=True):
        assert ours == pytest.approx(theirs, rel=1e-12, abs=1e-15)


OPTIMIZERS = [
    (optim.SGD, torch.optim.SGD, {"lr": 0.1}),
    (optim.SGD, torch.optim.SGD, {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.01}),
    (optim.SGD, torch.optim.SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    (optim.Adam, torch.optim.Adam, {}),
    (
        optim.Adam,
        torch.optim.Adam,
        {"lr": 0.01, "betas": (0.8, 0.9), "eps": 1e-6, "weight_decay": 0.1},
    ),
    (optim.RMSprop, torch.optim.RMSprop, {}),
    (optim.RMSprop, torch.optim.RMSprop, {"lr": 0.003, "alpha": 0.9, "eps": 1e-6}),
]


@pytest.mark.parametrize(("ours", "theirs", "options"), OPTIMIZERS)
def test_optimizers_match_pytorch_for_20_steps(
    ours: Any, theirs: Any, options: dict[str, Any]
) -> None:
    rng = random.Random(0)
    start = [rng.uniform(-1, 1) for _ in range(5)]
    params = [Value(v) for v in start]
    tensors = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in start]
    mine, reference = ours(params, **options), theirs(tensors, **options)
    for _ in range(20):
        grads = [rng.uniform(-2, 2) for _ in start]
        mine.zero_grad()
        for p, g in zip(params, grads, strict=True):
            p.grad = g
        reference.zero_grad()
        for t, g in zip(tensors, grads, strict=True):
            t.grad = torch.tensor(g, dtype=torch.float64)
        mine.step()
        reference.step()
    for p, t in zip(params, tensors, strict=True):
        assert p.data == pytest.approx(t.item(), rel=1e-12, abs=1e-12)
