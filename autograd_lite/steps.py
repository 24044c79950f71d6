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

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from .engine import Value, reverse_sweep, topological_order

__all__ = [
    "NAME_LIMIT", "Edge", "Step", "backward_steps", "forward_steps", "name_of", "names",
    "tex_name", "tex_number",
]  # fmt: skip

NAME_LIMIT = 40
"""The longest expression a node is named by (``(a*b)``); past it a node is named by its place
in the graph (``#37``), so text about a graph grows with the graph, not with its square."""


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
    names: Mapping[Value, str] = field(default_factory=dict, compare=False, repr=False)
    """The names of the values, as :func:`names` gives them for the graph the step is from
    (a value missing here is named by :func:`name_of`)."""

    def arithmetic(self, root: str = "L") -> list[str]:
        """Each edge's chain-rule line, e.g. ``dL/da += dL/dc · ∂c/∂a = -2 · -3 = 6``.

        Args:
            root: The name of the root, for ``dL/d…``.

        Returns:
            One line per edge.
        """
        node = self._name(self.node)
        return [
            f"d{root}/d{self._name(e.input)} += d{root}/d{node} · ∂{node}/∂{self._name(e.input)} = "
            f"{self.grad:.3g} · {e.local:.3g} = {e.contribution:.3g}"
            for e in self.edges
        ]

    def latex(self, root: str = "L", digits: int = 4) -> str:
        r"""The step's chain rule as LaTeX, an ``aligned`` block with one line per input edge:
        the symbols, the numbers plugged in (``digits`` significant digits), the contribution.

        >>> from autograd_lite import Value
        >>> a = Value(2.0, label="a")
        >>> L = a * -3; L.label = "L"
        >>> print(backward_steps(L)[0].latex().splitlines()[1].replace(r"\partial", "∂"))
        \frac{∂ L}{∂ a} &\mathrel{+}= \frac{∂ L}{∂ L} \cdot \frac{∂ L}{∂ a} = 1 \cdot (-3) = -3 \\
        """
        top, node = tex_name(root), tex_name(self._name(self.node))
        lines = []
        for e in self.edges:
            x = tex_name(self._name(e.input))
            lines.append(
                rf"\frac{{\partial {top}}}{{\partial {x}}} &\mathrel{{+}}= "
                rf"\frac{{\partial {top}}}{{\partial {node}}} \cdot "
                rf"\frac{{\partial {node}}}{{\partial {x}}} = "
                rf"{tex_number(self.grad, digits, True)} \cdot {tex_number(e.local, digits, True)}"
                rf" = {tex_number(e.contribution, digits)}"
            )
        return "\\begin{aligned}\n" + " \\\\\n".join(lines) + " \\\\\n\\end{aligned}"

    def _name(self, value: Value) -> str:
        known = self.names.get(value)
        return name_of(value) if known is None else known


_TEX_SPECIAL = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "#": r"\#", "$": r"\$", "%": r"\%",
    "&": r"\&", "_": r"\_", "^": r"\^{}", "~": r"\~{}", "…": r"\ldots{}",
}  # fmt: skip


def tex_name(name: str) -> str:
    r"""A value's name (see :func:`names`) as LaTeX: a one-letter name in maths italic (digits
    after it as a subscript, ``x1`` → ``x_{1}``), anything else as upright text with LaTeX's
    special characters escaped, so any label typesets.

    >>> tex_name("a"), tex_name("w12"), tex_name("(a*b)"), tex_name("loss_1")
    ('a', 'w_{12}', '\\text{(a*b)}', '\\text{loss\\_1}')
    """
    simple = re.fullmatch(r"([A-Za-z])(\d*)", name)
    if simple:
        letter, digits = simple.groups()
        return letter + (f"_{{{digits}}}" if digits else "")
    text = "".join(_TEX_SPECIAL.get(char, char) for char in name)
    return rf"\text{{{text}}}"


