"""Compiled mode: trace a function once, then run it as generated straight-line Python.

``ag.compile(f)`` calls ``f`` once on placeholder ``Value`` s, reads the graph they
recorded (in :func:`~autograd_lite.engine.topological_order`) and writes one Python
function with one line per node. Later calls with arguments of the same structure run
that function on plain floats: no graph, no objects, many times faster.

Composed with a functional transform (``ag.compile(ag.value_and_grad(f))``, like JAX's
``jit(grad(f))``) it writes the backward pass too, by a reverse sweep over the traced
program. The sweep gets each local derivative from the op table's own partial rules,
called on symbolic :class:`Term` s with a math namespace that writes code instead of
computing, so no derivative is written twice. Constants are folded, and no line is
written for a gradient nobody asked for.

>>> import autograd_lite as ag
>>> neuron = ag.compile(ag.value_and_grad(lambda w, x: (w[0] * x + w[1]).tanh()))
>>> value, (dw0, dw1) = neuron([0.5, 0.1], 2.0)
>>> round(value, 6), round(dw0, 6), round(dw1, 6)
(0.800499, 0.718403, 0.359201)
>>> print(neuron.source)  # doctest: +NORMALIZE_WHITESPACE
def value_and_grad_lambda(w, x):
    w_0, w_1 = w
    v0 = w_0 * x  # *
    v1 = v0 + w_1  # +
    v2 = tanh(v1)  # tanh
    d_v1 = 1.0 - v2 * v2  # tanh edge v2 → v1: ∂v2/∂v1 · 1.0
    d_w_0 = x * d_v1  # * edge v0 → w_0: ∂v0/∂w_0 · d_v1
    return (v2, [d_w_0, d_v1])

Values that ``f`` closes over are constants, frozen at their value when it was traced:
pass what changes as an argument. Python control flow on a traced Value (``if``,
comparisons, ``float()``, ``bool()``) raises :class:`TraceError`; branches *inside*
primitives (``relu``, ``abs``) are part of the generated code.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import keyword
import linecache
import math
import numbers
import operator
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from types import SimpleNamespace, TracebackType
from typing import Any

from . import ops
from .engine import TraceError, Value, domain_error, topological_order, tracing
from .functional import Transform, inside_transform, positions
from .ops import ADD, DIV, FLOAT_MATH, MATH, MUL, NEG, POW, SUB, Primitive

__all__ = ["Compiled", "Generated", "Term", "TraceError", "compile", "trace", "trace_gradient"]

Constant = float | bool
Operand = "Term | float | bool"

_clock = itertools.count()  # creation order of terms: arguments are always older


class Term:
    """One value of a traced program: an input, or an operation on older terms.

    ``op`` is a :class:`~autograd_lite.ops.Primitive`, ``"input"``, ``"where"``, or a
    condition (``">"``, ``">="``, ``"<"``, ``"<="``, ``"&"``, ``"|"``). Arithmetic on
    terms builds new terms (folding constants), which is how the op table's rules write
    code: ``1.0 - out * out`` on a term is the term for that expression.
    """

    __slots__ = ("args", "grad_of", "index", "kind", "name", "note", "op", "value")

    def __init__(self, op: Primitive | str, args: tuple[Any, ...] = ()) -> None:
        self.op = op
        self.args = args
        self.index = next(_clock)
        self.kind = "temporary"  # or "input", "forward" (a node of the traced graph)
        self.name = ""  # inputs are named by their argument; the generator names the rest
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
        return make(">", self, other)

    def __ge__(self, other: Any) -> Any:
        return make(">=", self, other)

    def __lt__(self, other: Any) -> Any:
        return make("<", self, other)

    def __le__(self, other: Any) -> Any:
        return make("<=", self, other)

    def __and__(self, other: Any) -> Any:
        return make("&", self, other)

    def __rand__(self, other: Any) -> Any:
        return make("&", other, self)

    def __or__(self, other: Any) -> Any:
        return make("|", self, other)

    def __ror__(self, other: Any) -> Any:
        return make("|", other, self)


_CONDITIONS: dict[str, Callable[[Any, Any], Any]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "&": operator.and_,
    "|": operator.or_,
}


def _operand(x: Any) -> Any:
    if isinstance(x, (Term, bool)):
        return x
    if isinstance(x, numbers.Real):
        return float(x)
    raise TypeError(f"a compiled expression takes terms and numbers, got {type(x).__name__}")


def make(op: Primitive | str, *operands: Any) -> Any:
    """The term for ``op`` applied to ``operands``, or a constant when it folds.

    Folds what is exact in floating point: an op on constants is computed, ``x * 1``,
    ``x / 1`` and ``x - 0`` are ``x``, ``-1 * x`` is ``-x``, and a known condition decides
    a ``where`` (and an ``&`` or ``|``).

    >>> x = Term("input")
    >>> make(MUL, 1.0, x) is x, make(ADD, 2.0, 3.0)
    (True, 5.0)
    """
    args = tuple(_operand(x) for x in operands)
    if not any(isinstance(x, Term) for x in args):
        if op == "where":
            return args[1] if args[0] else args[2]
        if isinstance(op, str):
            return _CONDITIONS[op](*args)
        return op.forward(*args)
    if op == "where" and not isinstance(args[0], Term):
        return args[1] if args[0] else args[2]
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
        if op in ("&", "|"):  # a known condition decides or drops out
            known, other = (x, y) if isinstance(y, Term) else (y, x)
            if not isinstance(known, Term):
                return other if bool(known) == (op == "&") else known
    return Term(op, args)


CODE_MATH = SimpleNamespace(
    **{name: functools.partial(make, op) for name, op in MATH.items()},
    where=functools.partial(make, "where"),
)
"""The math namespace that makes the op table's rules write code: each call is a term."""


