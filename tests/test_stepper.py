"""draw_dot(root, step=k) and the Stepper: the backward pass frame by frame.

The DOT text is checked without `dot`; rendering only where `dot` exists (as in test_viz)."""

from __future__ import annotations

import html
import os
import re
import shutil
import sys

import pytest

import autograd_lite as ag
from autograd_lite import Value
from autograd_lite.viz import COLOURS, HIGHLIGHT, INSTALL_HINT

graphviz = pytest.importorskip("graphviz")
needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None and not os.environ.get("CI"), reason="Graphviz's dot is missing"
)


def classic() -> tuple[Value, dict[str, Value]]:
    """L = (a*b + c)*f, the running example of notebook 01 (no backward() called)."""
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    c, f = Value(10.0, label="c"), Value(-2.0, label="f")
    L = (a * b + c) * f
    L.label = "L"
    return L, {"a": a, "b": b, "c": c, "f": f}


def ids(root: Value) -> dict[Value, str]:
    return {node: f"n{i}" for i, node in enumerate(ag.topological_order(root))}


def records(source: str) -> dict[str, str]:
    """node id -> record label text."""
    return dict(re.findall(r'^\s*(n\d+) \[label="\{ (.*?) \}"', source, flags=re.MULTILINE))


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
