"""The op table, op by op: forward against `math`, partials against finite differences.

Adding a primitive means one entry in `ops.PRIMITIVES` (with its test domain and array form),
one `Value` method, and its reference here and in torch_reference.py; the completeness tests
(here and in test_primitives.py) fail until all of them exist.
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
from autograd_lite.testing import op_inputs


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
    "atan": OpCase(Value.atan, lambda x: math.asin(x / math.sqrt(1.0 + x * x))),
}

OPS = sorted(ops.PRIMITIVES.values(), key=lambda op: op.name)


def test_every_primitive_has_a_domain_and_a_case() -> None:
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


def test_a_primitive_takes_one_or_two_inputs_and_says_so() -> None:
    with pytest.raises(ValueError, match="one or two inputs"):
        ops.Primitive("fma", lambda x, y, z: x * y + z, (1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="one or two inputs"):
        ops.Primitive("nothing", lambda: 0.0, ())
    with pytest.raises(TypeError, match="a rule"):
        ops.Primitive("bad", abs, ("1",))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="one domain per input"):
        ops.Primitive("bad", abs, (1.0,), (ops.REAL, ops.REAL))


def test_a_user_primitive_mixing_a_constant_and_a_rule_differentiates_to_any_order() -> None:
    """x + y² as one primitive: ∂/∂x is the constant 1, ∂/∂y the rule 2y."""
    shifted_square = ops.Primitive(
        "x+y²", lambda x, y: x + y * y, (1.0, lambda x, y, out, m: 2.0 * y)
    )
    assert not shifted_square.constant
    assert shifted_square.domains == (ops.REAL, ops.REAL)

    def f(x: Value, y: Value) -> Value:
        return ag.apply(shifted_square, x, y) * x

    assert ag.gradcheck(f, [0.7, -1.3])
    assert ag.gradgradcheck(f, [0.7, -1.3])
    x, y = Value(2.0), Value(3.0)
    ag.apply(shifted_square, x, y).backward()
    assert (x.grad, y.grad) == (1.0, 6.0)


def test_the_rules_never_branch_in_python() -> None:
    """Partial rules choose with m.where, so symbolic and array namespaces can serve them:
    called with a namespace whose `where` records its calls, every branching rule uses it."""
    calls: list[str] = []

    def where(condition: object, if_true: object, if_false: object) -> object:
        calls.append("where")
        return ops.FLOAT_MATH.where(condition, if_true, if_false)

    recording = type(ops.FLOAT_MATH)(**{**vars(ops.FLOAT_MATH), "where": where})
    for op, args in [(ops.RELU, (0.5,)), (ops.ABS, (-2.0,)), (ops.POW, (2.0, 3.0))]:
        out = op.forward(*args)
        for rule in op.partials:
            calls.clear()
            rule(*args, out, recording)  # type: ignore[operator]
            assert calls, f"{op.name}'s rule chooses without m.where"


@pytest.mark.parametrize("function", [Value.sqrt, lambda v: v**0.5])
def test_higher_derivatives_at_a_singular_point_follow_ieee(
    function: Callable[[Value], Value],
) -> None:
    """sqrt at 0: the slope is inf and the curvature -inf (as PyTorch), not an error."""
    first = ag.grad(function)
    assert first(0.0) == math.inf
    assert ag.grad(first)(0.0) == -math.inf
