"""Draw a computation graph with Graphviz: every Value's data and grad, every op, every edge.

Importable without graphviz; :func:`draw_dot` imports it when called
(``pip install 'autograd_lite[viz]'``). Colours (see :data:`COLOURS`): the output is gold,
leaves that require grad (parameters) light blue, constant leaves (inputs, numbers) grey,
intermediate values white; ops are small ellipses between them.

>>> import autograd_lite as ag
>>> x = ag.Value(2.0, label="x")
>>> y = x * x
>>> y.backward()
>>> dot = ag.draw_dot(y)          # a graphviz.Digraph: Jupyter shows it as a picture
>>> '"{ x | data 2.0000 | grad 4.0000 }"' in dot.source
True
>>> dot.source.count("n0 -> n1op")   # x is used twice by the product: two edges
2
"""

from __future__ import annotations

import functools
import re
from typing import Any

from .engine import Value, topological_order

__all__ = ["COLOURS", "RANKDIRS", "GraphvizNotFoundError", "draw_dot"]

RANKDIRS = ("LR", "RL", "TB", "BT")
"""Graphviz layout directions: left to right, right to left, top to bottom, bottom to top."""

COLOURS = {
    "output": "gold",
    "parameter": "lightblue",  # a leaf with requires_grad=True
    "constant": "lightgrey",  # a leaf with requires_grad=False: data, numbers in expressions
    "intermediate": "white",
}

INSTALL_HINT = (
    "Graphviz's `dot` program is not installed, so the graph cannot be rendered. Install it "
    "(Debian/Ubuntu: sudo apt-get install graphviz; macOS: brew install graphviz; "
    "conda: conda install -c conda-forge graphviz), then restart the kernel."
)


class GraphvizNotFoundError(RuntimeError):
    """Raised when rendering needs Graphviz's ``dot`` program and it is not on the PATH."""


def _visible(char: str) -> str:
    """A control character as its Unicode picture (NUL → ␀, DEL → ␡); a lone surrogate or a C1
    control, which no UTF-8 file can hold or which dot cannot draw, as �."""
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)
    return "\u2421" if code == 0x7F else "\ufffd"


_UNDRAWABLE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def _escape(text: str, special: str = "\\") -> str:
    """Backslash-escape ``special`` characters and write newlines as DOT's ``\\n``.

    Records (``shape=record``) also treat ``{ } | < >`` as syntax; other labels only ``\\``.
    Double quotes are escaped by the graphviz package itself. Other control characters
    (a NUL ends a C string inside dot) are drawn as their Unicode pictures: ``\\x00`` → ␀.
    """
    text = _UNDRAWABLE.sub(lambda match: _visible(match.group()), text)
    for char in special:
        text = text.replace(char, "\\" + char)
    return text.replace("\n", "\\n")


@functools.cache
def _digraph_class() -> type[Any]:
    """graphviz.Digraph whose rendering explains a missing ``dot`` instead of a traceback."""
    try:
        import graphviz
    except ImportError as error:
        raise ImportError(
            "draw_dot needs the graphviz package: pip install 'autograd_lite[viz]'"
        ) from error

    class Digraph(graphviz.Digraph):  # type: ignore[misc]
        def pipe(self, *args: Any, **kwargs: Any) -> Any:
            try:
                return super().pipe(*args, **kwargs)
            except graphviz.ExecutableNotFound as error:
                raise GraphvizNotFoundError(INSTALL_HINT) from error

        def render(self, *args: Any, **kwargs: Any) -> Any:
            # graphviz writes the DOT file before it looks for dot: look first, so a missing
            # dot leaves no stray source file behind
            try:
                graphviz.version()
            except graphviz.ExecutableNotFound as error:
                raise GraphvizNotFoundError(INSTALL_HINT) from error
            except Exception:  # noqa: S110 - an odd `dot -V`: let render itself report it
                pass
            try:
                return super().render(*args, **kwargs)
            except graphviz.ExecutableNotFound as error:
                raise GraphvizNotFoundError(INSTALL_HINT) from error

        def _repr_mimebundle_(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
            try:
                return dict(super()._repr_mimebundle_(*args, **kwargs))
            except GraphvizNotFoundError:
                return {"text/plain": f"{INSTALL_HINT}\n\nThe graph in DOT:\n{self.source}"}

    Digraph.__module__, Digraph.__qualname__ = __name__, "Digraph"  # a readable repr
    return Digraph


def draw_dot(
    root: Value,
    *,
    rankdir: str = "LR",
    show_grad: bool = True,
    edge_labels: bool = False,
    max_nodes: int = 500,
) -> Any:
    """The graph behind ``root`` as a ``graphviz.Digraph`` (shown inline in Jupyter).

    One record node ``{ label | data | grad }`` per Value and one ellipse per op, edges in
    operand order (``x * x`` draws two). ``edge_labels`` writes the local derivative
    ∂out/∂input, stored on the node in the forward pass, on each edge into an op. Node ids
    follow topological position, so the DOT text is the same on every run.

    Raises ``ValueError`` for an unknown ``rankdir`` and for a graph of more than
    ``max_nodes`` Values (``dot`` takes about half a minute for 1,000 of them).
    """
    if rankdir not in RANKDIRS:
        raise ValueError(f"rankdir must be one of {', '.join(RANKDIRS)}; got {rankdir!r}")
    if not isinstance(max_nodes, int) or max_nodes < 1:
        raise ValueError(f"max_nodes must be a positive int, got {max_nodes!r}")
    if not isinstance(root, Value):
        raise TypeError(f"draw_dot draws a Value, got {type(root).__name__}")
    nodes = topological_order(root)
    if len(nodes) > max_nodes:
        raise ValueError(
            f"the graph has {len(nodes)} values, more than max_nodes={max_nodes}; draw a "
            f"sub-expression (one neuron's output, say) or pass max_nodes={len(nodes)} "
            "(dot needs about 35 s for 1,000 values)"
        )
    dot = _digraph_class()(graph_attr={"rankdir": rankdir})  # explains a missing graphviz
    from graphviz import nohtml

    ids = {node: f"n{i}" for i, node in enumerate(nodes)}
    for node in nodes:
        fields = [_escape(node.label, "\\{}|<>")] if node.label else []
        fields.append(f"data {node.data:.4f}")
        if show_grad:
            fields.append(f"grad {node.grad:.4f}")
        if node is root:
            kind = "output"
        elif node.op is not None:
            kind = "intermediate"
        else:
            kind = "parameter" if node.requires_grad else "constant"
        label = nohtml("{ " + " | ".join(fields) + " }")
        dot.node(ids[node], label, shape="record", style="filled", fillcolor=COLOURS[kind])
        if node.op is None:
            continue
        op_id = ids[node] + "op"
        dot.node(op_id, nohtml(_escape(node.op.name)), shape="ellipse")
        dot.edge(op_id, ids[node])
        for child, local in zip(node.inputs, node.local_grads):
            if edge_labels and child.requires_grad:
                dot.edge(ids[child], op_id, label=f"{local:.4g}")
            else:
                dot.edge(ids[child], op_id)
    return dot
