"""Watch backpropagation happen: one self-contained HTML page that steps through a graph.

:func:`explore` writes a single HTML file with everything inline: the graph as SVG rendered by
Graphviz (as :func:`~autograd_lite.viz.draw_dot` draws it), a little JavaScript and CSS, and the
steps of :func:`~autograd_lite.steps.forward_steps` and
:func:`~autograd_lite.steps.backward_steps` as JSON. It loads nothing from the network, so it
opens from the local disk in any modern browser. Previous / Next / Play and the arrow keys
step through the forward pass, then the backward pass: the current node and its edges are
highlighted, values and gradients fill in as they are computed, and a text panel (read out by
screen readers) shows each step's arithmetic, and its chain rule typeset from
:meth:`~autograd_lite.steps.Step.latex` by KaTeX (MIT licensed, shipped inline in the page with
the three fonts it needs). Hovering a node shows its label, data and grad.

The same page from the command line::

    autograd-lite explore "(a*b + c) * f" a=2 b=-3 c=10 f=-2

>>> import autograd_lite as ag
>>> a, b = ag.Value(2.0, label="a"), ag.Value(-3.0, label="b")
>>> L = a * b; L.label = "L"
>>> data = page_data(L)
>>> [step["phase"] for step in data["steps"]]
['forward', 'backward']
>>> data["steps"][1]["text"][0]
'dL/da += dL/dL · ∂L/∂a = 1 · -3 = -3'
"""

from __future__ import annotations

import ast
import functools
import html
import json
import math
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from ._files import writable_target, write_atomic
from .engine import Value, topological_order
from .ops import PRIMITIVES
from .steps import Step, backward_steps, forward_steps, name_of, names
from .viz import draw_dot

__all__ = [
    "FUNCTIONS",
    "explore",
    "forward_text",
    "page_data",
    "page_html",
    "parse_expression",
]


def _json_number(x: float) -> float | str:
    """A float for JSON: finite numbers as they are, ``nan`` and ``±inf`` as text."""
    return x if math.isfinite(x) else str(x)


def forward_text(node: Value, named: Mapping[Value, str] | None = None) -> str:
    """The forward pass at one node as arithmetic, e.g. ``c = a * b = 2 * -3 = -6``.

    Values are named as :func:`~autograd_lite.steps.names` names them: ``named``, that
    mapping for the whole graph, saves working it out again for every node.

    Args:
        node: The Value.
        named: The names of the graph's values, or None to work them out.

    Returns:
        One line of text.
    """
    if named is None:
        named = names(node)
    if node.op is None:
        return f"{named[node]} = {node.data:.3g} (an input)"
    parts = [named[x] for x in node.inputs]
    values = [f"{x.data:.3g}" for x in node.inputs]
    op = node.op.name
    if len(parts) == 2:
        symbolic, numeric = f" {op} ".join(parts), f" {op} ".join(values)
    else:
        op = "-" if op == "neg" else op
        symbolic, numeric = f"{op}({parts[0]})", f"{op}({values[0]})"
    return f"{named[node]} = {symbolic} = {numeric} = {node.data:.3g}"


def page_data(root: Value, gradient: float = 1.0) -> dict[str, Any]:
    """What the page embeds as JSON: the nodes (by their SVG ids ``n{i}``, in
    :func:`~autograd_lite.engine.topological_order`) and the steps, forward then backward.

    Its size grows in proportion to the graph: a node is named by its expression only while
    that is short, and by its place ``#i`` (its id ``n{i}``) past that
    (:func:`~autograd_lite.steps.names`).

    Args:
        root: The Value to explore.
        gradient: The seed of the backward pass.

    Returns:
        A JSON-ready dict.
    """
    ids = {node: f"n{i}" for i, node in enumerate(topological_order(root))}
    named = names(root)
    root_name = root.label or "L"
    nodes = {
        ids[node]: {
            "name": named[node],
            "label": node.label,
            "data": _json_number(node.data),
            "dataText": f"data {node.data:.4f}",
            "leaf": node.op is None,
            "requiresGrad": node.requires_grad,
        }
        for node in ids
    }
    steps: list[dict[str, Any]] = [
        {
            "phase": "forward",
            "node": ids[node],
            "inputs": [ids[x] for x in node.inputs],
            "text": [forward_text(node, named)],
        }
        for node in forward_steps(root)
    ]
    steps += [_backward_step(step, ids, root_name) for step in backward_steps(root, gradient)]
    return {"root": ids[root], "rootName": root_name, "nodes": nodes, "steps": steps}


def _backward_step(step: Step, ids: dict[Value, str], root_name: str) -> dict[str, Any]:
    """One record of the backward pass as the page embeds it."""
    return {
        "phase": "backward",
        "node": ids[step.node],
        "grad": _json_number(step.grad),
        "gradText": f"grad {step.grad:.4f}",
        "inputs": [ids[edge.input] for edge in step.edges],
        "edges": [
            {
                "input": ids[edge.input],
                "local": _json_number(edge.local),
                "contribution": _json_number(edge.contribution),
                "total": _json_number(edge.total),
                "totalText": f"grad {edge.total:.4f}",
            }
            for edge in step.edges
        ],
        "text": step.arithmetic(root_name),
        "latex": step.latex(root_name),
    }


