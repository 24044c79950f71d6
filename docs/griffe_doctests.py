"""A griffe extension (named in mkdocs.yml) that reads the docstrings as the site shows them.

The docstrings are written for ``help()`` and doctest: examples are bare ``>>>`` lines and
names are marked the reST way (``:class:`Primitive```). In Markdown a ``>>>`` line is a
quotation and a role is stray text, so each run of doctest lines becomes a ``pycon`` code
block and each role plain code. The source files are not touched.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:class|func|meth|mod|attr|data|exc|obj):`~?([^`]+)`")
PROMPT = re.compile(r"^(\s*)>>> ")


def markdown_docstring(text: str) -> str:
    """``text`` with doctest runs fenced as ``pycon`` and reST roles turned into code."""
    lines = ROLE.sub(r"`\1`", text).splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        prompt = PROMPT.match(lines[i])
        if not prompt:
            out.append(lines[i])
            i += 1
            continue
        indent = prompt.group(1)
        if out and out[-1].strip():
            out.append("")
        out.append(f"{indent}```pycon")
        while i < len(lines) and lines[i].strip() and lines[i].startswith(indent):
            out.append(lines[i])
            i += 1
        out.append(f"{indent}```")
    return "\n".join(out)


class DoctestFences(griffe.Extension):
    """Rewrite every docstring with :func:`markdown_docstring` as griffe loads it."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown_docstring(obj.docstring.value)