# --- tracing --------------------------------------------------------------------------

Structure = Any  # a Term, a constant, or nested tuples/lists of them


def _describe(f: Callable[..., Any]) -> str:
    if isinstance(f, Transform):
        return f"{f.kind}({_describe(f.f)})"
    return getattr(f, "__name__", None) or type(f).__name__


def _innermost(f: Callable[..., Any]) -> Callable[..., Any]:
    return _innermost(f.f) if isinstance(f, Transform) else f


def program(
    f: Callable[..., Any], args: Sequence[Term | list[Term]], traced: list[Term]
) -> Structure:
    """What ``f`` computes from the input terms ``args``, as terms.

    A plain function is traced (run once on placeholder Values); a transform traces the
    function it wraps and differentiates the result as a program. Every term the trace
    records is added to ``traced``: the code computes them all, as eager code does, so
    a domain error is raised even where only a gradient is returned.
    """
    if not isinstance(f, Transform):
        return _trace(f, args, traced)
    if f.kind == "hessian":
        if any(isinstance(a, list) for a in args):
            raise TypeError("hessian takes numbers, not lists")
        out = _single(f.f, program(f.f, args, traced))
        return [gradients(g, args) for g in gradients(out, args)]  # type: ignore[arg-type]
    chosen = positions(f.argnums, len(args))
    if any(args[i] == [] for i in chosen):
        raise ValueError("an argument to differentiate is an empty list")
    out = _single(f.f, program(f.f, args, traced))
    wanted = [args[i] for i in chosen]
    found = iter(gradients(out, [t for w in wanted for t in (w if isinstance(w, list) else [w])]))
    slopes = [[next(found) for _ in w] if isinstance(w, list) else next(found) for w in wanted]
    slope = slopes[0] if isinstance(f.argnums, int) else tuple(slopes)
    return slope if f.kind == "grad" else (out, slope)


def _single(f: Callable[..., Any], out: Structure) -> Term | float:
    if isinstance(out, (Term, float)):
        return out
    raise TypeError(f"f must return a single Value or number, got {type(out).__name__}")


def _trace(
    f: Callable[..., Any],
    args: Sequence[Term | list[Term]],
    traced: list[Term],
    bound: dict[Value, Term] | None = None,
) -> Structure:
    """Run ``f`` on placeholder Values for ``args`` and read its graph back as terms.

    ``bound`` maps Values that ``f`` closes over (a model's parameters) to input terms;
    every other Value it closes over is a constant. Transforms called inside ``f`` give
    Values (as when nested), so what they compute is traced too.
    """
    placeholders: dict[Value, Term] = dict(bound or {})

    def placeholder(term: Term) -> Value:
        value = Value(term.value, label=term.name)
        placeholders[value] = term
        return value

    call_args = [
        [placeholder(t) for t in a] if isinstance(a, list) else placeholder(a) for a in args
    ]
    with tracing(_describe(f)), inside_transform():
        out = f(*call_args)
    graph = topological_order(list(_values_in(out)))
    terms: dict[Value, Any] = {}
    for node in graph:
        if node in placeholders:
            terms[node] = placeholders[node]
        elif node.op is None:
            terms[node] = node.data  # a constant: f closed over it, or computed it from constants
        else:
            mark = next(_clock)
            term = make(node.op, *(terms[x] for x in node.inputs))
            if isinstance(term, Term) and term.index > mark:
                term.kind = "forward"
                traced.append(term)
            terms[node] = term
    return _restructure(out, terms)


