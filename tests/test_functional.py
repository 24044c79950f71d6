"""The functional API (grad, value_and_grad, hessian) and higher-order gradients: every op's
second derivative, Hessians of random expressions against finite differences and PyTorch."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import autograd_lite as ag
from autograd_lite import Value, ops
from autograd_lite.engine import apply
from autograd_lite.ops import Primitive
from autograd_lite.testing import Expression, expressions, op_inputs

try:
    import torch
except ImportError:  # the tests that need it are marked requires_torch
    torch = None

OPS = sorted(ops.PRIMITIVES.values(), key=lambda op: op.name)


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
@given(data=st.data())
def test_second_derivatives_of_every_op_match_differences_of_the_first(
    op: Primitive, data: st.DataObject
) -> None:
    args = data.draw(op_inputs(op))
    assert ag.gradgradcheck(lambda *xs: apply(op, *xs), args)


@settings(max_examples=150, deadline=None)
@given(expressions(max_leaves=3, max_steps=8))
def test_hessians_of_random_expressions_match_finite_differences(expr: Expression) -> None:
    assert ag.gradgradcheck(expr, expr.leaves)


@pytest.mark.requires_torch
@settings(max_examples=100, deadline=None)
@given(expressions(max_leaves=3, max_steps=8))
def test_hessians_of_random_expressions_match_pytorch(expr: Expression) -> None:
    from torch_reference import float64, replay

    # PyTorch's pow masks ∂/∂base to 0 where the exponent is exactly 0, and so drops the
    # exponent-base cross term of the second derivative there; ours keeps it (finite
    # differences agree with ours: d²/dx² sigmoid(x)**x at 0 is 1 + ln(2)², not ln(2)²).
    graph = ag.topological_order(expr(*(Value(x) for x in expr.leaves)))
    assume(not any(v.op is ops.POW and v.inputs[1].data == 0.0 for v in graph))
    point = tuple(float64(x) for x in expr.leaves)
    expected = torch.autograd.functional.hessian(lambda *xs: replay(expr, *xs), point)
    n = len(expr.leaves)
    ours = ag.hessian(expr)(*expr.leaves)
    for i in range(n):
        for j in range(n):
            assert ours[i][j] == pytest.approx(expected[i][j].item(), rel=1e-9, abs=1e-10)


@pytest.mark.parametrize("x", [-2.0, -0.3, 0.0, 0.7, 1.5])
def test_tanh_derivatives_up_to_fourth_order(x: float) -> None:
    t = math.tanh(x)
    closed_forms = [
        1 - t * t,
        -2 * t * (1 - t * t),
        -2 * (1 - t * t) * (1 - 3 * t * t),
        8 * t * (1 - t * t) * (2 - 3 * t * t),
    ]
    f = Value.tanh
    for expected in closed_forms:
        f = ag.grad(f)
        assert f(x) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_second_derivatives_of_power_in_both_arguments() -> None:
    x, y = 1.7, 2.3
    [[dxx, dxy], [dyx, dyy]] = ag.hessian(lambda a, b: a**b)(x, y)
    assert dxx == pytest.approx(y * (y - 1) * x ** (y - 2), rel=1e-12)
    assert dyy == pytest.approx(x**y * math.log(x) ** 2, rel=1e-12)
    assert dxy == dyx == pytest.approx(x ** (y - 1) * (1 + y * math.log(x)), rel=1e-12)


def test_nested_grad_has_no_perturbation_confusion() -> None:
    assert ag.grad(lambda x: x * ag.grad(lambda y: x * y)(1.0))(1.0) == 2.0
    # Closing over the outer variable while the inner one is the same number:
    assert ag.grad(lambda x: ag.grad(lambda y: x * y)(x))(3.0) == 1.0


def test_constant_derivatives_are_values_whose_derivative_is_zero() -> None:
    x = Value(3.0)
    (d,) = ag.gradients(2 * x, [x], create_graph=True)
    assert isinstance(d, Value)
    assert d.data == 2.0
    assert ag.gradients(d, [x])[0].data == 0.0
    assert ag.grad(ag.grad(lambda v: 2 * v))(3.0) == 0.0
    assert ag.grad(lambda v: 5.0)(1.0) == 0.0


def test_gradients_to_any_order() -> None:
    x = Value(0.5)
    g = x.exp() * x  # (x e^x)^(n) = (x + n) e^x
    for n in range(1, 6):
        (g,) = ag.gradients(g, [x], create_graph=True)
        assert g.data == pytest.approx((0.5 + n) * math.exp(0.5), rel=1e-12)


def test_value_and_grad_and_argnums() -> None:
    f = lambda x, y, z: x * y * z
    assert ag.value_and_grad(f)(1.0, 2.0, 3.0) == (6.0, 6.0)
    assert ag.value_and_grad(f, argnums=(0, 2))(1.0, 2.0, 3.0) == (6.0, (6.0, 2.0))
    assert ag.grad(f, argnums=-1)(1.0, 2.0, 3.0) == 2.0
    assert isinstance(ag.grad(f)(1, 2, 3), float)
    with pytest.raises(ValueError, match="out of range"):
        ag.grad(f, argnums=3)(1.0, 2.0, 3.0)
    with pytest.raises(TypeError, match="argnums"):
        ag.grad(f, argnums="0")(1.0, 2.0, 3.0)  # type: ignore[arg-type]


def test_functions_may_use_methods_or_operators() -> None:
    assert ag.grad(lambda x: x.sin())(0.0) == 1.0
    assert ag.grad(lambda x: abs(x) + x**2)(-1.0) == -3.0


def test_non_scalar_output_is_a_clear_type_error() -> None:
    with pytest.raises(TypeError, match="single Value or number"):
        ag.grad(lambda x: [x, x])(1.0)
    with pytest.raises(TypeError, match="numbers"):
        ag.grad(lambda x: x)("1.0")


def test_hessian_shape_and_values() -> None:
    h = ag.hessian(lambda x, y, z: x * y * z + x * x)(1.0, 2.0, 3.0)
    assert h == [[2.0, 3.0, 2.0], [3.0, 0.0, 1.0], [2.0, 1.0, 0.0]]
    assert all(isinstance(v, float) for row in h for v in row)


def test_transforms_work_under_no_grad() -> None:
    with ag.no_grad():
        assert ag.grad(lambda x: x * x)(3.0) == 6.0
