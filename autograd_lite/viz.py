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
import html
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._files import writable_target
from ._gif import pillow, save_gif
from .engine import Value, topological_order
from .steps import Step, backward_steps, names

__all__ = [
    "COLOURS", "HIGHLIGHT", "LABEL_LIMIT", "MAX_LAYOUT_COST", "RANKDIRS", "GraphvizNotFoundError",
    "Stepper", "animate_backward", "draw_dot", "layout_cost",
]  # fmt: skip

RANKDIRS = ("LR", "RL", "TB", "BT")
"""Graphviz layout directions: left to right, right to left, top to bottom, bottom to top."""

COLOURS = {
    "output": "gold",
    "parameter": "lightblue",  # a leaf with requires_grad=True
    "constant": "lightgrey",  # a leaf with requires_grad=False: data, numbers in expressions
    "intermediate": "white",
}

HIGHLIGHT = {"node": "tomato", "edge": "red"}
"""``draw_dot(root, step=k)``: the fill of the node step k processes, and the colour of its
input edges (drawn bold, each labelled with its local derivative)."""

INSTALL_HINT = (
    "Graphviz's `dot` program is not installed, so the graph cannot be rendered. Install it "
    "(Debian/Ubuntu: sudo apt-get install graphviz; macOS: brew install graphviz; "
    "conda: conda install -c conda-forge graphviz); in a notebook, restart the kernel then."
)

LABEL_LIMIT = 40
"""A label longer than this many characters is drawn cut short, ending in "…" (the explorer
shows the whole label on hover): a drawing's text grows with the graph, whatever the labels."""

MAX_LAYOUT_COST = 40_000
"""The largest layout cost (see :func:`layout_cost`) that ``draw_dot`` and the explorer hand to
Graphviz: about what ``dot`` lays out in two seconds (up to four under load). Raise it to
wait longer."""


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
    step: int | None = None,
) -> Any:
    """The graph behind ``root`` as a ``graphviz.Digraph`` (shown inline in Jupyter).

    One record node ``{ label | data | grad }`` per Value and one ellipse per op, edges in
    operand order (``x * x`` draws two). ``edge_labels`` writes the local derivative
    ∂out/∂input, stored on the node in the forward pass, on each edge into an op. Node ids
    follow topological position, so the DOT text is the same on every run.

    ``step=k`` draws the backward pass from ``root`` as it stands after step ``k`` of
    :func:`~autograd_lite.steps.backward_steps` (``0``: before it starts), whatever the
    ``.grad`` fields hold: the node step ``k`` processes and its input edges in
    :data:`HIGHLIGHT`, the gradients reached so far filled in (``grad ?`` for the others;
    none for values that need no gradient), and the step's chain-rule arithmetic as the
    caption. :class:`Stepper` steps through all of them.

    A label longer than :data:`LABEL_LIMIT` characters is drawn cut short, and an unlabelled
    value that :func:`~autograd_lite.steps.names` calls ``#k`` (its expression is too long to
    write out) is drawn with that name, so that captions and pictures agree.

    Args:
        root: The Value whose graph to draw.
        rankdir: Graphviz's direction: ``"LR"``, ``"RL"``, ``"TB"`` or ``"BT"``.
        show_grad: Whether the records show ``.grad``.
        edge_labels: Whether edges into an op show the local derivative.
        max_nodes: The most Values drawn (``dot`` takes about half a minute for 1,000).
        step: Draw the backward pass after this step, or None for the graph as it is.

    Returns:
        A ``graphviz.Digraph``.

    Raises:
        ValueError: For an unknown ``rankdir``, a graph of more than ``max_nodes`` Values, a
            graph whose layout would keep ``dot`` busy for more than a few seconds (one
            value used by many operations far apart, as ``a`` in ``a + a + … + a``: see
            :func:`layout_cost`), or a ``step`` outside ``0 .. len(backward_steps(root))``.
        GraphvizNotFoundError: When the ``graphviz`` package is missing.
    """
    _check(root, rankdir, max_nodes)
    if step is None:
        return _draw(root, rankdir, show_grad, edge_labels, None)
    if not show_grad:
        raise ValueError("step=k draws the gradients of the backward pass: drop show_grad=False")
    return _draw(root, rankdir, True, edge_labels, _frame(root, backward_steps(root), step))


