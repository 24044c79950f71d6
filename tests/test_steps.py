"""backward_steps: the reverse sweep as records, from the engine's own sweep."""

from __future__ import annotations

from hypothesis import given, settings
from running_example import labelled_example

import autograd_lite as ag
from autograd_lite import Value
from autograd_lite.steps import NAME_LIMIT, name_of
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


def test_a_3000_node_chain_steps_and_names_without_recursion() -> None:
    x = Value(0.5, label="x")
    y = x
    for _ in range(3000):
        y = y * 1.0001
    steps = ag.backward_steps(y)
    lines = [line for step in steps for line in step.arithmetic()]
    assert len(lines) == 3000
    assert max(map(len, lines)) < 200
    assert name_of(y) == "#6000"  # its place in topological order: what draw_dot calls n6000
    assert lines[-1].startswith("dL/dx += dL/d(x*1.0001) · ∂(x*1.0001)/∂x = ")
    assert lines[0].startswith("dL/d#5999 += dL/d#6000 · ∂#6000/∂#5999 = ")


def test_names_are_expressions_until_they_grow_long_then_their_place_in_the_graph() -> None:
    x = Value(1.5, label="x")
    chain = [x]
    for _ in range(30):
        chain.append(chain[-1] * chain[-1])
    names = [name_of(v) for v in chain]
    assert names[:4] == ["x", "(x*x)", "((x*x)*(x*x))", "(((x*x)*(x*x))*((x*x)*(x*x)))"]
    assert names[4:] == [f"#{k}" for k in range(4, 31)]  # x is #0, each square one more
    assert all(len(name) <= NAME_LIMIT for name in names)
    steps = ag.backward_steps(chain[-1])
    assert steps[0].arithmetic()[0].startswith("dL/d#29 += dL/d#30 · ∂#30/∂#29 = 1 · ")
    assert all(len(line) < 4 * NAME_LIMIT + 80 for step in steps for line in step.arithmetic())
    assert steps[-2].arithmetic()[0].startswith("dL/d(x*x) += dL/d((x*x)*(x*x))")


def test_a_sum_of_many_terms_has_names_of_bounded_length() -> None:
    a = Value(1.0, label="a")
    total = a
    for _ in range(300):
        total = total + a
    steps = ag.backward_steps(total)
    text = "\n".join(line for step in steps for line in step.arithmetic())
    assert len(text) < 300 * 2 * 80  # linear in the edges, not quadratic
    assert name_of(total) == "#300"