def tex_number(x: float, digits: int = 4, bracket: bool = False) -> str:
    r"""A number as LaTeX, to ``digits`` significant digits: ``2.46\times10^{-5}`` for
    exponent form, ``\infty``, ``\mathrm{NaN}``; ``bracket`` puts a negative one in
    parentheses, for a product.

    >>> tex_number(-3.0, bracket=True), tex_number(2.4601e-05), tex_number(float("inf"))
    ('(-3)', '2.46\\times10^{-5}', '\\infty')
    """
    if math.isnan(x):
        return r"\mathrm{NaN}"
    if math.isinf(x):
        text = r"\infty" if x > 0 else r"-\infty"
    else:
        text = f"{x:.{digits}g}"
        mantissa, _, exponent = text.partition("e")
        if exponent:
            text = rf"{mantissa}\times10^{{{int(exponent)}}}"
    return f"({text})" if bracket and text.startswith("-") else text


def name_of(value: Value) -> str:
    """A Value's label; for an unlabelled number its value; for an unlabelled result its
    expression, e.g. ``(a*b)``, while that takes at most :data:`NAME_LIMIT` characters, and
    past that its place in the topological order of its graph, ``#k`` (``draw_dot(value)``
    numbers that node ``n{k}``). See :func:`names`.

    Args:
        value: The Value to name.

    Returns:
        Its name.

    >>> a = Value(2.0, label="a")
    >>> name_of(a * 3), name_of((a * a).tanh())
    ('(a*3)', 'tanh((a*a))')
    """
    return names(value)[value]


def names(root: Value) -> dict[Value, str]:
    """:func:`name_of` for every value ``root`` depends on, all names from one pass.

    A label is the name (cut short, ending in "…", past :data:`NAME_LIMIT` characters). An
    expression is written out while it fits in :data:`NAME_LIMIT` characters; a longer one
    is named ``#k`` for its place k in :func:`~autograd_lite.engine.topological_order` of
    ``root`` (the ids draw_dot and the explorer give nodes), so that no name spells out a
    sub-expression of the whole graph: ``x = x*x`` thirty times gives thirty short names, not
    a billion characters. Iterative: any depth works.

    Args:
        root: The Value whose graph to name.

    Returns:
        Each value's name, in topological order.

    >>> x = Value(1.0, label="x")
    >>> y = x
    >>> for _ in range(4): y = y * y
    >>> list(names(y).values())
    ['x', '(x*x)', '((x*x)*(x*x))', '(((x*x)*(x*x))*((x*x)*(x*x)))', '#4']
    """
    found: dict[Value, str] = {}
    sizes: dict[Value, int] = {}  # the length of the full expression, capped past the limit
    for k, value in enumerate(topological_order(root)):
        if value.label or value.op is None:
            name = value.label or f"{value.data:g}"
            if len(name) > NAME_LIMIT:  # a long label, cut short
                name = name[: NAME_LIMIT - 1] + "…"
            size = len(name)
        else:
            op, inputs = value.op.name, value.inputs
            size = len(op) + 2 + sum(sizes[x] for x in inputs)
            if size <= NAME_LIMIT:  # then so are the inputs' names: their full expressions
                parts = [found[x] for x in inputs]
                name = f"({parts[0]}{op}{parts[1]})" if len(parts) == 2 else f"{op}({parts[0]})"
            else:
                name, size = f"#{k}", NAME_LIMIT + 1
        found[value], sizes[value] = name, size
    return found


def backward_steps(root: Value, gradient: float = 1.0) -> list[Step]:
    """The reverse sweep from ``root`` as records, in the order ``backward()`` visits the
    nodes; the last running total of each input equals what ``backward()`` gives it.

    Args:
        root: The Value to run the backward pass from.
        gradient: The seed.

    Returns:
        One :class:`Step` per node visited.

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
    named = names(root) if found else {}
    steps: list[Step] = []
    for node, upstream, child, local, total in found:
        edge = Edge(child, local, local * upstream, total)
        if steps and steps[-1].node is node:
            steps[-1] = Step(node, upstream, (*steps[-1].edges, edge), named)
        else:
            steps.append(Step(node, upstream, (edge,), named))
    return steps


def forward_steps(root: Value) -> list[Value]:
    """The nodes the forward pass computed, in the order it computed them (leaves left out).

    Args:
        root: The Value whose graph to read.

    Returns:
        The interior nodes, in creation order.

    >>> a = Value(2.0, label="a")
    >>> [v.op.name for v in forward_steps((a * a).exp())]
    ['*', 'exp']
    """
    return topological_order(root, leaves=False)