def _check(root: Value, rankdir: str, max_nodes: int) -> None:
    if rankdir not in RANKDIRS:
        raise ValueError(f"rankdir must be one of {', '.join(RANKDIRS)}; got {rankdir!r}")
    if not isinstance(max_nodes, int) or max_nodes < 1:
        raise ValueError(f"max_nodes must be a positive int, got {max_nodes!r}")
    if not isinstance(root, Value):
        raise TypeError(f"draw_dot draws a Value, got {type(root).__name__}")
    count = len(topological_order(root))
    if count > max_nodes:
        raise ValueError(
            f"the graph has {count} values, more than max_nodes={max_nodes}; draw a "
            f"sub-expression (one neuron's output, say) or pass max_nodes={count} "
            "(dot needs about 35 s for 1,000 values)"
        )
    cost, culprit, uses = _layout(root)
    if cost > MAX_LAYOUT_COST:
        name = names(root)[culprit]
        why = (
            f"{name!r} is used by {uses} operations far apart"
            if uses > 1
            else f"values such as {name!r} are used far from where they are made"
        )
        raise ValueError(
            f"the graph is too tangled for Graphviz to lay out in a few seconds: {why}, and "
            f"every long edge is a path dot must route (layout cost {cost:,}, more than "
            f"{MAX_LAYOUT_COST:,}); draw a sub-expression, or one with fewer uses of the same "
            "value"
        )


def layout_cost(root: Value) -> int:
    """How hard the graph of ``root`` is for Graphviz's ``dot`` to lay out, in its own units.

    ``dot`` puts the graph's nodes (values and ops) in ranks, then places every node, and a
    dummy node on every rank an edge passes through, by network simplex; that placement is
    what takes the time. Measured here, it grows with the sum of the squared lengths (in
    ranks) of the edges, far more than with the number of nodes or the length of labels: a
    chain of 500 values is quick, while ``a + a + … + a`` with 75 terms, whose ``a`` sends
    edges across the whole chain, took minutes. This is that sum, with ranks found as dot
    would find them for these graphs (each node as early as its inputs allow, or each as late
    as its uses allow, whichever is shorter); :data:`MAX_LAYOUT_COST` bounds it.

    Args:
        root: The Value whose graph would be drawn.

    Returns:
        The cost, a sum of squared edge lengths in ranks.

    >>> a = Value(1.0, label="a")
    >>> layout_cost(a * a + a), layout_cost(((a * a + a) * a + a) * a + a)
    (14, 298)
    """
    return _layout(root)[0]


def _layout(root: Value) -> tuple[int, Value, int]:
    """The layout cost, the value whose edges cost most, and how many times it is used."""
    order = topological_order(root)
    early: dict[Value, int] = {}  # each value's rank, its op one rank before it
    for value in order:
        early[value] = 0 if value._a is None else max(early[x] for x in value.inputs) + 2
    first_use: dict[Value, int] = {}
    for value in order:
        for x in value.inputs:
            first_use[x] = min(first_use.get(x, early[value]), early[value])
    for value in order:  # a leaf is drawn one rank before its first use
        if value._a is None and value in first_use:
            early[value] = first_use[value] - 2
    late = {root: early[root]}
    for value in reversed(order):  # each value as late as its uses allow
        for x in value.inputs:
            late[x] = min(late.get(x, late[value]), late[value] - 2)
    best: tuple[int, Value, int] = (0, root, 0)
    for rank in (early, late):
        spent: dict[Value, int] = {}
        uses: dict[Value, int] = {}
        for value in order:
            for x in value.inputs:  # the edge x -> value's op, which sits at rank[value] - 1
                span = rank[value] - 1 - rank[x]
                spent[x] = spent.get(x, 0) + span * span
                uses[x] = uses.get(x, 0) + 1
        cost = sum(spent.values()) + sum(v._a is not None for v in order)  # op -> value: 1
        culprit = max(spent, key=spent.__getitem__, default=root)
        if rank is early or cost <= best[0]:  # a tie: what dot does, pulling values down
            best = (cost, culprit, uses.get(culprit, 0))
    return best


