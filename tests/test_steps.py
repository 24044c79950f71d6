"""backward_steps: the reverse sweep as records, from the engine's own sweep."""

from __future__ import annotations

from hypothesis import given, settings
from running_example import labelled_example

import autograd_lite as ag
from autograd_lite import Value
from autograd_lite.testing import Expression, expressions


def test_the_classic_expression_step_by_step() -> None:
    values = labelled_example()
    a, b, e, d, L = (values[name] for name in "abedL")
    steps = ag.backward_steps(L)
    assert [s.node for s in steps] == [L, d, e]  # the order backward() visits them
    assert [s.grad for s in steps] == [1.0, -2.0, -2.0]
    last = steps[-1]
    assert [(x.input, x.local, x.contribution, x.total) for x in last.edges] == [
        (a, -3.0, 6.0, 6.0),
        (b, 2.0, -4.0, -4.0),
    ]
    assert last.arithmetic()[0] == "dL/da += dL/de · ∂e/∂a = -2 · -3 = 6"
    assert (a.grad, b.grad) == (0.0, 0.0)  # no .grad was touched


def test_a_value_used_twice_collects_twice() -> None:
    x = Value(3.0, label="x")
    (step,) = ag.backward_steps(x * x)
    assert [(e.input, e.total) for e in step.edges] == [(x, 3.0), (x, 6.0)]


@settings(max_examples=80, deadline=None)
@given(expressions(max_leaves=3, max_steps=8))
def test_final_running_totals_equal_backward(expr: Expression) -> None:
    leaves = [Value(v) for v in expr.leaves]
    out = expr(*leaves)
    totals: dict[Value, float] = {}
    for step in ag.backward_steps(out):
        for edge in step.edges:
            totals[edge.input] = edge.total
    out.backward()
    for leaf in leaves:
        assert totals.get(leaf, 0.0) == leaf.grad


def test_forward_steps_are_the_nodes_in_computing_order() -> None:
    a = Value(2.0)
    b = a * a
    c = b.exp()
    assert ag.forward_steps(c) == [b, c]
    assert ag.backward_steps(Value(1.0, requires_grad=False)) == []
