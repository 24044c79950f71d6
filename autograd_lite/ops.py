"""The table of primitives: every derivative in the package is written here, once.

Each :class:`Primitive` pairs a forward rule on floats with one *partial-derivative
rule per input* (the style of PyTorch's ``derivatives.yaml`` and HIPS autograd's
``defvjp``). A partial rule is called as ``rule(*inputs, out, m)``:

- ``inputs`` and ``out`` are floats on the first-order fast path, or ``Value`` nodes
  when a differentiable gradient is wanted (``create_graph=True``);
- ``m`` is a small math namespace matching them: :data:`FLOAT_MATH` here, the
  engine's differentiable ``Value`` functions, or the compiler's code-writing one. It
  offers the functions of :data:`MATH` and ``m.where(condition, if_true, if_false)``.

So one formula serves every order of differentiation, and the compiler reads its code
off the same rules. A rule therefore never branches in Python on its inputs: it builds
conditions with ``<``, ``<=``, ``>``, ``>=``, ``&`` and ``|`` and chooses with ``m.where``.

Rules use ``out`` where it is cheaper (``exp' = out``, ``tanh' = 1 - out²``). Partials
are only evaluated for inputs that need a gradient, so ``x ** 2`` never asks for ``log(x)``.

Forward rules raise ``ValueError``/``ZeroDivisionError`` where finite inputs have no
real result (``log(0)``, ``1/0``, ``sqrt(-1)``); the engine re-raises them as a
``ValueError`` naming the op. A NaN or infinite input propagates as IEEE 754 says
(``nan/0`` is NaN, ``inf/0`` is inf, ``log(-inf)`` is NaN), and overflow gives ``±inf``.
Partial rules on floats never raise: at a point where the derivative is infinite
(``sqrt`` at 0) they return ``inf``, like PyTorch.

Each primitive also carries what every other consumer needs, so adding one is one entry
here plus one ``Value`` method: its *test domain* (where each input may lie for a
finite-difference check to be meaningful, used by :mod:`autograd_lite.testing`), its
*array form* (how compiled code runs it over NumPy columns) and, for a function of one
input, the *name* it is called by (``x.atan()``; the explorer's ``atan(x)``).

``where`` and the conditions (``>``, ``>=``, ``<``, ``<=``, ``&``, ``|``) are entries too,
though no ``Value`` records them: partial rules build them, and generated code runs them.

This module imports nothing from the package.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

__all__ = ["CONDITIONS", "FLOAT_MATH", "MATH", "PRIMITIVES", "WHERE", "Domain", "Primitive"]

Domain = tuple[tuple[float, float], ...]
"""A union of closed intervals ``((lo, hi), ...)``."""

REAL: Domain = ((-10.0, 10.0),)
POSITIVE: Domain = ((0.1, 10.0),)
NONZERO: Domain = ((-10.0, -0.1), (0.1, 10.0))
AWAY_FROM_KINK: Domain = ((-10.0, -0.01), (0.01, 10.0))


@dataclass(frozen=True, eq=False)
class Primitive:
    """One differentiable operation: its symbol, forward rule, partial rules and test domain.

    A primitive takes one or two inputs. Each partial is a rule ``(*inputs, out, m)`` or,
    when it is constant, a plain number; constants and rules may be mixed.

    >>> MUL.forward(3.0, 4.0), [d(3.0, 4.0, 12.0, FLOAT_MATH) for d in MUL.partials]
    (12.0, [4.0, 3.0])
    >>> Primitive("cube", lambda x: x**3, (lambda x, out, m: 3.0 * x * x,)).arity
    1

    Attributes:
        name: the symbol drawn in graphs and used in messages (``"*"``, ``"tanh"``).
        forward: floats in, a float out.
        partials: ``partials[i](*inputs, out, m)`` is ∂out/∂inputs[i]; a plain number if
            constant.
        domains: where each input may lie for a finite-difference test (default: [-10, 10]).
        array: how it runs over NumPy arrays: the name of a NumPy function (``"arctan"``),
            or a rule ``(np, *columns)`` written against the namespace ``np``. None: no
            array form, so compiled code that uses it runs row by row.
        function: for a function of one input, the name it is called by: the ``Value``
            method (``x.atan()``) and the explorer's ``atan(x)``. None for an operator.
        recorded: False for ``where`` and the conditions: only partial rules and generated
            code use them, never a ``Value``, so ``where`` may take three inputs.
        constant: True when every partial is a number (``+``, ``-``): nothing to compute
            per node.

    Raises:
        ValueError: a count of rules or domains that does not fit, or a function name
            that is no identifier or names an op of two inputs.
        TypeError: a forward rule, partial or array form of the wrong kind.
    """

    name: str
    forward: Callable[..., float]
    partials: tuple[float | Callable[..., Any], ...]
    domains: tuple[Domain, ...] = ()
    array: str | Callable[..., Any] | None = field(default=None, kw_only=True)
    function: str | None = field(default=None, kw_only=True)
    recorded: bool = field(default=True, kw_only=True)
    constant: bool = field(init=False)

    def __post_init__(self) -> None:
        if not callable(self.forward):
            raise TypeError(f"primitive {self.name!r}: forward must be a function of floats")
        if not (self.array is None or isinstance(self.array, str) or callable(self.array)):
            raise TypeError(f"primitive {self.name!r}: array is a NumPy function's name or a rule")
        partials = tuple(self.partials)
        if len(partials) not in ((1, 2) if self.recorded else (1, 2, 3)):
            raise ValueError(
                f"primitive {self.name!r} has {len(partials)} partial rules: a primitive "
                "takes one or two inputs (one rule each); build wider ops from several"
            )
        for rule in partials:
            if not (callable(rule) or isinstance(rule, numbers.Real)):
                raise TypeError(
                    f"primitive {self.name!r}: a partial is a rule (*inputs, out, m) or a "
                    f"number, got {type(rule).__name__}"
                )
        constant = not any(callable(rule) for rule in partials)
        if not constant:  # mixed: the constants become rules, so the engine sees one kind
            partials = tuple(
                rule if callable(rule) else _constant_partial(rule) for rule in partials
            )
        else:
            partials = tuple(float(rule) for rule in partials)  # type: ignore[arg-type]
        domains = self.domains or (REAL,) * len(partials)
        if len(domains) != len(partials) or not all(
            domain and all(lo <= hi for lo, hi in domain) for domain in domains
        ):
            raise ValueError(
                f"primitive {self.name!r}: give one domain per input, each a tuple of "
                f"(lo, hi) intervals with lo <= hi, got {self.domains!r}"
            )
        function = self.function
        if function is not None and (len(partials) != 1 or not str(function).isidentifier()):
            raise ValueError(f"primitive {self.name!r}: function names a function of one input")
        object.__setattr__(self, "partials", partials)
        object.__setattr__(self, "domains", domains)
        object.__setattr__(self, "constant", constant)

    @property
    def arity(self) -> int:
        return len(self.partials)

    def __repr__(self) -> str:
        return f"Primitive({self.name!r})"


def _constant_partial(value: float) -> Callable[..., float]:
    number = float(value)
    return lambda *inputs_out_m: number


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


def _div(x: float, y: float) -> float:
    try:
        return x / y
    except ZeroDivisionError:
        if math.isfinite(x):
            raise  # 1/0 has no value
        return x * math.copysign(1.0, y)  # IEEE: ±inf/±0 is ±inf, nan/0 is nan


def _log(x: float) -> float:
    return math.nan if x == -math.inf else math.log(x)  # IEEE: log(-inf) is NaN


def _sqrt(x: float) -> float:
    return math.nan if x == -math.inf else math.sqrt(x)


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


def _ieee_log(x: float) -> float:
    """log as IEEE 754 has it: -inf at 0 and NaN below, instead of an error."""
    if x > 0 or x != x:  # positive or NaN
        return math.log(x)
    return -math.inf if x == 0 else math.nan


def _ieee_pow(x: float, y: float) -> float:
    """x**y as IEEE 754 has it: inf for 0 ** negative, NaN for negative ** fraction."""
    try:
        return math.pow(x, y)
    except ValueError:  # 0 ** negative, or negative ** fraction
        return math.inf if x == 0 else math.nan
    except OverflowError:
        return math.inf


def _where(condition: Any, if_true: Any, if_false: Any) -> Any:
    return if_true if condition else if_false


# --- array forms that need more than one NumPy function: the same branches, by column ----


def _sigmoid_array(np: Any, x: Any) -> Any:
    z = np.exp(-np.abs(x))  # never overflows, as in _sigmoid
    return np.where(x >= 0.0, 1.0 / (1.0 + z), z / (1.0 + z))


def _softplus_array(np: Any, x: Any) -> Any:
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def _relu_array(np: Any, x: Any) -> Any:
    return np.where(x <= 0.0, 0.0, x)


# --- partial rules that need more than one expression ---------------------------


def _is_zero(x: Any) -> Any:
    return (x >= 0.0) & (x <= 0.0)  # not `x == 0`: on Values == means identity


def _d_pow_d_base(x: Any, y: Any, out: Any, m: Any) -> Any:
    """∂(x**y)/∂x = y · x**(y-1); 0 at x = y = 0, where x**0 is flat (0 · inf otherwise).
    The branch not taken sees a harmless base, so its own derivatives stay finite."""
    flat = _is_zero(x) & _is_zero(y)
    return m.where(flat, 0.0, y * m.pow(m.where(flat, 1.0, x), y - 1.0))


def _d_pow_d_exponent(x: Any, y: Any, out: Any, m: Any) -> Any:
    """∂(x**y)/∂y = x**y · log(x); at x = 0 the power is flat in y (0 as PyTorch), and
    for x < 0 there is no real slope along y (NaN). log only ever sees a positive base."""
    return m.where(x > 0.0, out * m.log(m.where(x > 0.0, x, 1.0)), m.where(x >= 0.0, 0.0, math.nan))


def _sign(x: Any, out: Any, m: Any) -> Any:
    """∂|x|/∂x = sign(x), with sign(0) = 0 as PyTorch."""
    return m.where(x > 0.0, 1.0, m.where(x < 0.0, -1.0, 0.0))


# --- the table --------------------------------------------------------------------
# One rule per input: the partial derivative of `out` with respect to that input.

ADD = Primitive("+", operator.add, (1.0, 1.0), array="add")
SUB = Primitive("-", operator.sub, (1.0, -1.0), array="subtract")
MUL = Primitive("*", operator.mul, (
    lambda x, y, out, m: y,
    lambda x, y, out, m: x,
), array="multiply")  # fmt: skip
DIV = Primitive("/", _div, (
    lambda x, y, out, m: m.pow(y, -1.0),  # not 1/y: at y = 0 (nan/0, inf/0) it is inf, no error
    lambda x, y, out, m: -out * m.pow(y, -1.0),
), (REAL, NONZERO), array="divide")  # fmt: skip
POW = Primitive("**", _pow, (
    _d_pow_d_base,
    _d_pow_d_exponent,
), (((0.1, 5.0),), ((-3.0, 3.0),)), array="power")  # fmt: skip
NEG = Primitive("neg", operator.neg, (-1.0,), array="negative")
ABS = Primitive("abs", abs, (_sign,), (AWAY_FROM_KINK,), array="abs", function="abs")
EXP = Primitive("exp", _exp, (lambda x, out, m: out,), array="exp", function="exp")
LOG = Primitive("log", _log, (lambda x, out, m: 1.0 / x,), (POSITIVE,), array="log", function="log")
SQRT = Primitive("sqrt", _sqrt, (lambda x, out, m: 0.5 * m.pow(out, -1.0),), (POSITIVE,),
                 array="sqrt", function="sqrt")  # fmt: skip
SIN = Primitive("sin", _sin, (lambda x, out, m: m.cos(x),), array="sin", function="sin")
COS = Primitive("cos", _cos, (lambda x, out, m: -m.sin(x),), array="cos", function="cos")
TANH = Primitive("tanh", math.tanh, (lambda x, out, m: 1.0 - out * out,),
                 array="tanh", function="tanh")  # fmt: skip
SIGMOID = Primitive("sigmoid", _sigmoid, (lambda x, out, m: out * (1.0 - out),),
                    array=_sigmoid_array, function="sigmoid")  # fmt: skip
SOFTPLUS = Primitive("softplus", _softplus, (lambda x, out, m: m.sigmoid(x),),
                     array=_softplus_array, function="softplus")  # fmt: skip
RELU = Primitive("relu", _relu, (lambda x, out, m: m.where(out > 0.0, 1.0, 0.0),),
                 (AWAY_FROM_KINK,), array=_relu_array, function="relu")  # fmt: skip
ATAN = Primitive("atan", math.atan, (lambda x, out, m: 1.0 / (1.0 + x * x),),
                 array="arctan", function="atan")  # fmt: skip

PRIMITIVES: dict[str, Primitive] = {op.name: op for op in (
    ADD, SUB, MUL, DIV, POW, NEG, ABS, EXP, LOG, SQRT, SIN, COS, TANH, SIGMOID, SOFTPLUS, RELU,
    ATAN,
)}  # fmt: skip
"""Every primitive a ``Value`` records, by name: what the table-driven tests loop over."""

# --- choosing: what partial rules branch with ---------------------------------------
# A condition is piecewise constant, so its partials are 0. `where` passes the gradient to
# the branch it takes; a reverse sweep over code applies that as a choice, not a product,
# so the branch not taken gets an exact 0 (never 0 · inf).

CONDITIONS: dict[str, Primitive] = {
    symbol: Primitive(symbol, compare, (0.0, 0.0), array=numpy_name, recorded=False)
    for symbol, compare, numpy_name in [
        (">", operator.gt, "greater"), (">=", operator.ge, "greater_equal"),
        ("<", operator.lt, "less"), ("<=", operator.le, "less_equal"),
        ("&", operator.and_, "logical_and"), ("|", operator.or_, "logical_or"),
    ]
}  # fmt: skip
# where(condition, if_true, if_false): how a partial rule chooses, as `m.where`.
WHERE = Primitive("where", _where, (
    0.0,
    lambda condition, x, y, out, m: m.where(condition, 1.0, 0.0),
    lambda condition, x, y, out, m: m.where(condition, 0.0, 1.0),
), array="where", recorded=False)  # fmt: skip

# --- the math namespace the partial rules call through `m` ------------------------
# Derivatives may be infinite where the function is finite (sqrt' at 0), so the rules'
# log and pow follow IEEE 754 instead of raising; their own partials are the table's.

MATH: dict[str, Primitive] = {
    "log": Primitive("log", _ieee_log, LOG.partials, LOG.domains, array="log"),
    "pow": Primitive("**", _ieee_pow, POW.partials, POW.domains, array="power"),
    "sin": SIN,
    "cos": COS,
    "sigmoid": SIGMOID,
}
"""The functions a partial rule may call as ``m.<name>``, as primitives: every namespace
(floats, Values, generated code, arrays) is made from this one list, plus ``m.where``."""

FLOAT_MATH = SimpleNamespace(**{name: op.forward for name, op in MATH.items()}, where=_where)
"""The namespace partial rules get on the float fast path.

>>> FLOAT_MATH.pow(0.0, -0.5), FLOAT_MATH.log(0.0), FLOAT_MATH.where(1.0 > 0, "yes", "no")
(inf, -inf, 'yes')
"""
