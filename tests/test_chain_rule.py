"""The chain rule as LaTeX: a sum over paths of products of local derivatives that, with the
numbers plugged in and read back, gives what backward() gives."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given, settings
from running_example import labelled_example

import autograd_lite as ag
from autograd_lite.testing import Expression, expressions


def evaluate_latex(numeric: str) -> float:
    """Read the numeric form back: ``(-3) \\cdot 2 + 1.5\\times10^{-5}`` as a number."""
    text = re.sub(r"\\times10\^\{(-?\d+)\}", r"e\1", numeric)
    text = text.replace(r"\cdot", "*").replace(r"\infty", "inf")
    assert re.fullmatch(r"[-+*() .\deinf]*", text), text
    return float(eval(text, {"__builtins__": {}}, {"inf": math.inf}))  # noqa: S307 - checked


def gradient_of(root: ag.Value, x: ag.Value) -> float:
    root.backward()
    return x.grad


def test_the_classic_expression() -> None:
    values = labelled_example()
    L, a = values["L"], values["a"]
    rule = ag.chain_rule(L, a, digits=17)
    assert rule.paths == 1
    assert not rule.collapsed
    assert evaluate_latex(rule.numeric()) == pytest.approx(rule.value, rel=1e-12)
    assert rule.value == gradient_of(L, a)
    text = rule.latex()
    assert text.startswith("\\begin{aligned}\n\\frac{\\partial L}{\\partial a} &= ")
    assert r"\frac{\partial L}{\partial d} \cdot \frac{\partial d}{\partial e}" in text
    assert rule._repr_latex_() == f"$${text}$$"


def test_a_value_used_twice_has_two_paths() -> None:
    x = ag.Value(3.0, label="x")
    y = x * x
    y.label = "y"
    rule = ag.chain_rule(y, x)
    assert rule.paths == 2
    assert rule.symbolic() == r"\frac{\partial y}{\partial x} + \frac{\partial y}{\partial x}"
    assert rule.numeric() == "3 + 3"
    assert rule.value == 6.0


@settings(max_examples=80, deadline=None)
@given(expressions(max_leaves=3, max_steps=8))
def test_the_numbers_read_back_give_backwards_gradient(expr: Expression) -> None:
    leaves = [ag.Value(x, label=f"x{i}") for i, x in enumerate(expr.leaves)]
    root = expr(*leaves)
    if not root.requires_grad:
        return
    root.backward()
    for leaf in leaves:
        try:
            rule = ag.chain_rule(root, leaf, digits=17)
        except ValueError:  # the root does not depend on this leaf
            assert leaf.grad == 0.0
            continue
        assert rule.value == pytest.approx(leaf.grad, rel=1e-9, abs=1e-12)
        if all(math.isfinite(local) for path in rule.terms for *_, local in path):
            read = evaluate_latex(rule.numeric())
            assert read == pytest.approx(leaf.grad, rel=1e-9, abs=1e-12)


def test_past_max_paths_the_sum_collapses_to_the_uses() -> None:
    x = ag.Value(1.01, label="x")
    y = x
    for _ in range(30):  # 2**30 paths from y down to x
        y = y * y
    y.label = "y"
    rule = ag.chain_rule(y, x, digits=17)
    assert rule.collapsed
    assert rule.paths == 2**30
    assert len(rule.terms) == 2  # x's two uses
    assert rule.value == pytest.approx(gradient_of(y, x), rel=1e-12)
    assert evaluate_latex(rule.numeric()) == pytest.approx(rule.value, rel=1e-9)
    assert len(rule.latex()) < 1_000


def test_errors() -> None:
    a, b = ag.Value(1.0, label="a"), ag.Value(2.0, label="b")
    c = a * 2
    with pytest.raises(ValueError, match="does not depend"):
        ag.chain_rule(c, b)
    with pytest.raises(TypeError):
        ag.chain_rule(c, 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_paths"):
        ag.chain_rule(c, a, max_paths=0)
    assert ag.chain_rule(c, c).latex().endswith("&= 1\n\\end{aligned}")


def test_each_step_has_its_latex() -> None:
    L = labelled_example()["L"]
    for step in ag.backward_steps(L):
        text = step.latex()
        assert text.startswith("\\begin{aligned}\n")
        assert text.endswith("\n\\end{aligned}")
        lines = text.splitlines()[1:-1]
        assert len(lines) == len(step.edges)
        for line, edge in zip(lines, step.edges):
            numbers = line.split(" = ", 1)[1].removesuffix(" \\\\")
            product, total = numbers.rsplit(" = ", 1)
            assert evaluate_latex(product) == pytest.approx(edge.contribution, rel=1e-3)
            assert evaluate_latex(total) == pytest.approx(edge.contribution, rel=1e-3)


def test_awkward_names_are_escaped() -> None:
    a = ag.Value(2.0, label="x_1 & {50%}")
    text = ag.backward_steps(a * 3)[0].latex()
    assert r"\text{x\_1 \& \{50\%\}}" in text
