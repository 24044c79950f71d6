"""Terms: the values of a traced program, and the arithmetic that writes code.

A :class:`Term` is an input of the program or a primitive of :mod:`autograd_lite.ops`
applied to older terms and constants. Arithmetic on terms builds new terms (folding what
is exact in floating point), so calling the op table's partial rules on terms with
:data:`CODE_MATH` as their math namespace gives the terms of their derivatives: that is how
the compiler reads its code off the same rules the engine computes with.

>>> x = Term("input")
>>> y = 1.0 - x * x
>>> y.op.name, y.args[0], y.args[1].op.name
('-', 1.0, '*')
"""

from __future__ import annotations

import functools
import itertools
import numbers
import operator
from collections.abc import Iterable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from ..grad_mode import TraceError
from ..ops import ADD, CONDITIONS, DIV, MATH, MUL, NEG, POW, SUB, WHERE, Primitive

__all__ = [
    "CODE_MATH", "Program", "Structure", "Term", "dependencies", "flatten", "make", "mark",
]  # fmt: skip

_term_clock = itertools.count()  # creation order of terms: arguments are always older
_AND, _OR = CONDITIONS["&"], CONDITIONS["|"]


class Term:
    """One value of a traced program: an input, or a primitive applied to older terms.

    ``op`` is a :class:`~autograd_lite.ops.Primitive` (``where`` and the conditions
    included) or ``"input"``; ``args`` its operands, terms and constants. Terms compare by
    identity and are ordered by ``index``, their creation order.

    Besides ``op`` and ``args``, a stage may note what it knows on the terms it makes:
    ``kind`` (``"input"``, ``"forward"`` for a node of the traced graph, or
    ``"temporary"``), ``name`` and ``value`` for an input, ``grad_of`` for a sum of
    chain-rule terms (whose gradient it is), ``note`` for one edge of the chain rule. The
    code writer reads them and changes none of them.

    >>> t = Term("input"); (t * 2.0).op.name, (t > 0.0).op.name
    ('*', '>')
    """

    __slots__ = ("args", "grad_of", "index", "kind", "name", "note", "op", "value")

    def __init__(self, op: Primitive | str, args: tuple[Any, ...] = ()) -> None:
        self.op = op
        self.args = args
        self.index = next(_term_clock)
        self.kind = "temporary"  # or "input", "forward" (a node of the traced graph)
        self.name = ""  # an input's name: its argument's
        self.value = 0.0  # an input's value in the call that traced it
        self.grad_of: Term | None = None  # for a sum of chain-rule terms: whose gradient
        self.note: tuple[Term, Term, Any] | None = None  # (node, input, upstream) of an edge

    def __repr__(self) -> str:
        return f"Term({self.op if isinstance(self.op, str) else self.op.name}, #{self.index})"

    def __bool__(self) -> bool:
        raise TraceError(
            "a partial rule branched in Python on a symbolic value; build the condition "
            "with <, >, &, | and choose with m.where(condition, if_true, if_false)"
        )

    __hash__ = object.__hash__  # identity, like Value: terms are keys of dicts

    def __add__(self, other: Any) -> Any:
        return make(ADD, self, other)

    def __radd__(self, other: Any) -> Any:
        return make(ADD, other, self)

    def __sub__(self, other: Any) -> Any:
        return make(SUB, self, other)

    def __rsub__(self, other: Any) -> Any:
        return make(SUB, other, self)

    def __mul__(self, other: Any) -> Any:
        return make(MUL, self, other)

    def __rmul__(self, other: Any) -> Any:
        return make(MUL, other, self)

    def __truediv__(self, other: Any) -> Any:
        return make(DIV, self, other)

    def __rtruediv__(self, other: Any) -> Any:
        return make(DIV, other, self)

    def __pow__(self, other: Any) -> Any:
        return make(POW, self, other)

    def __rpow__(self, other: Any) -> Any:
        return make(POW, other, self)

    def __neg__(self) -> Any:
        return make(NEG, self)

    def __gt__(self, other: Any) -> Any:
        return make(CONDITIONS[">"], self, other)

    def __ge__(self, other: Any) -> Any:
        return make(CONDITIONS[">="], self, other)

    def __lt__(self, other: Any) -> Any:
        return make(CONDITIONS["<"], self, other)

    def __le__(self, other: Any) -> Any:
        return make(CONDITIONS["<="], self, other)

    def __and__(self, other: Any) -> Any:
        return make(_AND, self, other)

    def __rand__(self, other: Any) -> Any:
        return make(_AND, other, self)

    def __or__(self, other: Any) -> Any:
        return make(_OR, self, other)

    def __ror__(self, other: Any) -> Any:
        return make(_OR, other, self)


