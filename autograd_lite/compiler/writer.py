"""Code writing: a traced program as the source text of one Python function.

:func:`write` names the terms (``v0, v1, ...`` for the nodes of the traced graph,
``d_x`` for the gradient of ``x``, ``t0, ...`` for the rest), writes one line per term
that needs one (a term used once is written inline, where its user needs it) and a
comment per line saying which op or edge of the chain rule it computes. Every primitive
is written the same way: Python's operator where its forward rule is one (``+``, ``>``,
``&``), else a call of a global named after its forward rule (``tanh(v3)``, ``div(x, y)``:
a call keeps IEEE results for NaN and inf, where ``/`` would raise).

It changes no term: the names live in the :class:`Written` it returns.

>>> from autograd_lite.compiler.terms import Program
>>> from autograd_lite.compiler.tracing import new_input, program
>>> x = new_input(0.5, "x")
>>> traced = []
>>> out = program(lambda v: (v * v).tanh(), [x], traced)
>>> print(write(Program("f", [("x", x)], out, tuple(traced))).source)
def f(x):
    v0 = x * x  # *
    v1 = tanh(v0)  # tanh
    return v1
<BLANKLINE>
"""

from __future__ import annotations

import keyword
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..ops import ADD, Primitive
from .terms import Program, Structure, Term, dependencies, flatten

__all__ = ["Written", "write"]

_COMPARISON, _UNARY, _ATOM = 3, 10, 12
_OPERATORS: dict[Callable[..., Any], tuple[str, int]] = {
    operator.gt: (">", _COMPARISON),
    operator.ge: (">=", _COMPARISON),
    operator.lt: ("<", _COMPARISON),
    operator.le: ("<=", _COMPARISON),
    operator.or_: ("|", 4),
    operator.and_: ("&", 6),
    operator.add: ("+", 8),
    operator.sub: ("-", 8),
    operator.mul: ("*", 9),
}
"""Python's binary operators by the function that computes them: (symbol, precedence)."""


@dataclass
class Written:
    """What :func:`write` returns: the source, and what the rest of the compiler needs
    to run it and to explain its errors."""

    name: str
    """The function's name in ``source``."""
    source: str
    """One ``def``: the parameters unpacked, one line per term, the return."""
    line_map: dict[int, Term] = field(default_factory=dict)
    """Line number in ``source`` -> the node of the traced graph that line computes."""
    names: dict[Term, str] = field(default_factory=dict)
    """Each term's variable in ``source`` (terms written inline have none)."""
    functions: dict[str, Primitive] = field(default_factory=dict)
    """The globals the code calls, by name, as primitives: bind their forward rules (or
    their array forms) to these names to run it."""


def _literal(x: float | bool) -> str:
    """A constant as source: ``inf`` and ``nan`` by name (the code's globals), a negative
    number in brackets so that no operator next to it can misread it (``x - (-1.0)``).

    >>> _literal(2.0), _literal(-1.5), _literal(-math.inf), _literal(-0.0), _literal(True)
    ('2.0', '(-1.5)', '(-inf)', '(-0.0)', 'True')
    """
    if isinstance(x, bool) or math.isnan(x):
        return repr(x)
    text = repr(abs(x)) if math.isfinite(x) else "inf"
    return f"(-{text})" if math.copysign(1.0, x) < 0 else text