class _Frame:
    """The backward pass after step ``k``: the gradients reached, the current step."""

    def __init__(self, grads: dict[Value, float], current: Step | None, lines: list[str]) -> None:
        self.grads, self.current, self.lines = grads, current, lines
        self.caption = "\n".join(lines)


def _root_name(root: Value) -> str:
    return root.label or "L"


def _frame(root: Value, steps: Sequence[Step], k: object) -> _Frame:
    if not isinstance(k, int) or isinstance(k, bool) or not 0 <= k <= len(steps):
        raise ValueError(
            f"step must be an int from 0 (before the backward pass) to {len(steps)} (its last "
            f"step: this graph's backward pass has {len(steps)}), got {k!r}"
        )
    grads: dict[Value, float] = {}
    for done in steps[:k]:
        grads[done.node] = done.grad  # complete when it is reached
        for edge in done.edges:
            grads[edge.input] = edge.total  # the running total, so far
    if k == 0:
        return _Frame(grads, None, ["before the backward pass: no gradients yet"])
    current = steps[k - 1]
    return _Frame(grads, current, current.arithmetic(_root_name(root)))


def _draw(
    root: Value, rankdir: str, show_grad: bool, edge_labels: bool, frame: _Frame | None
) -> Any:
    nodes = topological_order(root)
    dot = _digraph_class()(graph_attr={"rankdir": rankdir})  # explains a missing graphviz
    from graphviz import nohtml

    current = frame.current.node if frame is not None and frame.current is not None else None
    if frame is not None:
        # the caption, one left-justified line per edge of the step
        caption = "".join(_escape(line) + "\\l" for line in frame.lines)
        dot.attr(label=nohtml(caption), labelloc="b", labeljust="l", fontname="Helvetica")
    ids = {node: f"n{i}" for i, node in enumerate(nodes)}
    named = names(root)
    for node in nodes:
        label = nohtml("{ " + " | ".join(_fields(node, named[node], show_grad, frame)) + " }")
        kind = "output" if node is root else _kind(node)
        if node is current:
            dot.node(
                ids[node], label, shape="record", style="filled,bold", fillcolor=HIGHLIGHT["node"]
            )
        else:
            dot.node(ids[node], label, shape="record", style="filled", fillcolor=COLOURS[kind])
        if node.op is None:
            continue
        op_id = ids[node] + "op"
        if node is current:
            dot.node(
                op_id,
                nohtml(_escape(node.op.name)),
                shape="ellipse",
                style="filled,bold",
                fillcolor=HIGHLIGHT["node"],
            )
            dot.edge(op_id, ids[node], color=HIGHLIGHT["edge"], penwidth="2")
        else:
            dot.node(op_id, nohtml(_escape(node.op.name)), shape="ellipse")
            dot.edge(op_id, ids[node])
        for child, local in zip(node.inputs, node.local_grads):
            if node is current and child.requires_grad:
                dot.edge(
                    ids[child], op_id, label=f"{local:.4g}", color=HIGHLIGHT["edge"], penwidth="2"
                )
            elif edge_labels and child.requires_grad:
                dot.edge(ids[child], op_id, label=f"{local:.4g}")
            else:
                dot.edge(ids[child], op_id)
    return dot