def _values_in(out: Any) -> Iterable[Value]:
    if isinstance(out, Value):
        yield out
    elif isinstance(out, (tuple, list)):
        for item in out:
            yield from _values_in(item)
    elif not isinstance(out, numbers.Real):
        raise TypeError(
            "a compiled function returns Values, numbers, or tuples and lists of them; "
            f"got {type(out).__name__}"
        )


def _restructure(out: Any, terms: dict[Value, Any]) -> Structure:
    if isinstance(out, Value):
        return terms[out]
    if isinstance(out, (tuple, list)):
        return type(out)(_restructure(item, terms) for item in out)
    return float(out)


# --- the reverse sweep, on terms ---------------------------------------------------------


def _dependencies(outputs: Iterable[Any]) -> list[Term]:
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


Gate = tuple[tuple[Any, bool], ...]
"""The branches of ``where`` terms a gradient flowed through: (condition, taken if true)."""


def gradients(output: Term | float, wrt: Sequence[Term]) -> list[Any]:
    """∂output/∂w for each term w of ``wrt``, as terms: the backward pass, written out.

    The same sweep as the engine's, in the same order: newest term first, each adding
    ``partial · upstream`` into every input that leads to ``wrt``. The partials come
    from the op table's rules called on terms with :data:`CODE_MATH`.

    Differentiating a ``where`` (a second-order sweep through a rule that branches)
    reaches both branches, while the eager engine only ever built the chosen one. So the
    gradient inside a branch is *gated*: each edge there is ``where(condition, edge, 0)``,
    and the branch not taken adds an exact 0, never ``0 · inf = nan``.
    """
    order = _dependencies([output])
    targets = set(wrt)
    leads: set[Term] = set()  # terms that depend on some w: only they get a gradient
    for term in order:
        differentiable = isinstance(term.op, Primitive) or term.op == "where"
        if term in targets or (
            differentiable and any(isinstance(a, Term) and a in leads for a in term.args)
        ):
            leads.add(term)
    grads: dict[Term, Any] = {output: 1.0} if isinstance(output, Term) else {}
    gates: dict[Term, Gate] = {}
    for node in reversed(order):
        upstream = grads.get(node)
        if upstream is None or node not in leads or node.op == "input":
            continue
        gate = gates.get(node, ())
        for i, arg in enumerate(node.args):
            if not isinstance(arg, Term) or arg not in leads or (node.op == "where" and i == 0):
                continue
            mark = next(_clock)
            if node.op == "where":
                condition = node.args[0]
                contribution = _gated(upstream, ((condition, i == 1),))
                arg_gate = (*gate, (condition, i == 1))
            else:
                contribution = _gated(_contribution(node, i, upstream), gate)
                arg_gate = gate
            if isinstance(contribution, Term) and contribution.index > mark:
                contribution.note = (node, arg, upstream)
            previous = grads.get(arg)
            total = contribution if previous is None else make(ADD, previous, contribution)
            if isinstance(total, Term) and total.index > mark:
                total.grad_of = arg
            grads[arg] = total
            gates[arg] = arg_gate if previous is None else _shared(gates.get(arg, ()), arg_gate)
    return [grads.get(w, 0.0) for w in wrt]


def _gated(x: Any, gate: Gate) -> Any:
    """``x`` where every branch of ``gate`` is taken, else exactly 0."""
    for condition, taken_if_true in reversed(gate):
        x = make("where", condition, x, 0.0) if taken_if_true else make("where", condition, 0.0, x)
    return x


def _shared(a: Gate, b: Gate) -> Gate:
    """The branches two paths have in common (their common beginning)."""
    common = 0
    while common < min(len(a), len(b)) and a[common] == b[common]:
        common += 1
    return a[:common]


