"""The passes as data, for watching backpropagation step by step.

:func:`backward_steps` returns the reverse sweep as plain records, one per interior node in
the order ``backward()`` visits them: the node, its gradient when it is reached, and for
each input edge the local derivative, the contribution (local × upstream) and the input's
running gradient after adding it. The records come from the engine's own sweep
(:func:`~autograd_lite.engine.reverse_sweep`, watched edge by edge), so there is no second
chain rule here, and no ``.grad`` changes. :func:`forward_steps` gives the other direction.

>>> from autograd_lite import Value
>>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
>>> L = (a * b).tanh(); L.label = "L"
>>> [step.node.op.name for step in backward_steps(L)]
['tanh', '*']
>>> print(backward_steps(L)[1].arithmetic()[0])
dL/da += dL/d(a*b) · ∂(a*b)/∂a = 2.46e-05 · -3 = -7.37e-05
"""

from __future__ import annotations

from dataclasses import dataclass

from .engine import Value, reverse_sweep, topological_order

__all__ = ["Edge", "Step", "backward_steps", "forward_steps", "name_of"]


@dataclass(frozen=True)
class Edge:
    """One edge of the chain rule, from a node back into one of its inputs."""

    input: Value
    local: float
    """∂node/∂input, computed in the forward pass."""
    contribution: float
    """local × the node's gradient: what this edge adds to the input's gradient."""
    total: float
    """The input's gradient after adding it (inputs used twice collect twice)."""


@dataclass(frozen=True)
class Step:
    """The backward pass at one node: its gradient, complete when it is reached, and
    what it passes back along each input edge."""

    node: Value
    grad: float
    edges: tuple[Edge, ...]

    def arithmetic(self, root: str = "L") -> list[str]:
        """Each edge's chain-rule line, e.g. ``dL/da += dL/dc · ∂c/∂a = -2 · -3 = 6``."""
        node = name_of(self.node)
        return [
            f"d{root}/d{name_of(e.input)} += d{root}/d{node} · ∂{node}/∂{name_of(e.input)} = "
            f"{self.grad:.3g} · {e.local:.3g} = {e.contribution:.3g}"
            for e in self.edges
        ]


def name_of(value: Value) -> str:
    """A Value's label, or for an unlabelled result its expression, e.g. ``(a*b)``."""
    if value.label:
        return value.label
    if value.op is None:
        return f"{value.data:g}"
    names = [name_of(x) for x in value.inputs]
    if len(names) == 2:
        return f"({names[0]}{value.op.name}{names[1]})"
    return f"{value.op.name}({names[0]})"


def backward_steps(root: Value, gradient: float = 1.0) -> list[Step]:
    """The reverse sweep from ``root`` as records, in the order ``backward()`` visits the
    nodes; the last running total of each input equals what ``backward()`` gives it.

    >>> x = Value(3.0, label="x")
    >>> steps = backward_steps(x * x)       # one node, two edges into x
    >>> [(e.contribution, e.total) for e in steps[0].edges]
    [(3.0, 3.0), (3.0, 6.0)]
    """
    if not isinstance(root, Value):
        raise TypeError(f"backward_steps takes a Value, got {type(root).__name__}")
    found: list[tuple[Value, float, Value, float, float]] = []
    if root.requires_grad:
        reverse_sweep(root, gradient, on_edge=lambda *edge: found.append(edge))
    steps: list[Step] = []
    for node, upstream, child, local, total in found:
        edge = Edge(child, local, local * upstream, total)
        if steps and steps[-1].node is node:
            steps[-1] = Step(node, upstream, (*steps[-1].edges, edge))
        else:
            steps.append(Step(node, upstream, (edge,)))
    return steps


def forward_steps(root: Value) -> list[Value]:
    """The nodes the forward pass computed, in the order it computed them (leaves left out).

    >>> a = Value(2.0, label="a")
    >>> [v.op.name for v in forward_steps((a * a).exp())]
    ['*', 'exp']
    """
    return topological_order(root, leaves=False)
