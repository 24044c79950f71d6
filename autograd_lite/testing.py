"""Hypothesis strategies for property-testing gradients: the ones our own tests use.

Needs ``hypothesis`` (``pip install 'autograd_lite[test]'``).

- :func:`op_inputs` draws inputs for one primitive inside its test domain
  (``Primitive.domains``): where a finite-difference check is meaningful, away from
  kinks and singularities by a margin, and small enough that nothing overflows.
- :func:`expressions` draws random computation graphs built from the whole table, with
  shared sub-expressions; each is a callable ``f(*leaves) -> Value`` to hand to
  :func:`autograd_lite.gradcheck`.

>>> from hypothesis import given
>>> import autograd_lite as ag
>>> @given(expressions())
... def test_my_engine(expr):
...     assert ag.gradcheck(expr, expr.leaves)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hypothesis import strategies as st

from .engine import Value, apply
from .ops import PRIMITIVES, Domain, Primitive

__all__ = ["Expression", "expressions", "floats_in", "in_domain", "op_inputs"]


def floats_in(domain: Domain) -> st.SearchStrategy[float]:
    """Finite floats inside a union of intervals, e.g. ``floats_in(((-1.0, 1.0),))``.

    Args:
        domain: The intervals.

    Returns:
        A hypothesis strategy.
    """
    return st.one_of(*(st.floats(lo, hi, allow_nan=False) for lo, hi in domain))


def op_inputs(op: Primitive) -> st.SearchStrategy[tuple[float, ...]]:
    """One input tuple for ``op``, each input inside its domain.

    Args:
        op: The primitive.

    Returns:
        A hypothesis strategy of tuples, one float per input.
    """
    return st.tuples(*(floats_in(domain) for domain in op.domains))


def in_domain(op: Primitive, args: Sequence[float]) -> bool:
    """Whether every input lies in ``op``'s test domain.

    Args:
        op: The primitive.
        args: One number per input.

    Returns:
        True when each lies in its interval of the domain.

    >>> in_domain(PRIMITIVES["log"], [0.5]), in_domain(PRIMITIVES["log"], [0.0])
    (True, False)
    """
    return all(
        any(lo <= x <= hi for lo, hi in domain) for x, domain in zip(args, op.domains, strict=True)
    )


@dataclass(frozen=True)
class Expression:
    """A random computation: leaves, then one primitive per step.

    ``steps[k] = (op name, positions)`` applies the op to earlier values (leaves come
    first), so a value may feed several later steps: a DAG, not just a tree. Calling the
    expression on Values (or numbers) replays it and returns the last value.
    """

    leaves: tuple[float, ...]
    steps: tuple[tuple[str, tuple[int, ...]], ...]

    def __call__(self, *inputs: Value | float) -> Value:
        values: list[Value | float] = list(inputs)
        for name, positions in self.steps:
            values.append(apply(PRIMITIVES[name], *(values[i] for i in positions)))
        return values[-1]  # type: ignore[return-value]  # there is at least one step

    def __str__(self) -> str:
        names = [f"x{i}" for i in range(len(self.leaves))]
        for name, positions in self.steps:
            names.append(f"{name}({', '.join(names[i] for i in positions)})")
        return names[-1]


@st.composite
def expressions(
    draw: st.DrawFn, max_leaves: int = 3, max_steps: int = 8, ops: Sequence[str] | None = None
) -> Expression:
    """Random expression DAGs over the op table (or the named ``ops``).

    Every step stays inside its op's domain at the drawn leaves; when the drawn op does
    not fit its operands, ``tanh`` (defined everywhere, and squashing) takes its place.

    Args:
        max_leaves: The most leaf Values.
        max_steps: The most operations.
        ops: The names of the primitives to use; None for the whole table.

    Returns:
        A hypothesis strategy of :class:`Expression` s.
    """
    names = sorted(ops if ops is not None else PRIMITIVES)
    leaves = draw(st.lists(floats_in(((-2.0, 2.0),)), min_size=1, max_size=max_leaves))
    values = list(leaves)
    steps = []
    for _ in range(draw(st.integers(1, max_steps))):
        op = PRIMITIVES[draw(st.sampled_from(names))]
        positions = tuple(draw(st.integers(0, len(values) - 1)) for _ in range(op.arity))
        args = [values[i] for i in positions]
        if not in_domain(op, args):
            op, positions, args = PRIMITIVES["tanh"], positions[:1], args[:1]
        values.append(op.forward(*args))
        steps.append((op.name, positions))
    return Expression(tuple(leaves), tuple(steps))
