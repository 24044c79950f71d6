"""Checks shared by the tests of the pages' own files (the explorer's and the playground's)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


def assert_css_parses(css: str) -> None:
    """Every rule of ``css`` is a qualified rule holding only declarations (tinycss2 parses)."""
    tinycss2 = pytest.importorskip("tinycss2", reason="tinycss2 parses the CSS")
    rules = tinycss2.parse_stylesheet(css, True, True)
    assert len(rules) > 10
    for rule in rules:
        assert rule.type == "qualified-rule", f"not a CSS rule: {rule.serialize()[:60]!r}"
        declarations = tinycss2.parse_blocks_contents(rule.content, True, True)
        assert declarations, f"empty rule {tinycss2.serialize(rule.prelude).strip()!r}"
        for declaration in declarations:
            assert declaration.type == "declaration", f"{declaration.serialize()[:60]!r}"


def node_check(script: str, path: Path) -> subprocess.CompletedProcess[str]:
    """Write ``script`` to ``path`` and run ``node --check`` on it (skip where node is missing)."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not on the PATH: it checks the JavaScript's syntax")
    path.write_text(script, encoding="utf-8")
    return subprocess.run([node, "--check", str(path)], capture_output=True, text=True)