def _fields(node: Value, name: str, show_grad: bool, frame: _Frame | None) -> list[str]:
    """The fields of a node's record: its label (or the name captions give it), its data, and
    its gradient (``grad ?`` in a frame of the backward pass where it is not known yet)."""
    fields = [_escape(_elided(node.label), "\\{}|<>")] if node.label else []
    if not node.label and name.startswith("#"):
        fields.append(name)  # the name captions give it: its expression is long
    fields.append(f"data {node.data:.4f}")
    if frame is not None:
        if node in frame.grads:
            fields.append(f"grad {frame.grads[node]:.4f}")
        elif node.requires_grad:
            fields.append("grad ?")
    elif show_grad:
        fields.append(f"grad {node.grad:.4f}")
    return fields


def _kind(node: Value) -> str:
    """The colour key of a node that is not the output (see ``COLOURS``)."""
    if node.op is not None:
        return "intermediate"
    return "parameter" if node.requires_grad else "constant"


def _elided(label: str) -> str:
    """``label``, or its first ``LABEL_LIMIT - 1`` characters and "…" when it is longer."""
    return label if len(label) <= LABEL_LIMIT else label[: LABEL_LIMIT - 1] + "…"


class Stepper:
    """The backward pass from ``root``, one frame per step: ``draw_dot(root, step=k)`` for
    ``k`` in ``0 .. len(backward_steps(root))``.

    In Jupyter, with ipywidgets installed (optional), it shows a slider and a Play button
    that step through the frames; without ipywidgets (or in a static page) it shows every
    frame one below the other, each with its step number and arithmetic.

    Args:
        root: The Value to run the backward pass from.
        rankdir: As for :func:`draw_dot`.
        edge_labels: As for :func:`draw_dot`.
        max_nodes: As for :func:`draw_dot`.

    Raises:
        ValueError: As :func:`draw_dot` does, for a graph it would refuse.

    >>> import autograd_lite as ag
    >>> x = ag.Value(3.0, label="x")
    >>> y = x * x
    >>> y.label = "y"
    >>> stepper = ag.Stepper(y)
    >>> len(stepper)                   # before the pass, and its one step
    2
    >>> print(stepper.caption(1))      # x is used twice: two contributions
    dy/dx += dy/dy · ∂y/∂x = 1 · 3 = 3
    dy/dx += dy/dy · ∂y/∂x = 1 · 3 = 3
    >>> '"{ x | data 3.0000 | grad 6.0000 }"' in stepper.frame(1).source
    True
    """

    def __init__(
        self, root: Value, *, rankdir: str = "LR", edge_labels: bool = False, max_nodes: int = 500
    ) -> None:
        _check(root, rankdir, max_nodes)  # refuses what draw_dot refuses, with its error
        self.root = root
        self.steps = backward_steps(root)
        self._names = names(root)
        self._options = (rankdir, edge_labels)
        self._svg: dict[int, str] = {}

    def __len__(self) -> int:
        """The number of frames: one before the backward pass, then one per step."""
        return len(self.steps) + 1

    def caption(self, k: int) -> str:
        """Frame ``k``'s caption: the arithmetic of step ``k``, one line per input edge.

        Args:
            k: The frame, ``0 .. len(self) - 1``.

        Returns:
            The caption text.
        """
        return _frame(self.root, self.steps, k).caption

    def frame(self, k: int) -> Any:
        """Frame ``k`` as a ``graphviz.Digraph``: the same as ``draw_dot(root, step=k)``.

        Args:
            k: The frame, ``0 .. len(self) - 1``.

        Returns:
            A ``graphviz.Digraph``.
        """
        rankdir, edge_labels = self._options
        return _draw(self.root, rankdir, True, edge_labels, _frame(self.root, self.steps, k))

    def frames(self) -> list[Any]:
        """Every frame, from before the backward pass to its last step."""
        return [self.frame(k) for k in range(len(self))]

    def _title(self, k: int) -> str:
        if k == 0:
            return f"Step 0 of {len(self.steps)}: before the backward pass"
        node = self.steps[k - 1].node
        return f"Step {k} of {len(self.steps)}: {self._names[node]}"

    def _frame_html(self, k: int) -> str:
        if k not in self._svg:
            graph = self.frame(k)
            try:
                self._svg[k] = graph.pipe(format="svg", encoding="utf-8")
            except GraphvizNotFoundError:
                return f"<pre>{html.escape(INSTALL_HINT)}\n\n{html.escape(graph.source)}</pre>"
        svg = self._svg[k]
        return svg[svg.find("<svg") :] if "<svg" in svg else svg  # no XML prologue inline

    def _repr_html_(self) -> str:
        """Every frame, one below the other, each under its title and with its arithmetic."""
        parts = []
        for k in range(len(self)):
            parts.append(
                f"<div><h4>{html.escape(self._title(k))}</h4>"
                f"<pre>{html.escape(self.caption(k))}</pre>{self._frame_html(k)}</div>"
            )
        return "\n".join(parts)

    def widget(self) -> Any:
        """A slider and a Play button over the frames (needs ipywidgets)."""
        try:
            import ipywidgets as widgets  # type: ignore[import-untyped,import-not-found,unused-ignore]
        except ImportError as error:
            raise ImportError(
                "the slider needs ipywidgets (pip install ipywidgets); without it a Stepper "
                "shows every frame"
            ) from error
        last = len(self) - 1
        play = widgets.Play(value=0, min=0, max=last, step=1, interval=1500, description="Play")
        slider = widgets.IntSlider(value=0, min=0, max=last, step=1, description="step")
        widgets.jslink((play, "value"), (slider, "value"))
        title = widgets.HTML(self._heading(0))
        picture = widgets.HTML(self._frame_html(0))

        def show(change: dict[str, Any]) -> None:
            k = change["new"]
            title.value, picture.value = self._heading(k), self._frame_html(k)

        slider.observe(show, names="value")
        return widgets.VBox([widgets.HBox([play, slider]), title, picture])

    def _heading(self, k: int) -> str:
        return f"<b>{html.escape(self._title(k))}</b><pre>{html.escape(self.caption(k))}</pre>"

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        """The widget where ipywidgets is installed, and every frame as HTML for static
        pages (and as the fallback where there is no widget)."""
        bundle: dict[str, Any] = {
            "text/plain": f"<Stepper: {len(self.steps)} steps of the backward pass>",
            "text/html": self._repr_html_(),
        }
        try:
            widget = self.widget()
        except ImportError:
            return bundle
        view = widget._repr_mimebundle_(**kwargs)
        if isinstance(view, dict) and "application/vnd.jupyter.widget-view+json" in view:
            bundle["application/vnd.jupyter.widget-view+json"] = view[
                "application/vnd.jupyter.widget-view+json"
            ]
        return bundle


