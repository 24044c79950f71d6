"""draw_dot and the Stepper: the DOT text (no `dot` needed), each step of the backward pass
frame by frame, rendering where `dot` exists, and a missing `dot`."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import autograd_lite as ag
from autograd_lite import Value
from autograd_lite.ops import Primitive
from autograd_lite.viz import (
    COLOURS,
    HIGHLIGHT,
    INSTALL_HINT,
    LABEL_LIMIT,
    MAX_LAYOUT_COST,
    GraphvizNotFoundError,
    layout_cost,
)

graphviz = pytest.importorskip("graphviz")
# Skipped where Graphviz's dot is missing, except in CI, which installs it: there they must run.
needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None and not os.environ.get("CI"), reason="Graphviz's dot is missing"
)

HOSTILE = 'a{b}|c<d>\\e"f\ng'


def neuron() -> Value:
    x = Value(2.0, label="x", requires_grad=False)
    w = Value(-0.5, label="w")
    b = Value(0.25, label="b")
    out = (x * w + b).tanh()
    out.label = "out"
    out.backward()
    return out


def records(source: str) -> dict[str, str]:
    """node id -> record label text."""
    return dict(re.findall(r'^\s*(n\d+) \[label="\{ (.*?) \}"', source, flags=re.MULTILINE))


def test_record_nodes_hold_label_data_and_grad() -> None:
    out = neuron()
    labels = records(ag.draw_dot(out).source)
    assert len(labels) == 6  # x, w, x*w, b, x*w+b, out
    t = out.data
    assert f"out | data {t:.4f} | grad 1.0000" in labels.values()
    assert f"w | data -0.5000 | grad {2.0 * (1 - t * t):.4f}" in labels.values()
    without = records(ag.draw_dot(out, show_grad=False).source)
    assert "w | data -0.5000" in without.values()
    assert not any("grad" in text for text in without.values())


def test_one_op_node_per_operation_and_two_edges_for_x_times_x() -> None:
    x = Value(3.0, label="x")
    source = ag.draw_dot(x * x).source
    assert source.count('n1op [label="*"') == 1
    assert source.count("n0 -> n1op") == 2
    assert "n1op -> n1" in source
    ops = re.findall(r'(n\d+op) \[label="?([^" ]+)"? shape=ellipse', ag.draw_dot(neuron()).source)
    assert [name for _, name in ops] == ["*", "+", "tanh"]


def test_edge_labels_are_the_stored_local_derivatives() -> None:
    x, w = Value(2.0, label="x"), Value(-3.0, label="w")
    y = x * w
    source = ag.draw_dot(y, edge_labels=True).source
    assert "n0 -> n2op [label=-3]" in source  # ∂(x·w)/∂x = w
    assert "n1 -> n2op [label=2]" in source  # ∂(x·w)/∂w = x
    assert "label=-3" not in ag.draw_dot(y).source
    # a number in an expression is a constant: no derivative is computed for it, none drawn
    assert "n1 -> n2op\n" in ag.draw_dot(x * 5.0, edge_labels=True).source


def test_colours_tell_output_parameters_constants_and_intermediates_apart() -> None:
    source = ag.draw_dot(neuron()).source
    colour = dict(re.findall(r'"\{ (\w+) \|.*fillcolor=(\w+)', source))
    assert colour == {
        "x": COLOURS["constant"],
        "w": COLOURS["parameter"],
        "b": COLOURS["parameter"],
        "out": COLOURS["output"],
    }
    assert source.count(f"fillcolor={COLOURS['intermediate']}") == 2
    assert len(set(COLOURS.values())) == len(COLOURS)


def test_hostile_labels_are_escaped() -> None:
    x = Value(1.0, label=HOSTILE)
    source = ag.draw_dot(x + 1.0).source
    assert '"{ a\\{b\\}\\|c\\<d\\>\\\\e\\"f\\ng | data 1.0000 | grad 0.0000 }"' in source
    # an op name is not a record: only backslashes, quotes and newlines are escaped
    op_node = 'n1op [label="a{b}|c<d>\\\\e\\"f\\ng" shape=ellipse]'
    assert op_node in ag.draw_dot(hostile_op(x)).source


def hostile_op(x: Value) -> Value:
    """A user's own primitive whose name is full of DOT syntax."""
    return ag.apply(Primitive(HOSTILE, forward=lambda v: v, partials=(1.0,)), x)


