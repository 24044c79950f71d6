"""The op table, op by op: forward against `math`, partials against finite differences.

Adding a primitive means one entry in `ops.PRIMITIVES`, one `Value` method, one domain in
`autograd_lite.testing.DOMAINS` and one case below; the completeness test fails until all
four exist.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

import autograd_lite as ag
from autograd_lite import Value, ops
from autograd_lite.testing import DOMAINS, op_inputs


@dataclass(frozen=True)
class OpCase:
    call: Callable[..., Value]
    """How a user reaches the op on Values."""
    reference: Callable[..., float]
    """The same function computed independently on floats."""


CASES: dict[str, OpCase] = {
    "+": OpCase(operator.add, operator.add),
    "-": OpCase(operator.sub, operator.sub),
    "*": OpCase(operator.mul, operator.mul),
    "/": OpCase(operator.truediv, operator.truediv),
    "**": OpCase(operator.pow, operator.pow),
    "neg": OpCase(operator.neg, operator.neg),
    "abs": OpCase(abs, abs),
    "exp": OpCase(Value.exp, math.exp),
    "log": OpCase(Value.log, math.log),
    "sqrt": OpCase(Value.sqrt, math.sqrt),
    "sin": OpCase(Value.sin, math.sin),
    "cos": OpCase(Value.cos, math.cos),
    "tanh": OpCase(Value.tanh, lambda x: math.sinh(x) / math.cosh(x)),
    "sigmoid": OpCase(Value.sigmoid, lambda x: 1 / (1 + math.exp(-x))),
    "softplus": OpCase(Value.softplus, lambda x: math.log1p(math.exp(x))),
    "relu": OpCase(Value.relu, lambda x: max(x, 0.0)),
}

OPS = sorted(ops.PRIMITIVES.values(), key=lambda op: op.name)


def test_every_primitive_has_a_domain_and_a_case() -> None:
    assert set(DOMAINS) == set(ops.PRIMITIVES), "give every primitive a domain in testing.py"
    assert set(CASES) == set(ops.PRIMITIVES), "give every primitive an OpCase here"


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
@given(data=st.data())
def test_forward_matches_math_and_records_the_op(op: ops.Primitive, data: st.DataObject) -> None:
    args = data.draw(op_inputs(op))
    out = CASES[op.name].call(*(Value(x) for x in args))
    assert out.data == pytest.approx(CASES[op.name].reference(*args), rel=1e-12, abs=1e-300)
    assert out.op is op
    assert len(out.inputs) == op.arity


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
@given(data=st.data())
def test_partials_match_central_differences(op: ops.Primitive, data: st.DataObject) -> None:
    args = data.draw(op_inputs(op))
    assert ag.gradcheck(CASES[op.name].call, args)


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
@given(data=st.data())
def test_partials_on_floats_match_partials_on_values(
    op: ops.Primitive, data: st.DataObject
) -> None:
    """The one rule gives the same number on the float path and the Value path."""
    args = data.draw(op_inputs(op))
    xs = [Value(x) for x in args]
    out = CASES[op.name].call(*xs)
    as_values = ag.gradients(out, xs, create_graph=True)
    assert [g.data for g in as_values] == pytest.approx(list(out.local_grads), rel=1e-12)


@pytest.mark.parametrize("x", [-1e308, -1000.0, -746.0, 746.0, 1000.0, 1e308])
def test_tanh_and_sigmoid_are_stable_for_any_finite_input(x: float) -> None:
    assert Value(x).tanh().data == math.copysign(1.0, x)
    assert Value(x).sigmoid().data == (1.0 if x > 0 else 0.0)
    for method in (Value.tanh, Value.sigmoid):
        v = Value(x)
        method(v).backward()
        assert v.grad == 0.0


def test_sigmoid_is_accurate_in_both_tails() -> None:
    assert Value(-30.0).sigmoid().data == pytest.approx(math.exp(-30.0), rel=1e-12)
    assert Value(30.0).sigmoid().data == pytest.approx(1 - math.exp(-30.0), rel=1e-15)


@pytest.mark.parametrize(("method", "expected"), [(Value.relu, 0.0), (abs, 0.0)])
def test_kinks_at_zero_have_derivative_zero(
    method: Callable[[Value], Value], expected: float
) -> None:
    x = Value(0.0)
    method(x).backward()
    assert x.grad == expected


def test_relu_derivative_on_either_side_of_the_kink() -> None:
    for x, slope in ((-1e-9, 0.0), (1e-9, 1.0)):
        v = Value(x)
        v.relu().backward()
        assert v.grad == slope


@pytest.mark.parametrize(
    ("function", "x", "slope"),
    [
        (Value.sqrt, 0.0, math.inf),  # finite function, infinite slope: inf, not an error
        (lambda v: v**0.5, 0.0, math.inf),
        (lambda v: v**0, 0.0, 0.0),  # x**0 is constant
        (lambda v: v**2, 0.0, 0.0),
        (Value.exp, 1000.0, math.inf),  # exp overflows to inf, like IEEE
    ],
)
def test_derivatives_at_singular_points_follow_ieee(
    function: Callable[[Value], Value], x: float, slope: float
) -> None:
    v = Value(x)
    function(v).backward()
    assert v.grad == slope


def test_pow_with_value_exponent_at_zero_and_negative_base() -> None:
    x, y = Value(0.0), Value(2.0)
    (x**y).backward()
    assert (x.grad, y.grad) == (0.0, 0.0)  # 0**y is flat in y for y > 0 (PyTorch agrees)
    x, y = Value(-2.0), Value(3.0)
    (x**y).backward()
    assert x.grad == 12.0  # 3 * (-2)**2
    assert math.isnan(y.grad)  # (-2)**y is not real near y = 3: no slope along y


def test_a_constant_exponent_never_evaluates_log_of_the_base() -> None:
    x = Value(-3.0)
    ag.gradients(ag.gradients(x**2, [x], create_graph=True)[0], [x])  # would raise on log(-3)
