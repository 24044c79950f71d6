"""The explorer's page files (explorer.html, explorer.css, explorer.js beside explorer.py) are
package data, checked as what they are: strict HTML, CSS that parses, JavaScript that node
accepts; the wheel ships them, and a built page holds them inline with nothing to load."""

from __future__ import annotations

import os
import re
import shutil
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import pytest
from page_checks import assert_css_parses, node_check
from running_example import labelled_example

from autograd_lite.explorer import page_html

ROOT = Path(__file__).resolve().parent.parent
FILES = ("explorer.html", "explorer.css", "explorer.js")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}  # fmt: skip
needs_dot = pytest.mark.skipif(  # CI installs Graphviz: there these tests must run
    shutil.which("dot") is None and not os.environ.get("CI"), reason="Graphviz's dot is missing"
)


def page_file(name: str) -> str:
    return resources.files("autograd_lite").joinpath(name).read_text(encoding="utf-8")


class StrictHTML(HTMLParser):
    """An HTML parser that refuses what browsers would silently repair: an end tag that does not
    close the innermost open element, an element left open, an end tag for a void element, a
    repeated attribute or id, and anything before the doctype."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[tuple[str, tuple[int, int]]] = []
        self.ids: set[str] = set()
        self.seen_doctype = False
        self.feed(text)
        self.close()
        if self.open:
            raise ValueError(f"left open: {[(tag, line) for tag, (line, _) in self.open]}")

    def handle_decl(self, decl: str) -> None:
        if decl.lower() != "doctype html" or self.seen_doctype:
            raise ValueError(f"unexpected declaration <!{decl}>")
        self.seen_doctype = True

    def unknown_decl(self, data: str) -> None:
        raise ValueError(f"unknown declaration {data!r} at line {self.getpos()[0]}")

    def _check_attributes(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if not self.seen_doctype:
            raise ValueError(f"<{tag}> before <!DOCTYPE html>")
        names = [name for name, _ in attrs]
        if len(names) != len(set(names)):
            raise ValueError(f"<{tag}> repeats an attribute at line {self.getpos()[0]}")
        for name, value in attrs:
            if name == "id":
                if value in self.ids:
                    raise ValueError(f"id {value!r} is used twice")
                self.ids.add(str(value))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._check_attributes(tag, attrs)
        if tag not in VOID:
            self.open.append((tag, self.getpos()))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._check_attributes(tag, attrs)  # <path ... />: inline SVG closes its own elements

    def handle_endtag(self, tag: str) -> None:
        line = self.getpos()[0]
        if tag in VOID:
            raise ValueError(f"</{tag}> at line {line}: {tag} is a void element")
        if not self.open or self.open[-1][0] != tag:
            inner = f"<{self.open[-1][0]}> from line {self.open[-1][1][0]}" if self.open else "none"
            raise ValueError(f"</{tag}> at line {line} does not close the open element ({inner})")
        self.open.pop()


@pytest.mark.parametrize(
    "broken",
    [
        "<!DOCTYPE html><div><span></div></span>",
        "<!DOCTYPE html><main><p>open",
        "<!DOCTYPE html><br></br>",
        '<!DOCTYPE html><b id="x"></b><i id="x"></i>',
        '<!DOCTYPE html><a href="1" href="2"></a>',
        "<p>before the doctype</p><!DOCTYPE html>",
    ],
)
def test_the_strict_html_check_refuses_what_browsers_repair(broken: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        StrictHTML(broken)


def test_the_page_files_are_package_data_beside_the_module() -> None:
    for name in FILES:
        assert (ROOT / "autograd_lite" / name).is_file()
        assert page_file(name).strip(), f"{name} is empty"
    template = page_file("explorer.html")
    assert set(re.findall(r"\{(\w+)\}", template)) == {
        "title", "style", "script", "katex_css", "katex_js", "data", "svg"
    }  # fmt: skip


def test_the_template_is_strict_html() -> None:
    page = StrictHTML(page_file("explorer.html"))
    assert {"prev", "play", "next", "panel", "graph", "explore-data"} <= page.ids


def test_the_style_parses_as_css() -> None:
    assert_css_parses(page_file("explorer.css"))


def test_the_script_passes_node_check(tmp_path: Path) -> None:
    checked = node_check(page_file("explorer.js"), tmp_path / "explorer.js")
    assert checked.returncode == 0, checked.stderr
    broken = page_file("explorer.js").replace("function", "functoin", 1)
    assert node_check(broken, tmp_path / "broken.js").returncode != 0


def test_no_page_file_can_end_its_element_early() -> None:
    """The style and script go inside <style> and <script>: neither may hold their end tag."""
    assert not re.search(r"</style", page_file("explorer.css"), re.IGNORECASE)
    assert not re.search(r"</script|<!--", page_file("explorer.js"), re.IGNORECASE)


@needs_dot
def test_a_built_page_holds_the_files_inline_and_is_strict_html() -> None:
    pytest.importorskip("graphviz")
    page = page_html(labelled_example()["L"])
    StrictHTML(page)
    assert f"<style>\n{page_file('explorer.css')}</style>" in page
    assert f"<script>\n{page_file('explorer.js')}</script>" in page
    assert not re.search(r"\{(title|style|script|katex_\w+|data|svg)\}", page), "placeholder left"
    # KaTeX (MIT, autograd_lite/katex/) is inline too: its fonts as data: URIs, its script
    # whole; outside that script no attribute loads anything, and no url() leaves the page
    katex_js = resources.files("autograd_lite").joinpath("katex/katex.min.js").read_text("utf-8")
    assert f"<script>\n{katex_js}</script>" in page
    outside = page.replace(katex_js, "")
    assert not re.search(r"\b(src|href)\s*=|@import|url\((?!data:)", outside), "nothing is loaded"
    assert re.search(r"url\(data:font/woff2;base64,", page), "the fonts are inline"


def test_the_wheel_ships_the_page_files(wheel_files: set[str]) -> None:
    assert {f"autograd_lite/{name}" for name in (*FILES, "py.typed")} <= wheel_files
    katex = {f"autograd_lite/katex/{name}" for name in ("katex.min.js", "katex.min.css", "LICENSE")}
    assert katex <= wheel_files, "KaTeX ships with its licence"