def test_ids_follow_topological_position_and_the_text_is_identical_across_runs() -> None:
    first = ag.draw_dot(neuron()).source
    assert first == ag.draw_dot(neuron()).source
    script = (
        "import autograd_lite as ag; x = ag.Value(2.0); print(ag.draw_dot((x * x).exp()).source)"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True
        ).stdout
        for _ in range(2)
    }
    assert len(runs) == 1
    # every edge goes from a lower id to a higher one: inputs are numbered first
    for a, b in re.findall(r"n(\d+)(?:op)? -> n(\d+)", first):
        assert int(a) <= int(b)


def test_rankdir_is_validated() -> None:
    y = Value(1.0) * 2.0
    assert "rankdir=TB" in ag.draw_dot(y, rankdir="TB").source
    with pytest.raises(ValueError, match="LR, RL, TB, BT") as info:
        ag.draw_dot(y, rankdir="sideways")
    assert "'sideways'" in str(info.value)


def test_max_nodes_says_how_many_and_what_to_do() -> None:
    x = Value(0.5)
    y = x
    for _ in range(600):
        y = y * 1.0001
    with pytest.raises(ValueError, match="1201 values, more than max_nodes=500") as info:
        ag.draw_dot(y)
    assert "sub-expression" in str(info.value)
    assert "max_nodes=1201" in str(info.value)
    assert len(records(ag.draw_dot(y, max_nodes=1201).source)) == 1201
    with pytest.raises(ValueError, match="positive"):
        ag.draw_dot(y, max_nodes=0)


def test_the_engine_does_not_draw() -> None:
    """Drawing is a consumer of the engine, never a part of it (the import graph stays a DAG)."""
    assert not hasattr(Value, "draw")


def test_a_missing_graphviz_package_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from autograd_lite import viz

    viz._digraph_class.cache_clear()
    monkeypatch.setitem(sys.modules, "graphviz", None)  # import graphviz -> ImportError
    try:
        with pytest.raises(ImportError, match=r"pip install 'autograd_lite\[viz\]'"):
            ag.draw_dot(Value(1.0))
    finally:
        viz._digraph_class.cache_clear()