def _contribution(node: Term, i: int, upstream: Any) -> Any:
    """``∂node/∂node.args[i] · upstream``: one edge of the chain rule."""
    op: Primitive = node.op  # type: ignore[assignment]
    rule = op.partials[i]
    local = rule if isinstance(rule, float) else rule(*node.args, node, CODE_MATH)
    return make(MUL, local, upstream)


# --- writing the code -------------------------------------------------------------------

_INFIX: dict[Callable[..., Any], str] = {operator.add: "+", operator.sub: "-", operator.mul: "*"}
# Division is a call (`div(x, y)`), not `/`: it keeps IEEE results for NaN and inf inputs.
_PRECEDENCE = {"|": 4, "&": 6, "+": 8, "-": 8, "*": 9, "/": 9}
_COMPARISON, _UNARY, _ATOM = 3, 10, 12


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

    def __init__(self) -> None:
        self.functions: dict[str, Callable[..., Any]] = {}  # the code's globals, by name
        self.by_function: dict[Callable[..., Any], str] = {}
        self.taken: set[str] = {"where", "inf", "nan", *keyword.kwlist}
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
        """The global name the code calls ``op``'s forward rule by (``tanh``, ``relu``)."""
        name = self.by_function.get(op.forward)
        if name is None:
            base = getattr(op.forward, "__name__", "").lstrip("_")
            if not base.isidentifier() or keyword.iskeyword(base):
                base = op.name if op.name.isidentifier() else "op"
            name = self.unique(base)
            self.functions[name] = op.forward
            self.by_function[op.forward] = name
        return name

    def expression(self, x: Any, parent: int = 0, right: bool = False) -> str:
        """``x`` as Python source, in parentheses where the surrounding operator needs them."""
        if not isinstance(x, Term):
            return _literal(x)
        if x.name:
            return x.name
        text, precedence = self.operation(x)
        if precedence < parent or (precedence == parent and right):
            return f"({text})"
        return text

    def operation(self, t: Term) -> tuple[str, int]:
        """The right-hand side of the line that computes ``t``, with its precedence."""
        op, args = t.op, t.args
        if op == "where":
            return f"where({', '.join(self.expression(a) for a in args)})", _ATOM
        if isinstance(op, str):
            p = _PRECEDENCE.get(op, _COMPARISON)
            bound = p + 1 if p == _COMPARISON else p  # comparisons do not chain here
            left, right = (self.expression(args[0], bound), self.expression(args[1], bound, True))
            return f"{left} {op} {right}", p
        symbol = _INFIX.get(op.forward)
        if symbol is not None:
            p = _PRECEDENCE[symbol]
            left, right = (self.expression(args[0], p), self.expression(args[1], p, True))
            return f"{left} {symbol} {right}", p
        if op.forward is operator.neg:
            return f"-{self.expression(args[0], _UNARY, True)}", _UNARY
        call = ", ".join(self.expression(a) for a in args)
        return f"{self.function(op)}({call})", _ATOM


