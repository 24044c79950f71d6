"""The explorer's page without a browser: structure, escaping, the embedded steps, the size
limit, and the command line's expression parser (never eval)."""

from __future__ import annotations

import json
import os
import re
import shutil
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import pytest
from running_example import labelled_example

import autograd_lite as ag
from autograd_lite.explorer import page_data, page_html, parse_expression
from tests.cli_runner import run

pytest.importorskip("graphviz")
# Skipped where Graphviz's dot is missing, except in CI, which installs it: there they must run.
pytestmark = pytest.mark.skipif(
    shutil.which("dot") is None and not os.environ.get("CI"), reason="Graphviz's dot is missing"
)


KATEX = resources.files("autograd_lite").joinpath("katex")
KATEX_JS = KATEX.joinpath("katex.min.js").read_text(encoding="utf-8")
KATEX_CSS = KATEX.joinpath("katex.min.css").read_text(encoding="utf-8")


def classic() -> ag.Value:
    return labelled_example()["L"]


class Page(HTMLParser):
    """Tags, attributes and the JSON of the steps, as an HTML parser sees them."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.json = ""
        self._in_json = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_json = tag == "script" and dict(attrs).get("id") == "explore-data"

    def handle_endtag(self, tag: str) -> None:
        self._in_json = False

    def handle_data(self, data: str) -> None:
        if self._in_json:
            self.json += data


def test_the_page_is_self_contained_with_real_buttons_and_a_live_panel(tmp_path: Path) -> None:
    root = classic()
    path = ag.explore(root, tmp_path / "page.html")
    assert path == tmp_path / "page.html"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert KATEX_JS in text, "KaTeX's script is inline (its SVG and MathML namespaces aside)"
    outside = text.replace(KATEX_JS, "")
    assert not re.search(r"https?:", outside), "no network address, not even an XML namespace"
    page = Page(text)
    tags = [tag for tag, _ in page.tags]
    assert tags.count("svg") == 1
    for tag in ("link", "img", "iframe", "object"):
        assert tag not in tags
    scripts = [attrs for tag, attrs in page.tags if tag == "script"]
    assert all("src" not in attrs for attrs in scripts), "inline scripts only"
    buttons = {attrs["id"] for tag, attrs in page.tags if tag == "button"}
    assert buttons == {"prev", "next", "play"}
    panel = next(attrs for tag, attrs in page.tags if attrs.get("id") == "panel")
    assert panel["aria-live"] == "polite"
    # the SVG's node groups carry the DOT ids the steps use
    svg_ids = {
        attrs["id"] for tag, attrs in page.tags if tag == "g" and attrs.get("class") == "node"
    }
    data = json.loads(page.json)
    assert set(data["nodes"]) <= svg_ids
    assert {step["node"] for step in data["steps"]} <= svg_ids
    assert {step["node"] + "op" for step in data["steps"]} <= svg_ids
    assert root.grad == 0.0, "explore changes no .grad"


def test_the_embedded_steps_are_forward_steps_then_backward_steps() -> None:
    root = classic()
    ids = {node: f"n{i}" for i, node in enumerate(ag.topological_order(root))}
    data = json.loads(json.dumps(page_data(root)))
    forward, backward = ag.forward_steps(root), ag.backward_steps(root)
    assert [s["phase"] for s in data["steps"]] == ["forward"] * 3 + ["backward"] * 3
    assert [s["node"] for s in data["steps"][:3]] == [ids[v] for v in forward]
    assert data["steps"][0]["text"] == ["e = a * b = 2 * -3 = -6"]
    for record, step in zip(data["steps"][3:], backward):
        assert record["node"] == ids[step.node]
        assert record["grad"] == step.grad
        assert record["text"] == step.arithmetic()
        assert [
            (e["input"], e["local"], e["contribution"], e["total"]) for e in record["edges"]
        ] == [(ids[e.input], e.local, e.contribution, e.total) for e in step.edges]
    root.backward()
    final = {e["input"]: e["total"] for s in data["steps"][3:] for e in s["edges"]}
    assert final == {ids[v]: v.grad for v in ids if v is not root}


def test_labels_are_escaped_everywhere() -> None:
    nasty = "</script><b onmouseover=\"alert('x')\">&amp;{svg}"
    x = ag.Value(1.5, label=nasty)
    y = x * x
    y.label = "<y>"
    text = page_html(y)
    assert "</script><b" not in text
    assert "<b " not in text
    assert "<y>" not in text
    data = json.loads(Page(text).json)
    assert data["nodes"]["n0"]["label"] == nasty
    assert data["rootName"] == "<y>"
    assert text.replace(KATEX_JS, "").count("<svg") == 1


def test_non_finite_values_are_valid_json() -> None:
    x = ag.Value(-1e308, label="x")
    y = x * 10
    data = json.loads(Page(page_html(y)).json)
    assert data["nodes"]["n2"]["data"] == "-inf"


def test_a_graph_past_the_size_limit_is_refused_like_draw_dot(tmp_path: Path) -> None:
    x = ag.Value(1.0, label="x")
    total = x
    for _ in range(30):
        total = total + x
    with pytest.raises(ValueError, match="more than max_nodes=10"):
        ag.draw_dot(total, max_nodes=10)
    with pytest.raises(ValueError, match="more than max_nodes=10"):
        ag.explore(total, tmp_path / "big.html", max_nodes=10)
    assert not (tmp_path / "big.html").exists()


def test_the_parser_builds_the_graph() -> None:
    root = parse_expression("(a*b + c) * f", {"a": 2, "b": -3, "c": 10, "f": -2})
    assert root.data == -8.0
    assert root.label == "L"
    root = parse_expression("sigmoid(x) + relu(-x) + abs(x) ** 2 / sqrt(4)", {"x": 0.5})
    assert root.data == pytest.approx(0.6224593 + 0 + 0.125)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("__import__('os').system('true')", "only these functions can be called"),
        ("a.__class__", "not allowed in an expression"),
        ("(lambda: a)()", "only these functions can be called"),
        ("lambda: a", "not allowed"),
        ("[a for a in a]", "not allowed"),
        ("a[0]", "not allowed"),
        ("'text'", "not allowed"),
        ("open('x')", "only these functions"),
        ("x + 1", "unknown name 'x'"),
        ("tanh", "tanh is a function"),
        ("a +", "not an expression"),
        ("exp(a, a)", "takes one argument"),
        ("a / 0", "is undefined"),
    ],
)
def test_the_cli_refuses_anything_but_arithmetic(
    expression: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "page.html"
    code, _, stderr = run(["explore", expression, "a=2", "--out", str(out)], capsys)
    assert code == 2
    assert message in stderr
    assert stderr.count("\n") == 1, "one line"
    assert not out.exists()


def test_the_cli_writes_the_page_and_prints_its_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, stdout, _ = run(["explore", "(a*b + c) * f", "a=2", "b=-3", "c=10", "f=-2"], capsys)
    assert code == 0
    assert stdout.strip() == "backprop.html"
    data = json.loads(Page((tmp_path / "backprop.html").read_text(encoding="utf-8")).json)
    assert "dL/da += dL/d(a*b) · ∂(a*b)/∂a = -2 · -3 = 6" in data["steps"][-1]["text"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["a*b", "a=2", "b=x"], "expected a number"),
        (["a*b", "a=2", "2=3"], "expected NAME=VALUE"),
        (["a*b", "a=2", "b=nan"], "must be finite"),
        (["a*b", "a=2", "b=3", "c=4"], "c not used"),
        (["a*a", "a=1", "--out", "/no/such/folder/x.html"], "does not exist"),
    ],
)
def test_bad_values_and_outputs_are_one_line(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, stderr = run(["explore", *arguments], capsys)
    assert code == 2
    assert message in stderr
    assert stderr.count("\n") == 1


def test_an_expression_past_the_size_limit_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    big = " + ".join(["a"] * 600)  # 600 values: refused before dot runs
    code, _, stderr = run(["explore", big, "a=1", "--out", str(tmp_path / "x.html")], capsys)
    assert code == 2
    assert "more than max_nodes=500" in stderr


def _sum_of(terms: int) -> ag.Value:
    return parse_expression(" + ".join(["a"] * terms), {"a": 1.0})


def _squared(times: int) -> ag.Value:
    x = ag.Value(1.0001, label="x")
    for _ in range(times):
        x = x * x
    return x


def _size(root: ag.Value) -> int:
    return len(json.dumps(page_data(root), ensure_ascii=False).encode())


def test_page_data_grows_in_proportion_to_the_graph() -> None:
    # each backward step carries its arithmetic as text and as LaTeX (``step.latex()``)
    assert _size(_sum_of(300)) < 350_000
    assert _size(_sum_of(600)) < 2.2 * _size(_sum_of(300))
    assert _size(_squared(30)) < 200_000
    assert _size(_squared(60)) < 2.2 * _size(_squared(30))
    names = [node["name"] for node in page_data(_squared(30))["nodes"].values()]
    assert len(set(names)) == len(names) == 31  # short, and still one name per node


def test_page_data_of_a_3000_node_chain() -> None:
    y = ag.Value(0.5, label="x")
    for _ in range(1500):
        y = (y * 0.9).tanh()
    data = page_data(y)
    assert len(data["nodes"]) == 4501  # x, 1,500 constants 0.9, 3,000 results
    assert data["steps"][-1]["text"][0].startswith("dL/dx += dL/d(x*0.9) · ∂(x*0.9)/∂x = ")


def test_the_squared_chain_page_is_small(tmp_path: Path) -> None:
    path = ag.explore(_squared(30), tmp_path / "squares.html")
    katex = len(KATEX_JS.encode()) + len(KATEX_CSS.encode())  # the same in every page
    assert path.stat().st_size - katex < 200_000


def test_a_graph_too_tangled_for_dot_is_refused_like_draw_dot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _sum_of(75)  # 76 values, far under max_nodes, yet minutes of dot's layout
    with pytest.raises(ValueError, match="Graphviz") as drawn:
        ag.draw_dot(root)
    with pytest.raises(ValueError, match="Graphviz") as explored:
        ag.explore(root, tmp_path / "sum.html")
    assert str(explored.value) == str(drawn.value)
    assert not (tmp_path / "sum.html").exists()
    big = " + ".join(["a"] * 75)
    code, _, stderr = run(["explore", big, "a=1", "--out", str(tmp_path / "x.html")], capsys)
    assert code == 2
    assert stderr.count("\n") == 1
    assert str(drawn.value) in stderr