def mark() -> int:
    """A number past every term's ``index`` so far: a term made later has a larger one."""
    return next(_term_clock)


def _operand(x: Any) -> Any:
    if isinstance(x, (Term, bool)):
        return x
    if isinstance(x, numbers.Real):
        return float(x)
    raise TypeError(f"a compiled expression takes terms and numbers, got {type(x).__name__}")


def make(op: Primitive, *operands: Any) -> Any:
    """The term for ``op`` applied to ``operands``, or a constant when it folds.

    Folds what is exact in floating point: an op on constants is computed, ``x * 1``,
    ``x / 1`` and ``x - 0`` are ``x``, ``-1 * x`` is ``-x``, and a known condition decides
    a ``where`` (and an ``&`` or ``|``).

    >>> x = Term("input")
    >>> make(MUL, 1.0, x) is x, make(ADD, 2.0, 3.0)
    (True, 5.0)
    """
    args = tuple(_operand(x) for x in operands)
    if not any(isinstance(x, Term) for x in args) or (
        op is WHERE and not isinstance(args[0], Term)
    ):
        return op.forward(*args)
    if len(args) == 2:
        x, y = args
        if op is MUL and x == 1.0 and not isinstance(x, Term):
            return y
        if (op is MUL or op is DIV) and y == 1.0 and not isinstance(y, Term):
            return x
        if op is SUB and y == 0.0 and not isinstance(y, Term):
            return x  # not x + 0: that turns -0.0 into 0.0
        if op is MUL and x == -1.0 and not isinstance(x, Term):
            return make(NEG, y)
        if op is _AND or op is _OR:  # a known condition decides or drops out
            known, other = (x, y) if isinstance(y, Term) else (y, x)
            if not isinstance(known, Term):
                return other if bool(known) == (op is _AND) else known
    return Term(op, args)


CODE_MATH = SimpleNamespace(
    **{name: functools.partial(make, op) for name, op in MATH.items()},
    where=functools.partial(make, WHERE),
)
"""The math namespace that makes the op table's rules write code: each call is a term."""


Structure = Any
"""What a traced function returns: a Term, a constant, or nested tuples/lists of them."""


@dataclass(frozen=True)
class Program:
    """A traced program, as the stages hand it on: named inputs, the output, every node.

    ``parameters`` are the generated function's parameters, each an input term or a list
    of them; ``traced`` holds every node of the traced graph, so the code computes them
    all (as eager code does) even where only a gradient is returned.
    """

    name: str
    parameters: list[tuple[str, Term | list[Term]]]
    output: Structure
    traced: tuple[Term, ...] = ()


def flatten(structure: Structure) -> list[Any]:
    """The terms and constants of a nested structure, in order."""
    if isinstance(structure, (tuple, list)):
        return [x for item in structure for x in flatten(item)]
    return [structure]


def dependencies(outputs: Iterable[Any]) -> list[Term]:
    """Every term the outputs depend on, oldest first (arguments before their users)."""
    found: set[Term] = set()
    stack = [t for t in outputs if isinstance(t, Term)]
    found.update(stack)
    while stack:
        for arg in stack.pop().args:
            if isinstance(arg, Term) and arg not in found:
                found.add(arg)
                stack.append(arg)
    return sorted(found, key=operator.attrgetter("index"))