class Generated:
    """One traced program: its source, its function, and what each line computes."""

    def __init__(
        self,
        name: str,
        parameters: list[tuple[str, Term | list[Term]]],
        output: Structure,
        traced: Sequence[Term] = (),
    ) -> None:
        writer = _Writer()
        terms = _dependencies([*_flatten(output), *traced])
        uses: dict[Term, int] = dict.fromkeys(terms, 0)
        for term in terms:
            for arg in term.args:
                if isinstance(arg, Term):
                    uses[arg] += 1
        for term in _flatten(output):
            if isinstance(term, Term):
                uses[term] += 2  # an output always gets a line of its own

        lines: list[str] = []
        unpacking: list[str] = []
        signature = []
        for parameter, value in parameters:
            parameter = writer.unique(parameter)  # never a name the code calls or assigns
            signature.append(parameter)
            if not isinstance(value, list):
                value.name = parameter
            elif value:
                for i, t in enumerate(value):
                    t.name = writer.unique(f"{parameter}_{i}")
                names = ", ".join(t.name for t in value)
                unpacking.append(f"    {names}{',' if len(value) == 1 else ''} = {parameter}")
        self.forward_lines: dict[int, Term] = {}  # line number -> the traced node it computes
        body_start = 2 + len(unpacking)
        for term in terms:
            if term.op == "input":
                continue
            own_line = term.kind == "forward" or term.grad_of is not None or uses[term] != 1
            if not own_line:
                continue  # written inline, where its one user needs it
            previous = term.args[0] if term.op is ADD and term.grad_of is not None else None
            if (
                isinstance(previous, Term)
                and previous.grad_of is term.grad_of
                and uses[previous] == 1
                and previous.name
            ):  # the next term of a gradient's sum: `d_x += ...`
                term.name = previous.name
                contribution = term.args[1]
                text = f"{term.name} += {writer.expression(contribution)}"
                note = contribution.note if isinstance(contribution, Term) else None
            else:
                if term.kind == "forward":
                    term.name = writer.numbered("v")
                elif term.grad_of is not None:
                    of = term.grad_of.name
                    term.name = writer.unique(f"d_{of}") if of else writer.numbered("d_t")
                else:
                    term.name = writer.numbered("t")
                right, _ = writer.operation(term)
                text = f"{term.name} = {right}"
                added = term.args[1] if term.op is ADD and term.grad_of is not None else term
                note = added.note if isinstance(added, Term) else None
            comment = self._comment(term, note, writer)
            if term.kind == "forward":
                self.forward_lines[body_start + len(lines)] = term
            lines.append(f"    {text}  # {comment}")
        returned = _render_output(output, writer)
        self.source = "\n".join(
            [
                f"def {name}({', '.join(signature)}):",
                *unpacking,
                *lines,
                f"    return {returned}",
                "",
            ]
        )
        self.filename = f"<autograd_lite.compile {name} #{next(_clock)}>"
        linecache.cache[self.filename] = (
            len(self.source),
            None,
            self.source.splitlines(keepends=True),
            self.filename,
        )
        self.globals: dict[str, Any] = {
            **writer.functions,
            "where": FLOAT_MATH.where,
            "inf": math.inf,
            "nan": math.nan,
            "__builtins__": {},
        }
        self.name = name
        self.code = builtins_compile(self.source, self.filename, "exec")
        namespace: dict[str, Any] = {}
        exec(self.code, self.globals, namespace)  # noqa: S102
        self.function: Callable[..., Any] = namespace[name]

    def run(self, *args: Any) -> Any:
        """Call the generated function; a domain error reads as the eager engine's."""
        try:
            return self.function(*args)
        except (ValueError, ArithmeticError) as error:
            raise self.explain(error) from error

    def array_function(self) -> Callable[..., Any] | None:
        """The same code over NumPy arrays (one row per element), or None without NumPy
        or when a primitive of the program has no array form."""
        if not hasattr(self, "_array_function"):
            twins = _array_twins()
            function = None
            if twins is not None and all(f in twins for f in self.globals.values() if callable(f)):
                arrays = {k: twins[v] if callable(v) else v for k, v in self.globals.items()}
                namespace: dict[str, Any] = {}
                exec(self.code, arrays, namespace)  # noqa: S102
                function = namespace[self.name]
            self._array_function = function
        return self._array_function

    @staticmethod
    def _comment(term: Term, note: Any, writer: _Writer) -> str:
        if note is not None:
            node, arg, upstream = note
            node_name, arg_name = _called(node), _called(arg)
            return (
                f"{_op_name(node)} edge {node_name} → {arg_name}: "
                f"∂{node_name}/∂{arg_name} · {writer.expression(upstream)}"
            )
        return _op_name(term)

    def explain(self, error: Exception) -> Exception:
        """A domain error from a forward line, reported as the eager engine reports it."""
        tb: TracebackType | None = error.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != self.filename:
            tb = tb.tb_next
        term = self.forward_lines.get(tb.tb_lineno) if tb is not None else None
        if tb is None or term is None or not isinstance(term.op, Primitive):
            return error
        frame = tb.tb_frame.f_locals
        values = tuple(frame[a.name] if isinstance(a, Term) else a for a in term.args)
        return domain_error(term.op, values, error)


builtins_compile = compile  # the built-in, before this module's `compile` shadows it


