"""gradcheck and gradgradcheck: they catch a wrong rule, name the input, refuse bad input."""

from __future__ import annotations

import math

import pytest

import autograd_lite as ag
from autograd_lite.engine import apply
from autograd_lite.ops import Primitive

WRONG_SIN = Primitive("wrong_sin", math.sin, (lambda x, out, m: m.sin(x),))  # should be cos


def test_gradcheck_fails_on_a_wrong_derivative_and_names_the_input() -> None:
    assert ag.gradcheck(lambda x, y: x * y.sin(), [0.3, 1.1])
    with pytest.raises(ag.GradcheckError) as info:
        ag.gradcheck(lambda x, y: x * apply(WRONG_SIN, y), [0.3, 1.1])
    message = str(info.value)
    assert "input[1]" in message
    assert "input[0]" not in message
    assert repr(0.3 * math.sin(1.1)) in message  # the wrong analytic value
    assert "(0.3, 1.1)" in message  # the point


def test_gradgradcheck_fails_when_only_the_value_path_of_a_rule_is_wrong() -> None:
    def cos_rule(x: object, out: object, m: object) -> object:
        return math.cos(x) if isinstance(x, float) else x * 0.0 + 1.0  # type: ignore[arg-type]

    half_wrong = Primitive("half_wrong_sin", math.sin, (cos_rule,))
    assert ag.gradcheck(lambda x: apply(half_wrong, x), [0.4])
    with pytest.raises(ag.GradcheckError, match=r"hessian\[0\]"):
        ag.gradgradcheck(lambda x: apply(half_wrong, x), [0.4])


def test_gradcheck_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="finite"):
        ag.gradcheck(lambda x: x, [math.nan])
    with pytest.raises(TypeError, match="Value or a number"):
        ag.gradcheck(lambda x: "x", [1.0])  # type: ignore[arg-type, return-value]