_NODE = re.compile(r'<g id="node\d+" class="node">\s*<title>([^<]*)</title>')
_EDGE = re.compile(r'<g id="edge(\d+)" class="edge">\s*<title>([^<]*)&#45;&gt;([^<]*)</title>')


def _svg(root: Value, max_nodes: int) -> str:
    """The graph as inline SVG: no XML prolog or namespaces (HTML needs none), node groups
    with the DOT ids (``n3``, ``n3op``), edge groups with ``data-from`` / ``data-to``."""
    svg = draw_dot(root, edge_labels=True, max_nodes=max_nodes).pipe(format="svg").decode()
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", svg)
    svg = re.sub(r"<!--.*?-->\n?", "", svg, flags=re.DOTALL)
    svg = _NODE.sub(lambda m: f'<g id="{m[1]}" class="node">\n<title>{m[1]}</title>', svg)
    return _EDGE.sub(
        lambda m: (
            f'<g id="e{m[1]}" class="edge" data-from="{m[2]}" data-to="{m[3]}">\n'
            f"<title>{m[2]} to {m[3]}</title>"
        ),
        svg,
    )


def _json_for_script(data: object) -> str:
    """JSON that cannot end its ``<script>`` element, whatever the labels hold."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False)
    for char in "<>&\u2028\u2029":
        text = text.replace(char, f"\\u{ord(char):04x}")
    return text


def page_html(root: Value, *, gradient: float = 1.0, max_nodes: int = 500) -> str:
    """The explorer page for ``root`` as HTML text (what :func:`explore` writes).

    Args:
        root: The Value to explore.
        gradient: The seed of the backward pass.
        max_nodes: The most Values drawn.

    Returns:
        The page.
    """
    svg = _svg(root, max_nodes)  # first: refuses a graph past max_nodes with draw_dot's error
    data = page_data(root, gradient)
    title = html.escape(f"Backprop, step by step: {name_of(root)}")
    page, style, script = _page_files()
    katex_css, katex_js = _katex_files()
    parts = {
        "title": title,
        "style": style,
        "script": script,
        "katex_css": katex_css,
        "katex_js": katex_js,
        "data": _json_for_script(data),
        "svg": svg,
    }
    # one pass: text put in (labels in the SVG and the JSON) is never searched for placeholders
    return re.sub(
        r"\{(title|style|script|katex_css|katex_js|data|svg)\}", lambda m: parts[m[1]], page
    )


@functools.cache
def _page_files() -> tuple[str, str, str]:
    """The page's template, style and script: ``explorer.html``, ``explorer.css`` and
    ``explorer.js``, package data beside this module, which :func:`page_html` puts inline.

    >>> template, style, script = _page_files()
    >>> "{script}" in template and "#graph" in style and "explore-data" in script
    True
    """
    here = resources.files(__name__.rpartition(".")[0])
    page, style, script = (
        here.joinpath(f"explorer.{kind}").read_text(encoding="utf-8")
        for kind in ("html", "css", "js")
    )
    return page, style, script


@functools.cache
def _katex_files() -> tuple[str, str]:
    """KaTeX's style and script (``katex/katex.min.css``, with the three fonts the formulas use
    inline as ``data:`` URIs, and ``katex/katex.min.js``; MIT licence in ``katex/LICENSE``),
    package data that :func:`page_html` puts inline, so formulas typeset with nothing loaded.

    They are KaTeX 0.19.1's ``dist`` files as ``npm pack katex`` gives them, the script as it is
    and the style with the ``@font-face`` rules of KaTeX_Main-Regular, KaTeX_Math-Italic and
    KaTeX_Size1-Regular pointing at their WOFF2 files as base64 ``data:`` URIs, and the rules
    of the other fonts (which these formulas never use) left out.

    >>> css, js = _katex_files()
    >>> "fonts/" in css, "katex" in js
    (False, True)
    """
    here = resources.files(__name__.rpartition(".")[0]).joinpath("katex")
    css, js = (
        here.joinpath(f"katex.min.{kind}").read_text(encoding="utf-8") for kind in ("css", "js")
    )
    return css, js


def explore(
    root: Value,
    path: str | Path = "backprop.html",
    *,
    gradient: float = 1.0,
    max_nodes: int = 500,
) -> Path:
    """Write the step-by-step explorer for ``root`` to ``path``, one self-contained HTML file
    (open it in a browser); return the path.

    No ``.grad`` changes.

    Args:
        root: The Value to explore.
        path: The HTML file to write.
        gradient: The seed of the backward pass.
        max_nodes: The most Values drawn.

    Returns:
        The path written.

    Raises:
        ValueError: For a graph of more than ``max_nodes`` Values, as
            :func:`~autograd_lite.viz.draw_dot` does.
        OSError: For a path that cannot be written, before rendering anything.
    """
    if not isinstance(root, Value):
        raise TypeError(f"explore takes a Value, got {type(root).__name__}")
    path = Path(path)
    writable_target(path)
    write_atomic(path, page_html(root, gradient=gradient, max_nodes=max_nodes))
    return path


FUNCTIONS = tuple(op.function for op in PRIMITIVES.values() if op.function is not None)
"""The functions an expression given to :func:`parse_expression` may call: every primitive
of the op table that is a function of one input, by its name (``tanh``, ``atan``)."""

_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}


def _number_literal(node: ast.AST) -> float | None:
    """A number written in the expression (not True, not a string, not 1j), as a float."""
    value = node.value if isinstance(node, ast.Constant) else None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:  # an integer too large for a float
            raise ValueError(f"{_short_source(node)} is too large a number") from None
    return None


def _short_source(node: ast.AST) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 60 else text[:57] + "..."


def parse_expression(text: str, values: dict[str, float]) -> Value:
    """Build the graph of an arithmetic expression, e.g. ``"(a*b + c) * f"``, without ``eval``.

    Allowed: numbers, the names in ``values`` (each a leaf Value labelled with its name),
    ``+ - * / **``, unary minus and plus, and calls of :data:`FUNCTIONS`, such as
    ``tanh(x)``.

    Args:
        text: The expression.
        values: The number of each name.

    Returns:
        The expression's root Value.

    Raises:
        ValueError: With one line that says what is not allowed, for anything else
            (attributes, other names or calls, lambdas, subscripts, comparisons).

    >>> L = parse_expression("tanh(a*b) + 1", {"a": 2.0, "b": -1.5})
    >>> round(L.data, 4)
    0.0049
    """
    tree = _parse(text)
    builder = _ExpressionBuilder(values)
    try:
        root = builder.build(tree.body)
    except (ArithmeticError, RecursionError) as error:
        raise ValueError(f"cannot compute {text.strip()!r}: {error}") from None
    unused = sorted(set(values) - builder.used)
    if unused:
        raise ValueError(f"{', '.join(unused)} not used in the expression {text.strip()!r}")
    if root.op is None:
        raise ValueError(f"{text.strip()!r} computes nothing: give an expression, like a*b")
    if not root.label:
        root.label = "L" if "L" not in values else "out"
    return root


def _parse(text: str) -> ast.Expression:
    """The syntax tree of ``text`` as one expression; ``ValueError`` if it is not one."""
    try:
        return ast.parse(text.strip(), mode="eval")
    except SyntaxError as error:
        raise ValueError(f"not an expression: {text[:60]!r} ({error.msg})") from None
    except (RecursionError, MemoryError):
        raise ValueError("the expression is nested too deeply") from None


class _ExpressionBuilder:
    """Turns a syntax tree into Values, node by node, and remembers which names it used.

    :meth:`build` is the only method that recurses (one stack frame per level of nesting);
    the checks of a name and of a call are its leaves.
    """

    def __init__(self, values: dict[str, float]) -> None:
        self.leaves = {name: Value(float(x), label=name) for name, x in values.items()}
        self.used: set[str] = set()

    def build(self, node: ast.AST) -> Value:
        """The Value of ``node``: a number, a name, ``+ - * / **``, a sign, or a call."""
        number = _number_literal(node)
        if number is not None:
            return Value(number, requires_grad=False)
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            left, right = self.build(node.left), self.build(node.right)
            op = _BINARY[type(node.op)]
            if op == "+":
                return left + right
            if op == "-":
                return left - right
            if op == "*":
                return left * right
            if op == "/":
                return left / right
            return left**right
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            number = _number_literal(node.operand)
            if number is not None:  # -2 is the number -2, not an op on 2
                sign = -1.0 if isinstance(node.op, ast.USub) else 1.0
                return Value(sign * number, requires_grad=False)
            operand = self.build(node.operand)
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.Call):
            function = _callee(node)
            argument = self.build(node.args[0])
            return abs(argument) if function == "abs" else getattr(argument, function)()
        raise ValueError(
            f"not allowed in an expression: {_short_source(node)!r} (use numbers, names, "
            f"+ - * / **, and {', '.join(FUNCTIONS)})"
        )

    def name(self, node: ast.Name) -> Value:
        """The leaf Value of a given name; ``ValueError`` for a name with no value."""
        if node.id not in self.leaves:
            if node.id in FUNCTIONS:
                raise ValueError(f"{node.id} is a function: call it, like {node.id}(x)")
            raise ValueError(f"unknown name {node.id!r}: give its value as {node.id}=NUMBER")
        self.used.add(node.id)
        return self.leaves[node.id]


def _callee(node: ast.Call) -> str:
    """The name of the function a call calls, once the call is checked to be one of
    :data:`FUNCTIONS` with one argument."""
    if not (isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS):
        raise ValueError(
            f"only these functions can be called: {', '.join(FUNCTIONS)}; got "
            f"{_short_source(node.func)!r}"
        )
    if len(node.args) != 1 or node.keywords:
        raise ValueError(f"{node.func.id} takes one argument")
    return node.func.id