@functools.cache
def _array_twins() -> dict[Callable[..., Any], Callable[..., Any]] | None:
    """Each forward rule the generated code calls, as a NumPy function of whole columns.

    The same formulas as the float rules of :mod:`autograd_lite.ops`, branch for branch
    (``sigmoid`` keeps its two stable branches), so the results agree to rounding.
    """
    try:
        import numpy as np
    except ImportError:
        return None

    def sigmoid(x: Any) -> Any:
        z = np.exp(-np.abs(x))
        return np.where(x >= 0.0, 1.0 / (1.0 + z), z / (1.0 + z))

    def softplus(x: Any) -> Any:
        return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))

    def relu(x: Any) -> Any:
        return np.where(x <= 0.0, 0.0, x)

    twins: dict[Callable[..., Any], Callable[..., Any]] = {
        ops.EXP.forward: np.exp,
        ops.DIV.forward: np.divide,
        ops.LOG.forward: np.log,
        ops.SQRT.forward: np.sqrt,
        ops.SIN.forward: np.sin,
        ops.COS.forward: np.cos,
        ops.TANH.forward: np.tanh,
        ops.SIGMOID.forward: sigmoid,
        ops.SOFTPLUS.forward: softplus,
        ops.RELU.forward: relu,
        ops.ABS.forward: np.abs,
        ops.POW.forward: np.power,
        MATH["log"].forward: np.log,
        MATH["pow"].forward: np.power,
        FLOAT_MATH.where: np.where,
    }
    return twins


def _op_name(term: Term) -> str:
    return term.op if isinstance(term.op, str) else term.op.name


def _called(term: Term) -> str:
    """A term's variable, or for one written inline, its operation in brackets."""
    return term.name or f"[{_op_name(term)}]"


def _flatten(structure: Structure) -> list[Any]:
    if isinstance(structure, (tuple, list)):
        return [x for item in structure for x in _flatten(item)]
    return [structure]


def _render_output(structure: Structure, writer: _Writer) -> str:
    if isinstance(structure, tuple):
        items = [_render_output(x, writer) for x in structure]
        return f"({', '.join(items)}{',' if len(items) == 1 else ''})"
    if isinstance(structure, list):
        return f"[{', '.join(_render_output(x, writer) for x in structure)}]"
    return writer.expression(structure)


# --- the public callable ----------------------------------------------------------------


def _floats(args: Sequence[Any]) -> tuple[tuple[int | None, ...], list[Any]]:
    """The arguments as floats, and the shape compiled code depends on: None for a
    number, the length of a list."""
    key: list[int | None] = []
    floats: list[Any] = []
    for arg in args:
        if isinstance(arg, (list, tuple)) and all(isinstance(x, numbers.Real) for x in arg):
            key.append(len(arg))
            floats.append([_as_float(x) for x in arg])
        elif isinstance(arg, numbers.Real):
            key.append(None)
            floats.append(_as_float(arg))
        else:
            hint = " (pass v.data)" if isinstance(arg, Value) else ""
            raise TypeError(
                "a compiled function takes numbers and flat lists of numbers, got "
                f"{type(arg).__name__}{hint}"
            )
    return tuple(key), floats


def _as_float(x: Any) -> float:
    try:
        return float(x)
    except OverflowError:
        raise ValueError("a compiled function takes numbers that fit in a float") from None


def _parameter_names(f: Callable[..., Any], count: int) -> list[str]:
    try:
        parameters = list(inspect.signature(_innermost(f)).parameters.values())
    except (TypeError, ValueError):
        parameters = []
    names = []
    for k in range(count):
        p = parameters[k] if k < len(parameters) else None
        plain = p is not None and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        names.append(p.name if plain and p is not None else f"a{k}")
    return names


def _function_name(f: Callable[..., Any]) -> str:
    text = _describe(f).replace("<lambda>", "lambda").replace("<locals>", "")
    name = "".join(c if c.isalnum() else "_" for c in text.replace(")", "")).strip("_")
    while "__" in name:
        name = name.replace("__", "_")
    return name if name.isidentifier() and not keyword.iskeyword(name) else "compiled"


