"""The reverse sweep on terms: the backward pass of a traced program, written out.

:func:`differentiate` runs the engine's reverse sweep symbolically. Each local derivative
comes from the op table's own partial rule, called on terms with
:data:`~autograd_lite.compiler.terms.CODE_MATH`, so it is a term too: the sweep's result
is the code of the gradient, and no derivative is written twice. Constants are folded as
the terms are made, and only terms that lead to a wanted input get a gradient.

>>> from autograd_lite.compiler.terms import Term
>>> x = Term("input")
>>> (slope,) = differentiate(x * x, [x])  # x·1 + x·1: one term per edge
>>> slope.op.name, slope.args[0] is slope.args[1] is x
('+', True)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..ops import ADD, MUL, WHERE, Primitive
from .terms import CODE_MATH, Term, dependencies, make, mark

__all__ = ["differentiate"]

Gate = tuple[tuple[Any, bool], ...]
"""The branches of ``where`` terms a gradient flowed through: (condition, taken if true)."""


def _passes_gradient(op: Primitive | str) -> bool:
    """Whether a gradient flows through ``op``: not for an input, and not for a condition,
    whose partials are all the constant 0 (it is piecewise constant)."""
    return isinstance(op, Primitive) and any(callable(p) or p != 0.0 for p in op.partials)


def _leads(order: list[Term], wrt: Sequence[Term]) -> set[Term]:
    """The terms of ``order`` that depend on some term of ``wrt``: only they get a gradient."""
    targets = set(wrt)
    leads: set[Term] = set()
    for term in order:
        if term in targets or (
            _passes_gradient(term.op) and any(isinstance(a, Term) and a in leads for a in term.args)
        ):
            leads.add(term)
    return leads


def differentiate(output: Term | float, wrt: Sequence[Term]) -> list[Any]:
    """∂output/∂w for each term w of ``wrt``, as terms: the backward pass, written out.

    The same sweep as the engine's, in the same order: newest term first, each adding
    ``partial · upstream`` into every input that leads to ``wrt``. The partials come
    from the op table's rules called on terms with :data:`CODE_MATH`.

    Differentiating a ``where`` (a second-order sweep through a rule that branches)
    reaches both branches, while the eager engine only ever built the chosen one. So the
    gradient inside a branch is *gated*: each edge there is ``where(condition, edge, 0)``,
    and the branch not taken adds an exact 0, never ``0 · inf = nan``.

    Args:
        output: the term (or constant) to differentiate.
        wrt: the terms to differentiate it by.

    Returns:
        One term or constant per term of ``wrt`` (0.0 where ``output`` does not depend on it).
    """
    order = dependencies([output])
    leads = _leads(order, wrt)
    grads: dict[Term, Any] = {output: 1.0} if isinstance(output, Term) else {}
    gates: dict[Term, Gate] = {}
    for node in reversed(order):
        upstream = grads.get(node)
        if upstream is None or node not in leads or node.op == "input":
            continue
        gate = gates.get(node, ())
        for i, arg in enumerate(node.args):
            if not isinstance(arg, Term) or arg not in leads or (node.op is WHERE and i == 0):
                continue
            newer = mark()
            if node.op is WHERE:  # the branch taken gets it: a choice, not a product
                condition = node.args[0]
                contribution = _gated(upstream, ((condition, i == 1),))
                arg_gate = (*gate, (condition, i == 1))
            else:
                contribution = _gated(_contribution(node, i, upstream), gate)
                arg_gate = gate
            if isinstance(contribution, Term) and contribution.index > newer:
                contribution.note = (node, arg, upstream)
            previous = grads.get(arg)
            total = contribution if previous is None else make(ADD, previous, contribution)
            if isinstance(total, Term) and total.index > newer:
                total.grad_of = arg
            grads[arg] = total
            gates[arg] = arg_gate if previous is None else _shared(gates.get(arg, ()), arg_gate)
    return [grads.get(w, 0.0) for w in wrt]


def _gated(x: Any, gate: Gate) -> Any:
    """``x`` where every branch of ``gate`` is taken, else exactly 0."""
    for condition, taken_if_true in reversed(gate):
        x = make(WHERE, condition, x, 0.0) if taken_if_true else make(WHERE, condition, 0.0, x)
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
