"""PyTorch as an oracle: random expressions in float64, values and gradients."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from autograd_lite import Value, ops
from autograd_lite.testing import Expression, expressions

torch = pytest.importorskip("torch")
from torch_reference import TORCH_OPS, float64, replay  # noqa: E402


def test_every_primitive_has_a_torch_counterpart() -> None:
    assert set(TORCH_OPS) == set(ops.PRIMITIVES)


def run_in_torch(expr: Expression) -> tuple[float, list[float]]:
    leaves = [float64(x, requires_grad=True) for x in expr.leaves]
    out = replay(expr, *leaves)
    grads = torch.autograd.grad(out, leaves, allow_unused=True)
    return out.item(), [0.0 if g is None else g.item() for g in grads]


@settings(max_examples=300, deadline=None)
@given(expressions(max_leaves=4, max_steps=12))
def test_values_and_gradients_match_pytorch(expr: Expression) -> None:
    xs = [Value(x) for x in expr.leaves]
    out = expr(*xs)
    out.backward()
    torch_value, torch_grads = run_in_torch(expr)
    assert out.data == pytest.approx(torch_value, rel=1e-12, abs=1e-12)
    assert [x.grad for x in xs] == pytest.approx(torch_grads, rel=1e-10, abs=1e-12)


@pytest.mark.parametrize(("name", "x"), [("relu", 0.0), ("abs", 0.0), ("sqrt", 0.0)])
def test_conventions_at_kinks_and_singularities_match_pytorch(name: str, x: float) -> None:
    v = Value(x)
    ops_call = {"relu": Value.relu, "abs": abs, "sqrt": Value.sqrt}[name]
    ops_call(v).backward()
    t = float64(x, requires_grad=True)
    TORCH_OPS[name](t).backward()
    assert v.grad == t.grad.item()