class Compiled:
    """``f``, traced once per structure of arguments and run as generated Python.

    Call it like ``f`` with numbers and flat lists of numbers; it returns what ``f``
    returns, with floats for Values. ``source`` is the code of the latest structure.
    """

    def __init__(self, f: Callable[..., Any], cache_size: int = 8) -> None:
        if not callable(f):
            raise TypeError(f"compile takes a function, got {type(f).__name__}")
        if not isinstance(cache_size, int) or cache_size < 1:
            raise ValueError(f"cache_size must be a positive int, got {cache_size!r}")
        self.f = f
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[int | None, ...], Generated] = OrderedDict()
        self._latest: Generated | None = None
        functools.update_wrapper(self, _innermost(f), updated=())

    def __call__(self, *args: Any) -> Any:
        key, floats = _floats(args)
        return self._generated(key, floats).run(*floats)

    def generated(self, *args: Any) -> Generated:
        """The program for arguments shaped like ``args``, traced now if it is new."""
        return self._generated(*_floats(args))

    def _generated(self, key: tuple[int | None, ...], args: list[Any]) -> Generated:
        generated = self._cache.get(key)
        if generated is None:
            generated = trace(self.f, args)
            self._cache[key] = generated
            if len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)  # the least recently used structure
        else:
            self._cache.move_to_end(key)
        self._latest = generated
        return generated

    @property
    def source(self) -> str:
        """The generated Python of the latest call, one line per node."""
        if self._latest is None:
            raise RuntimeError("nothing is compiled yet: the code is written at the first call")
        return self._latest.source

    @property
    def cache_info(self) -> dict[str, int]:
        """How many argument structures are compiled now, and the most kept."""
        return {"structures": len(self._cache), "max": self.cache_size}

    def __repr__(self) -> str:
        return f"<compiled {_describe(self.f)}: {len(self._cache)} structure(s)>"


def trace(f: Callable[..., Any], args: Sequence[Any]) -> Generated:
    """Trace ``f`` on ``args`` (numbers, flat lists) and generate its code."""
    names = _parameter_names(f, len(args))
    inputs: list[Term | list[Term]] = []
    for name, arg in zip(names, args, strict=True):
        if isinstance(arg, (list, tuple)):
            inputs.append([_input(x, f"{name}_{i}") for i, x in enumerate(arg)])
        else:
            inputs.append(_input(arg, name))
    traced: list[Term] = []
    output = program(f, inputs, traced)
    return Generated(_function_name(f), list(zip(names, inputs, strict=True)), output, traced)


def trace_gradient(
    f: Callable[..., Any],
    args: Sequence[Any],
    variables: Sequence[Value],
    name: str = "step",
    *,
    gradient: bool = True,
) -> Generated:
    """Trace ``f`` and the gradient of its first output with respect to ``variables``.

    ``variables`` are Values that ``f`` closes over, such as a model's parameters: the
    generated function takes their numbers as its first argument, a list, and returns
    ``(f's output, [∂first output/∂v for v in variables])`` (an empty list with
    ``gradient=False``). This is how ``fit`` compiles a model's per-example loss.

    >>> w = Value(3.0)
    >>> step = trace_gradient(lambda x: (w * x) ** 2, [2.0], [w])
    >>> step.function([3.0], 2.0)   # (w x)², and its slope in w: 2 w x²
    (36.0, [24.0])
    """
    names = _parameter_names(f, len(args))
    inputs = [
        [_input(x, f"{n}_{i}") for i, x in enumerate(a)]
        if isinstance(a, (list, tuple))
        else _input(a, n)
        for n, a in zip(names, args, strict=True)
    ]
    weights = [_input(v.data, f"p_{i}") for i, v in enumerate(variables)]
    traced: list[Term] = []
    out = _trace(f, inputs, traced, dict(zip(variables, weights, strict=True)))
    first = _single(f, out[0] if isinstance(out, tuple) else out)
    output = (out, gradients(first, weights) if gradient else [])
    parameters = [("params", weights), *zip(names, inputs, strict=True)]
    return Generated(name, parameters, output, traced)


def _input(value: float, name: str) -> Term:
    term = Term("input")
    term.kind = "input"
    term.value = float(value)
    term.name = name
    return term


def compile(f: Callable[..., Any], *, cache_size: int = 8) -> Compiled:
    """``f`` as generated straight-line Python, traced once per argument structure.

    ``f`` takes numbers and flat lists of numbers (lists become lists of Values) and
    returns a Value, a number, or nested tuples/lists of them. Wrap a transform to
    compile gradients too: ``compile(value_and_grad(f))``, ``compile(hessian(f))``.
    Up to ``cache_size`` structures (argument counts and list lengths) stay compiled.

    >>> square = compile(lambda x: x * x)
    >>> square(3.0), square(4)
    (9.0, 16.0)
    """
    return Compiled(f, cache_size)
