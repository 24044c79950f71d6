"""Every Python example in README.md runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
# Each block padded with the blank lines before it, so that its line numbers are README.md's
# and tools that read a function's source back from the file (hypothesis does) find it.
BLOCKS = [
    "\n" * README.read_text()[: match.start(1)].count("\n") + match.group(1)
    for match in re.finditer(r"^```python\n(.*?)^```", README.read_text(), re.M | re.DOTALL)
]


def test_readme_has_examples() -> None:
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_example_runs(code: str) -> None:
    exec(compile(code, str(README), "exec"), {"__name__": "readme_example"})  # noqa: S102


# Absolute, so that PyPI (which shows README.md without the repository's files) shows them too.
RAW = "https://raw.githubusercontent.com/autograd-lite/autograd_lite/main/"


def test_readme_images_exist() -> None:
    """Every picture is linked absolutely, to a file of this repository that exists."""
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README.read_text())
    assert images, "the README shows a rendered graph"
    for image in images:
        assert image.startswith(RAW), f"{image}: link pictures as {RAW}<path> for PyPI"
        assert (README.parent / image.removeprefix(RAW)).is_file(), image