def animate_backward(
    root: Value,
    path: str | Path = "backprop.gif",
    *,
    rankdir: str = "LR",
    duration: int = 1200,
    dpi: int = 72,
    max_nodes: int = 100,
) -> Path:
    """Write the backward pass from ``root`` as an animated GIF for slides: the frames of
    ``draw_dot(root, step=k)`` for ``k = 0 .. len(backward_steps(root))`` (one before the pass,
    then one per step, each with its chain-rule caption), rendered by Graphviz to PNG at
    ``dpi`` and put together with Pillow, ``duration`` ms each; return the path.

    No ``.grad`` changes. Needs Graphviz's ``dot`` (:class:`GraphvizNotFoundError` says how to
    install it) and Pillow (an ``ImportError`` names ``pip install 'autograd_lite[gif]'``).
    Graphs past ``max_nodes`` values are refused as by :func:`draw_dot`.
    """
    pillow()  # say what is missing before any work
    stepper = Stepper(root, rankdir=rankdir, max_nodes=max_nodes)
    if not isinstance(dpi, int) or not 20 <= dpi <= 300:
        raise ValueError(f"dpi must be an int from 20 to 300, got {dpi!r}")
    writable_target(Path(path))
    frames = []
    for k in range(len(stepper)):
        frame = stepper.frame(k)
        frame.attr(dpi=str(dpi))
        frames.append(frame.pipe(format="png"))
    return save_gif(frames, path, duration=duration)
