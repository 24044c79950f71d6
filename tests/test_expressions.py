"""Random expression DAGs from the whole op table, with shared sub-expressions."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

import autograd_lite as ag
from autograd_lite import Value
from autograd_lite.testing import Expression, expressions


@settings(max_examples=300, deadline=None)
@given(expressions(max_leaves=4, max_steps=12))
def test_every_leaf_gradient_matches_finite_differences(expr: Expression) -> None:
    assert ag.gradcheck(expr, expr.leaves)


@settings(max_examples=100, deadline=None)
@given(expressions(max_leaves=3, max_steps=10))
def test_backward_and_gradients_agree(expr: Expression) -> None:
    xs = [Value(x) for x in expr.leaves]
    out = expr(*xs)
    expected = [g.data for g in ag.gradients(out, xs)]
    if out.requires_grad:
        out.backward()
        assert [x.grad for x in xs] == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_expressions_share_sub_expressions() -> None:
    # The strategy's own promise: a drawn value can feed more than one later step.
    expr = Expression(leaves=(0.5,), steps=(("tanh", (0,)), ("*", (1, 1)), ("+", (2, 1))))
    x = Value(0.5)
    out = expr(x)
    assert out.inputs[1] is out.inputs[0].inputs[0]
    assert str(expr) == "+(*(tanh(x0), tanh(x0)), tanh(x0))"
    assert ag.gradcheck(expr, expr.leaves)