class _Writer:
    """Names the terms of a program and writes its Python source."""

    def __init__(self, name: str) -> None:
        self.written = Written(name, "")
        self.names = self.written.names
        self.by_function: dict[Callable[..., Any], str] = {}
        self.taken: set[str] = {"inf", "nan", *keyword.kwlist}
        self.counters: dict[str, int] = {}

    def unique(self, base: str) -> str:
        name, n = base, 1
        while name in self.taken:
            n += 1
            name = f"{base}_{n}"
        self.taken.add(name)
        return name

    def numbered(self, prefix: str) -> str:
        while True:
            n = self.counters.get(prefix, 0)
            self.counters[prefix] = n + 1
            if f"{prefix}{n}" not in self.taken:
                self.taken.add(f"{prefix}{n}")
                return f"{prefix}{n}"

    def function(self, op: Primitive) -> str:
        """The global name the code calls ``op``'s forward rule by (``tanh``, ``where``)."""
        name = self.by_function.get(op.forward)
        if name is None:
            base = getattr(op.forward, "__name__", "").lstrip("_")
            if not base.isidentifier() or keyword.iskeyword(base):
                base = op.name if op.name.isidentifier() else "op"
            name = self.unique(base)
            self.written.functions[name] = op
            self.by_function[op.forward] = name
        return name

    def called(self, term: Term) -> str:
        """A term's variable, or for one written inline, its operation in brackets."""
        return self.names.get(term) or f"[{_op_name(term)}]"

    def expression(self, x: Any, parent: int = 0, right: bool = False) -> str:
        """``x`` as Python source, in parentheses where the surrounding operator needs them."""
        if not isinstance(x, Term):
            return _literal(x)
        if x in self.names:
            return self.names[x]
        text, precedence = self.operation(x)
        if precedence < parent or (precedence == parent and right):
            return f"({text})"
        return text

    def operation(self, t: Term) -> tuple[str, int]:
        """The right-hand side of the line that computes ``t``, with its precedence."""
        op: Primitive = t.op  # type: ignore[assignment]  # inputs have names
        args = t.args
        if op.forward in _OPERATORS and len(args) == 2:
            symbol, p = _OPERATORS[op.forward]
            bound = p + 1 if p == _COMPARISON else p  # a comparison's operands never compare
            left, right = self.expression(args[0], bound), self.expression(args[1], bound, True)
            return f"{left} {symbol} {right}", p
        if op.forward is operator.neg:
            return f"-{self.expression(args[0], _UNARY, True)}", _UNARY
        call = ", ".join(self.expression(a) for a in args)
        return f"{self.function(op)}({call})", _ATOM

    def comment(self, term: Term, note: Any) -> str:
        """What a line computes: its op, or the edge of the chain rule it is."""
        if note is None:
            return _op_name(term)
        node, arg, upstream = note
        node_name, arg_name = self.called(node), self.called(arg)
        return (
            f"{_op_name(node)} edge {node_name} → {arg_name}: "
            f"∂{node_name}/∂{arg_name} · {self.expression(upstream)}"
        )

    def signature(self, parameters: list[tuple[str, Term | list[Term]]]) -> tuple[str, list[str]]:
        """The parameters as the ``def`` lists them, and the lines that unpack the lists."""
        signature, unpacking = [], []
        for parameter, value in parameters:
            parameter = self.unique(parameter)  # never a name the code calls or assigns
            signature.append(parameter)
            if not isinstance(value, list):
                self.names[value] = parameter
            elif value:
                for i, t in enumerate(value):
                    self.names[t] = self.unique(f"{parameter}_{i}")
                names = ", ".join(self.names[t] for t in value)
                unpacking.append(f"    {names}{',' if len(value) == 1 else ''} = {parameter}")
        return ", ".join(signature), unpacking

    def line(self, term: Term, uses: dict[Term, int]) -> str:
        """The line that computes ``term`` (naming it): ``v3 = ...`` or ``d_x += ...``."""
        previous = term.args[0] if term.op is ADD and term.grad_of is not None else None
        if (
            isinstance(previous, Term)
            and previous.grad_of is term.grad_of
            and uses[previous] == 1
            and previous in self.names
        ):  # the next term of a gradient's sum: `d_x += ...`
            self.names[term] = self.names[previous]
            contribution = term.args[1]
            text = f"{self.names[term]} += {self.expression(contribution)}"
            note = contribution.note if isinstance(contribution, Term) else None
            return f"    {text}  # {self.comment(term, note)}"
        if term.kind == "forward":
            name = self.numbered("v")
        elif term.grad_of is not None:
            of = self.names.get(term.grad_of)
            name = self.unique(f"d_{of}") if of else self.numbered("d_t")
        else:
            name = self.numbered("t")
        self.names[term] = name
        right, _ = self.operation(term)
        added = term.args[1] if term.op is ADD and term.grad_of is not None else term
        note = added.note if isinstance(added, Term) else None
        return f"    {name} = {right}  # {self.comment(term, note)}"

    def output(self, structure: Structure) -> str:
        if isinstance(structure, tuple):
            items = [self.output(x) for x in structure]
            return f"({', '.join(items)}{',' if len(items) == 1 else ''})"
        if isinstance(structure, list):
            return f"[{', '.join(self.output(x) for x in structure)}]"
        return self.expression(structure)


def _op_name(term: Term) -> str:
    """The op's name for a comment, escaped: a name is any text, and a newline in a comment
    would end it and run the rest as code."""
    name = term.op if isinstance(term.op, str) else term.op.name
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in name)


def _uses(terms: list[Term], outputs: list[Any]) -> dict[Term, int]:
    """How often each term is an operand; an output counts twice (it gets its own line)."""
    uses: dict[Term, int] = dict.fromkeys(terms, 0)
    for term in terms:
        for arg in term.args:
            if isinstance(arg, Term):
                uses[arg] += 1
    for term in outputs:
        if isinstance(term, Term):
            uses[term] += 2
    return uses


def write(program: Program) -> Written:
    """The source of ``program`` as one Python function, with its line map, names and globals.

    A term gets a line of its own when it is a node of the traced graph, a gradient, or
    used more than once; the rest are written inline.

    Args:
        program: the traced program (its terms are read, never changed).

    Returns:
        The :class:`Written` function.
    """
    writer = _Writer(program.name)
    outputs = flatten(program.output)
    terms = dependencies([*outputs, *program.traced])
    uses = _uses(terms, outputs)
    signature, unpacking = writer.signature(program.parameters)
    lines: list[str] = []
    body_start = 2 + len(unpacking)  # the line number of the first line below
    for term in terms:
        if term.op == "input":
            continue
        if term.kind == "forward" or term.grad_of is not None or uses[term] != 1:
            if term.kind == "forward":
                writer.written.line_map[body_start + len(lines)] = term
            lines.append(writer.line(term, uses))
    returned = writer.output(program.output)
    header = f"def {program.name}({signature}):"
    writer.written.source = "\n".join([header, *unpacking, *lines, f"    return {returned}", ""])
    return writer.written
