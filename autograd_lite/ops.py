"""The table of primitives: every derivative in the package is written here, once.

Each :class:`Primitive` pairs a forward rule on floats with one *partial-derivative
rule per input* (the style of PyTorch's ``derivatives.yaml`` and HIPS autograd's
``defvjp``). A partial rule is called as ``rule(*inputs, out, m)``:

- ``inputs`` and ``out`` are floats on the first-order fast path, or ``Value`` nodes
  when a differentiable gradient is wanted (``create_graph=True``);
- ``m`` is a small math namespace matching them: :data:`FLOAT_MATH` here, or the
  engine's differentiable ``Value`` functions.

So one formula serves every order of differentiation. Rules use ``out`` where it is
cheaper (``exp' = out``, ``tanh' = 1 - out²``). Partials are only evaluated for inputs
that need a gradient, so ``x ** 2`` never asks for ``log(x)``.

Forward rules raise ``ValueError``/``ZeroDivisionError`` outside their domain; the
engine re-raises them as a ``ValueError`` naming the op. Overflow gives ``±inf`` as in
IEEE arithmetic. Partial rules on floats never raise: at a point where the derivative
is infinite (``sqrt`` at 0) they return ``inf``, like PyTorch.

This module imports nothing from the package.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FLOAT_MATH", "PRIMITIVES", "FloatMath", "Primitive"]


@dataclass(frozen=True, eq=False)
class Primitive:
    """One differentiable operation: its symbol, forward rule and partial rules.

    >>> MUL.forward(3.0, 4.0), [d(3.0, 4.0, 12.0, FLOAT_MATH) for d in MUL.partials]
    (12.0, [4.0, 3.0])
    """

    name: str
    """The symbol drawn in graphs and used in error messages (``"*"``, ``"tanh"``)."""
    forward: Callable[..., float]
    """Floats in, a float out."""
    partials: tuple[float | Callable[..., Any], ...]
    """``partials[i](*inputs, out, m)`` is ∂out/∂inputs[i]; a plain number if constant."""

    constant: bool = field(init=False)
    """True when every partial is a number (``+``, ``-``): nothing to compute per node."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "constant", all(isinstance(p, float) for p in self.partials))

    @property
    def arity(self) -> int:
        return len(self.partials)

    def __repr__(self) -> str:
        return f"Primitive({self.name!r})"


# --- forward rules that need more than one operator -------------------------------


def _exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:  # IEEE: e**1000 is inf, not an error
        return math.inf


def _pow(x: float, y: float) -> float:
    # math.pow, unlike **, never returns a complex number: (-2) ** 0.5 raises ValueError.
    try:
        return math.pow(x, y)
    except OverflowError:
        odd_integer = y == math.floor(y) and y % 2 == 1
        return -math.inf if x < 0 and odd_integer else math.inf


def _sin(x: float) -> float:
    return math.sin(x) if math.isfinite(x) else math.nan  # IEEE: sin(inf) is NaN


def _cos(x: float) -> float:
    return math.cos(x) if math.isfinite(x) else math.nan


def _sigmoid(x: float) -> float:
    # Two branches so that exp never overflows: for x < 0 use e^x / (1 + e^x).
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def _softplus(x: float) -> float:
    # log(1 + e^x) = max(x, 0) + log1p(e^-|x|): exp never overflows, nothing is lost near 0.
    return max(x, 0.0) + math.log1p(math.exp(-abs(x))) if x == x else x


def _relu(x: float) -> float:
    return 0.0 if x <= 0 else x  # NaN is not <= 0, so it propagates


class FloatMath:
    """The math namespace that partial rules get on the float fast path.

    Unlike :mod:`math` these follow IEEE 754 at singular points instead of raising,
    because a derivative may be infinite where the function itself is finite.

    >>> FloatMath.pow(0.0, -0.5), FloatMath.log(0.0)
    (inf, -inf)
    """

    @staticmethod
    def log(x: float) -> float:
        if x > 0 or x != x:  # positive or NaN
            return math.log(x)
        return -math.inf if x == 0 else math.nan

    @staticmethod
    def pow(x: float, y: float) -> float:
        try:
            return math.pow(x, y)
        except ValueError:  # 0 ** negative, or negative ** fraction
            return math.inf if x == 0 else math.nan
        except OverflowError:
            return math.inf

    sin = staticmethod(_sin)
    cos = staticmethod(_cos)
    sigmoid = staticmethod(_sigmoid)


FLOAT_MATH = FloatMath()


# --- partial rules that need more than one expression ---------------------------


def _d_pow_d_base(x: Any, y: Any, out: Any, m: Any) -> Any:
    """∂(x**y)/∂x = y · x**(y-1); 0 at x = y = 0, where x**0 is flat (0 · inf otherwise)."""
    if float(y) == 0.0 and float(x) == 0.0:
        return 0.0
    return y * m.pow(x, y - 1.0)


def _d_pow_d_exponent(x: Any, y: Any, out: Any, m: Any) -> Any:
    """∂(x**y)/∂y = x**y · log(x); at x = 0 the power is flat in y (0 as PyTorch)."""
    if x > 0:
        return out * m.log(x)
    return 0.0 if float(x) == 0.0 else math.nan  # no real slope along y for x < 0


def _sign(x: Any, out: Any, m: Any) -> float:
    """∂|x|/∂x = sign(x), with sign(0) = 0 as PyTorch."""
    return 1.0 if x > 0 else -1.0 if x < 0 else 0.0


# --- the table --------------------------------------------------------------------
# One rule per input: the partial derivative of `out` with respect to that input.

ADD = Primitive("+", operator.add, (1.0, 1.0))
SUB = Primitive("-", operator.sub, (1.0, -1.0))
MUL = Primitive("*", operator.mul, (
    lambda x, y, out, m: y,
    lambda x, y, out, m: x,
))  # fmt: skip
DIV = Primitive("/", operator.truediv, (
    lambda x, y, out, m: 1.0 / y,
    lambda x, y, out, m: -out / y,
))  # fmt: skip
POW = Primitive("**", _pow, (
    _d_pow_d_base,
    _d_pow_d_exponent,
))  # fmt: skip
NEG = Primitive("neg", operator.neg, (-1.0,))
ABS = Primitive("abs", abs, (_sign,))
EXP = Primitive("exp", _exp, (lambda x, out, m: out,))
LOG = Primitive("log", math.log, (lambda x, out, m: 1.0 / x,))
SQRT = Primitive("sqrt", math.sqrt, (lambda x, out, m: 0.5 * m.pow(out, -1.0),))
SIN = Primitive("sin", _sin, (lambda x, out, m: m.cos(x),))
COS = Primitive("cos", _cos, (lambda x, out, m: -m.sin(x),))
TANH = Primitive("tanh", math.tanh, (lambda x, out, m: 1.0 - out * out,))
SIGMOID = Primitive("sigmoid", _sigmoid, (lambda x, out, m: out * (1.0 - out),))
SOFTPLUS = Primitive("softplus", _softplus, (lambda x, out, m: m.sigmoid(x),))
RELU = Primitive("relu", _relu, (lambda x, out, m: 1.0 if out > 0 else 0.0,))

PRIMITIVES: dict[str, Primitive] = {
    op.name: op
    for op in (
        ADD,
        SUB,
        MUL,
        DIV,
        POW,
        NEG,
        ABS,
        EXP,
        LOG,
        SQRT,
        SIN,
        COS,
        TANH,
        SIGMOID,
        SOFTPLUS,
        RELU,
    )
}
"""Every primitive by name: what the table-driven tests loop over."""