def test_without_dot_a_notebook_shows_advice_and_source_and_render_raises(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    graph = ag.draw_dot(neuron())
    monkeypatch.setenv("PATH", "")  # graphviz runs `dot` through the PATH: now it is missing
    bundle = graph._repr_mimebundle_()
    assert list(bundle) == ["text/plain"]
    assert bundle["text/plain"].startswith(INSTALL_HINT)
    assert graph.source in bundle["text/plain"]
    assert "apt-get install graphviz" in INSTALL_HINT
    assert "brew install graphviz" in INSTALL_HINT
    with pytest.raises(GraphvizNotFoundError, match="apt-get install graphviz"):
        graph.pipe(format="svg")
    with pytest.raises(GraphvizNotFoundError, match="brew install graphviz"):
        graph.render(str(tmp_path) + "/graph", format="svg")


@needs_dot
def test_svg_renders_with_every_label() -> None:
    out = neuron()
    svg = html.unescape(ag.draw_dot(out).pipe(format="svg", encoding="utf-8"))
    assert svg.lstrip().startswith("<?xml")
    for text in ("x", "w", "b", "out", "tanh", f"data {out.data:.4f}", "grad 1.0000"):
        assert f">{text}</text>" in svg
    bundle = ag.draw_dot(out)._repr_mimebundle_()
    assert "image/svg+xml" in bundle


@needs_dot
def test_a_hostile_label_renders() -> None:
    y = hostile_op(Value(1.0, label=HOSTILE) * 2.0)
    svg = html.unescape(ag.draw_dot(y).pipe(format="svg", encoding="utf-8"))
    # the label (one record field) and the op name: every character drawn as text
    assert svg.count('>a{b}|c<d>\\e"f</text>') == 2
    assert svg.count(">g</text>") == 2


def test_control_characters_in_labels_are_drawn_as_their_pictures() -> None:
    x = Value(1.0, label="a\x00b\tc\x1bd\x7fe\x85f\ud800g\nh")
    source = ag.draw_dot(x * 2.0).source
    assert "\x00" not in source
    assert "a␀b␉c␛d␡e\ufffdf\ufffdg\\nh" in source
    source.encode("utf-8")  # no lone surrogate left to break writing the file


@needs_dot
def test_a_label_with_a_nul_renders() -> None:
    y = hostile_op(Value(1.0, label="x\x00y") * 2.0)
    svg = html.unescape(ag.draw_dot(y).pipe(format="svg", encoding="utf-8"))
    assert ">x␀y</text>" in svg


def test_render_without_dot_leaves_no_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    graph = ag.draw_dot(neuron())
    monkeypatch.setenv("PATH", "")
    with pytest.raises(GraphvizNotFoundError):
        graph.render(tmp_path / "graph", format="svg")
    with pytest.raises(GraphvizNotFoundError):
        graph.render(outfile=tmp_path / "graph.png")
    assert list(tmp_path.iterdir()) == []


def _reused(times: int, op: str = "+") -> Value:
    """``a + a + … + a`` (or ``a * a * … * a``): one value used by every operation of a chain."""
    a = Value(1.0, label="a")
    total = a
    for _ in range(times):
        total = total + a if op == "+" else total * a
    return total


def _fan_out(times: int) -> Value:
    a = Value(1.0, label="a")
    terms = [a * float(i) for i in range(times)]
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


@pytest.mark.parametrize(
    ("root", "culprit"),
    [
        (_reused(74), "'a' is used by 75 operations"),
        (_reused(40, "*"), "'a' is used by 41 operations"),
        (_fan_out(60), "'a' is used by 60 operations"),
    ],
    ids=["a+...+a 75 terms", "a*...*a 41 factors", "a times 60 numbers, summed"],
)
def test_a_graph_whose_layout_would_keep_dot_busy_is_refused(root: Value, culprit: str) -> None:
    assert len(ag.topological_order(root)) < 500  # under max_nodes: the count does not catch it
    assert layout_cost(root) > MAX_LAYOUT_COST
    with pytest.raises(ValueError, match="too tangled for Graphviz") as info:
        ag.draw_dot(root)
    assert culprit in str(info.value)
    assert "sub-expression" in str(info.value)
    with pytest.raises(ValueError, match="too tangled for Graphviz"):
        ag.Stepper(root)


@pytest.mark.parametrize(
    "root",
    [
        _reused(20),
        ag.nn.MLP(3, [8, 8, 1], seed=0)([1.0, 2.0, 3.0]),  # type: ignore[list-item]
        _fan_out(20),
    ],
    ids=["a+...+a 21 terms", "MLP(3, [8, 8, 1])", "a times 20 numbers, summed"],
)
def test_graphs_dot_lays_out_quickly_are_drawn(root: Value) -> None:
    assert layout_cost(root) <= MAX_LAYOUT_COST
    assert len(records(ag.draw_dot(root).source)) == len(ag.topological_order(root))


def test_a_long_chain_costs_in_proportion_to_its_length() -> None:
    x = Value(0.5, label="x")
    for _ in range(166):
        x = (x * 0.9 + 0.1).tanh()
    assert layout_cost(x) < 3 * len(ag.topological_order(x))


def test_long_labels_are_drawn_cut_short_and_long_expressions_by_their_place() -> None:
    x = Value(1.0, label="x" * 500)
    y = x * 2.0
    for _ in range(20):
        y = y * y
    source = ag.draw_dot(y).source
    assert "x" * 500 not in source
    assert "x" * (LABEL_LIMIT - 1) + "…" in source
    fields = records(source)
    assert fields["n0"] == "x" * (LABEL_LIMIT - 1) + "… | data 1.0000 | grad 0.0000"
    assert fields["n1"] == "data 2.0000 | grad 0.0000"  # a number: named by its value
    assert fields["n22"] == "#22 | data inf | grad 0.0000"  # as captions and the explorer name it
    stepper = ag.Stepper(y)
    assert stepper._title(1) == "Step 1 of 21: #22"
    assert max(len(stepper.caption(k)) for k in range(len(stepper))) < 400


def test_small_graphs_are_drawn_as_before() -> None:
    x = Value(2.0, label="x")
    source = ag.draw_dot((x * x).tanh()).source
    assert list(records(source).values()) == [
        "x | data 2.0000 | grad 0.0000",
        "data 4.0000 | grad 0.0000",
        "data 0.9993 | grad 0.0000",
    ]


def classic() -> tuple[Value, dict[str, Value]]:
    """L = (a*b + c)*f, the running example of notebook 01 (no backward() called)."""
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    c, f = Value(10.0, label="c"), Value(-2.0, label="f")
    L = (a * b + c) * f
    L.label = "L"
    return L, {"a": a, "b": b, "c": c, "f": f}


def ids(root: Value) -> dict[Value, str]:
    return {node: f"n{i}" for i, node in enumerate(ag.topological_order(root))}


def highlighted(source: str) -> list[str]:
    """Ids of the record nodes filled with the highlight colour."""
    return re.findall(rf"^\s*(n\d+) \[.*fillcolor={HIGHLIGHT['node']}", source, re.MULTILINE)


def caption(source: str) -> str:
    """The graph's label (one ``\\l``-ended line per edge) as plain lines."""
    labels: list[str] = re.findall(r'\blabel="((?:[^"\\]|\\.)*)" labeljust', source)
    (label,) = labels
    return label.replace("\\l", "\n").rstrip("\n")


def test_each_step_highlights_the_node_backward_steps_names() -> None:
    L, _ = classic()
    steps = ag.backward_steps(L)
    number = ids(L)
    assert len(steps) == 3
    assert highlighted(ag.draw_dot(L, step=0).source) == []
    for k, step in enumerate(steps, start=1):
        source = ag.draw_dot(L, step=k).source
        assert highlighted(source) == [number[step.node]]
        op, name = number[step.node] + "op", step.node.op.name if step.node.op else ""
        assert f'{op} [label="{name}" fillcolor={HIGHLIGHT["node"]}' in source
        for edge in step.edges:  # its input edges: bold, coloured, with the local derivative
            assert (
                f"{number[edge.input]} -> {op} [label={edge.local:.4g} "
                f"color={HIGHLIGHT['edge']} penwidth=2]"
            ) in source
        assert source.count(f"color={HIGHLIGHT['edge']}") == len(step.edges) + 1


def test_gradients_are_shown_only_for_the_nodes_reached() -> None:
    L, leaf = classic()
    number = ids(L)
    before = records(ag.draw_dot(L, step=0).source)
    assert all(text.endswith("grad ?") for text in before.values())
    after_one = records(ag.draw_dot(L, step=1).source)
    assert after_one[number[L]] == "L | data -8.0000 | grad 1.0000"
    assert after_one[number[leaf["f"]]] == "f | data -2.0000 | grad 4.0000"
    assert after_one[number[leaf["a"]]] == "a | data 2.0000 | grad ?"
    assert after_one[number[leaf["c"]]] == "c | data 10.0000 | grad ?"
    after_two = records(ag.draw_dot(L, step=2).source)
    assert after_two[number[leaf["c"]]].endswith("grad -2.0000")
    assert after_two[number[leaf["a"]]].endswith("grad ?")
    # the last frame shows what backward() gives, and none of it touched .grad
    last = records(ag.draw_dot(L, step=3).source)
    assert leaf["a"].grad == 0.0
    L.backward()
    assert last == records(ag.draw_dot(L).source)


def test_a_value_used_twice_shows_its_running_total() -> None:
    x = Value(3.0, label="x")
    y = (x * x).tanh()
    y.label = "y"
    number = ids(y)
    steps = ag.backward_steps(y)
    assert records(ag.draw_dot(y, step=1).source)[number[x]] == "x | data 3.0000 | grad ?"
    total = steps[1].edges[-1].total
    after = records(ag.draw_dot(y, step=2).source)
    assert after[number[x]] == f"x | data 3.0000 | grad {total:.4f}"


def test_constants_get_no_gradient_field() -> None:
    w = Value(0.5, label="w")
    x = Value(2.0, label="x", requires_grad=False)
    y = w * x
    number = ids(y)
    for k in (0, 1):
        assert records(ag.draw_dot(y, step=k).source)[number[x]] == "x | data 2.0000"
    source = ag.draw_dot(y, step=1).source
    assert f"{number[x]} -> {number[y]}op\n" in source  # no derivative for a constant: plain
    assert f"fillcolor={COLOURS['constant']}" in source


def test_the_caption_is_the_steps_arithmetic() -> None:
    L, _ = classic()
    for k, step in enumerate(ag.backward_steps(L), start=1):
        assert caption(ag.draw_dot(L, step=k).source) == "\n".join(step.arithmetic("L"))
    assert caption(ag.draw_dot(L, step=0).source).startswith("before the backward pass")
    assert caption(ag.draw_dot(L, step=3).source).startswith("dL/da += dL/d(a*b)")
    assert "labeljust" not in ag.draw_dot(L).source  # no caption without step


def test_a_hostile_label_in_the_caption_is_escaped() -> None:
    x = Value(1.0, label='a"b\\c\nd')
    source = ag.draw_dot(x * 2.0, step=1).source
    assert 'label="dL/da\\"b\\\\c\\nd += ' in source


@pytest.mark.parametrize("bad", [-1, 4, 1.0, True, "1"])
def test_step_out_of_range_raises_with_the_valid_range(bad: object) -> None:
    L, _ = classic()
    with pytest.raises(ValueError, match=r"from 0 .* to 3 .*"):
        ag.draw_dot(L, step=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="to 3"):
        ag.Stepper(L).frame(bad)  # type: ignore[arg-type]


def test_a_leaf_has_one_frame_and_show_grad_false_is_refused() -> None:
    x = Value(1.0, label="x")
    assert len(ag.Stepper(x)) == 1
    assert records(ag.draw_dot(x, step=0).source) == {"n0": "x | data 1.0000 | grad ?"}
    with pytest.raises(ValueError, match=r"from 0 .* to 0"):
        ag.draw_dot(x, step=1)
    with pytest.raises(ValueError, match="show_grad"):
        ag.draw_dot(x * 2.0, step=1, show_grad=False)


def test_big_graphs_are_refused_with_draw_dots_error() -> None:
    y = Value(0.5)
    for _ in range(600):
        y = y * 1.0001
    with pytest.raises(ValueError, match="1201 values, more than max_nodes=500"):
        ag.draw_dot(y, step=1)
    with pytest.raises(ValueError, match="1201 values, more than max_nodes=500"):
        ag.Stepper(y)
    assert len(ag.Stepper(y, max_nodes=1201)) == 601


def test_stepper_frames_are_draw_dots_frames() -> None:
    L, _ = classic()
    stepper = ag.Stepper(L, rankdir="TB")
    assert len(stepper) == 4
    assert [g.source for g in stepper.frames()] == [
        ag.draw_dot(L, step=k, rankdir="TB").source for k in range(4)
    ]
    assert stepper.caption(3) == "\n".join(ag.backward_steps(L)[2].arithmetic())


def test_stepper_without_ipywidgets_still_renders_every_frame(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import ipywidgets -> ImportError
    L, _ = classic()
    stepper = ag.Stepper(L)
    with pytest.raises(ImportError, match="pip install ipywidgets"):
        stepper.widget()
    monkeypatch.setenv("PATH", "")  # and no dot either: the frames still show, as DOT text
    bundle = stepper._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"}
    page = bundle["text/html"]
    assert page.count("<h4>") == 4
    assert "Step 2 of 3" in page
    assert html.escape(stepper.caption(3)) in page
    assert html.escape(INSTALL_HINT) in page
    assert html.escape(stepper.frame(1).source) in page


@needs_dot
def test_stepper_html_shows_each_frame_as_svg() -> None:
    L, _ = classic()
    page = html.unescape(ag.Stepper(L)._repr_html_())
    assert page.count("<svg") == 4
    assert "<?xml" not in page
    assert ">dL/da += dL/d(a*b) · ∂(a*b)/∂a = -2 · -3 = 6</text>" in page
    assert page.count(">grad ?</text>") == 7 + 4 + 2  # 7 values before, 4 after step 1, 2 after 2


@needs_dot
def test_stepper_widget_where_ipywidgets_is_installed() -> None:
    pytest.importorskip("ipywidgets")
    L, _ = classic()
    stepper = ag.Stepper(L)
    box = stepper.widget()
    (controls, title, picture) = box.children
    play, slider = controls.children
    assert (slider.min, slider.max, play.max) == (0, 3, 3)
    assert "Step 0 of 3" in title.value
    slider.value = 3
    assert "Step 3 of 3" in title.value
    assert "<svg" in picture.value
    assert "application/vnd.jupyter.widget-view+json" in stepper._repr_mimebundle_()
