"""Tracing: run a function once on placeholder Values and read its graph back as terms.

:func:`program` is the first stage of the compiler. A plain function is called on
placeholder ``Value`` s, one per input term; the graph they record (in
:func:`~autograd_lite.engine.topological_order`) becomes terms, one per node. A transform
(``grad``, ``value_and_grad``, ``hessian``) traces the function it wraps and hands the
result to the reverse sweep (:mod:`~autograd_lite.compiler.sweep`), so nested transforms
trace and sweep in turn.

Python control flow on a traced Value cannot be replayed by straight-line code, so while
tracing, ``float()``, ``bool()``, comparisons and reading ``.data`` of a placeholder, of a
bound weight or of any Value computed from them raise
:class:`~autograd_lite.grad_mode.TraceError`.

>>> x = new_input(3.0, "x")
>>> traced = []
>>> y = program(lambda v: v * v + 1.0, [x], traced)
>>> [t.op.name for t in traced], y is traced[-1]
(['*', '+'], True)
"""

from __future__ import annotations

import numbers
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..engine import Value, topological_order
from ..functional import Transform, inside_transform, positions
from ..grad_mode import TraceError, enable_grad, tracing, tracing_now
from .sweep import differentiate
from .terms import Structure, Term, make, mark

__all__ = ["describe", "innermost", "new_input", "program", "single", "trace_values"]


def describe(f: Callable[..., Any]) -> str:
    """What ``f`` is, for messages and names: ``grad(loss)``, ``<lambda>``."""
    if isinstance(f, Transform):
        return f"{f.kind}({describe(f.f)})"
    return getattr(f, "__name__", None) or type(f).__name__


def innermost(f: Callable[..., Any]) -> Callable[..., Any]:
    """The plain function inside any transforms."""
    return innermost(f.f) if isinstance(f, Transform) else f


def new_input(value: float, name: str) -> Term:
    """An input term: a parameter of the generated function, and its value in this call."""
    term = Term("input")
    term.kind = "input"
    term.value = float(value)
    term.name = name
    return term


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
        return trace_values(f, args, traced)
    if f.kind == "hessian":
        if any(isinstance(a, list) for a in args):
            raise TypeError("hessian takes numbers, not lists")
        out = single(f.f, program(f.f, args, traced))
        return [differentiate(g, args) for g in differentiate(out, args)]  # type: ignore[arg-type]
    chosen = positions(f.argnums, len(args))
    if any(args[i] == [] for i in chosen):
        raise ValueError("an argument to differentiate is an empty list")
    out = single(f.f, program(f.f, args, traced))
    wanted = [args[i] for i in chosen]
    flat = [t for w in wanted for t in (w if isinstance(w, list) else [w])]
    found = iter(differentiate(out, flat))
    slopes = [[next(found) for _ in w] if isinstance(w, list) else next(found) for w in wanted]
    slope = slopes[0] if isinstance(f.argnums, int) else tuple(slopes)
    return slope if f.kind == "grad" else (out, slope)


def single(f: Callable[..., Any], out: Structure) -> Term | float:
    """``out`` if it is one term or number, as a transform needs; else a TypeError."""
    if isinstance(out, (Term, float)):
        return out
    raise TypeError(f"f must return a single Value or number, got {type(out).__name__}")


_ENGINE = Value.__init__.__globals__  # the engine's module namespace


class _Placeholder(Value):
    """A Value standing for an input while ``f`` is traced: its number is the one of the
    call being traced, so reading ``.data`` from ``f`` would bake that call into the code.

    The engine reads it to compute the trace; any other reader gets a TraceError while
    tracing lasts (as ``float(x)`` does). Every node computed from a placeholder while some
    thread traces is one too (the engine takes the class of a ``_traced`` input), and bound
    weights become placeholders for the trace, so only traced Values pay for the check."""

    __slots__ = ()
    _traced = True  # the engine makes every node computed from this one a _Placeholder too

    @property
    def data(self) -> float:
        if tracing_now() and sys._getframe(1).f_globals is not _ENGINE:
            raise TraceError(
                f"reading .data of a traced Value while compiling {tracing_now()}: the code "
                "would keep this call's number. Compute with the Value itself (x * 2, "
                "x.relu()), or call the function without ag.compile (eagerly)."
            )
        return _DATA.__get__(self)  # type: ignore[no-any-return]

    @data.setter
    def data(self, value: float) -> None:
        _DATA.__set__(self, value)


_DATA: Any = Value.__dict__["data"]  # the slot the property stands in front of


def trace_values(
    f: Callable[..., Any],
    args: Sequence[Term | list[Term]],
    traced: list[Term],
    bound: dict[Value, Term] | None = None,
) -> Structure:
    """Run ``f`` on placeholder Values for ``args`` and read its graph back as terms.

    ``bound`` maps Values that ``f`` closes over (a model's parameters) to input terms;
    every other Value it closes over is a constant. Transforms called inside ``f`` give
    Values (as when nested), so what they compute is traced too. History is recorded even
    when the caller is inside ``no_grad()``: without it there would be nothing to read.
    The bound Values are placeholders while ``f`` runs (plain Values again afterwards), so
    ``f`` cannot read their numbers either.
    """
    placeholders: dict[Value, Term] = dict(bound or {})

    def placeholder(term: Term) -> Value:
        value = _Placeholder(term.value, label=term.name)
        placeholders[value] = term
        return value

    call_args = [
        [placeholder(t) for t in a] if isinstance(a, list) else placeholder(a) for a in args
    ]
    plain = [v for v in placeholders if type(v) is Value]  # bound weights: traced meanwhile
    try:
        for v in plain:
            v.__class__ = _Placeholder
        with tracing(describe(f)), inside_transform(), enable_grad():
            out = f(*call_args)
    finally:
        for v in plain:
            v.__class__ = Value
    terms: dict[Value, Any] = {}
    for node in topological_order(list(_values_in(out))):
        if node in placeholders:
            terms[node] = placeholders[node]
        elif node.op is None:
            terms[node] = node.data  # a constant: f closed over it, or computed it from constants
        else:
            newer = mark()
            term = make(node.op, *(terms[x] for x in node.inputs))
            if isinstance(term, Term) and term.index > newer:
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
