"""The documentation site's sources are complete: every page in the nav exists, every public
module has an API page, every notebook is a tutorial page, and CI builds the site strictly.

The real proof is ``mkdocs build --strict`` in .ci/run (broken links, missing pictures and
docstrings the reference cannot read fail it); these checks need no MkDocs installed."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest

import autograd_lite

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
MKDOCS = (ROOT / "mkdocs.yml").read_text()
NAV = re.findall(
    r"^\s+- (?:[^:\n]+: )?([\w./-]+\.(?:md|ipynb))$", MKDOCS.split("\nnav:\n")[1], re.MULTILINE
)
# docs/hooks.py adds these from where they live in the repository (one copy of each).
FROM_THE_REPOSITORY = {"README.md", "CHANGELOG.md"} | {
    f"notebooks/{path.name}" for path in (ROOT / "notebooks").glob("*.ipynb")
}
DEPRECATED = {"lr_scheduler"}  # old import paths, kept for a release: no page of their own


def public_modules() -> list[str]:
    """Every module users may import, named below the package (``optim.lr_scheduler``)."""
    names = set()
    for path in (ROOT / "autograd_lite").rglob("*.py"):
        parts = path.relative_to(ROOT / "autograd_lite").with_suffix("").parts
        parts = parts[:-1] if parts[-1] == "__init__" else parts
        if parts and not any(part.startswith("_") for part in parts):
            names.add(".".join(parts))
    return sorted(names - DEPRECATED)


PUBLIC_MODULES = public_modules()


def test_every_page_in_the_nav_exists() -> None:
    assert "README.md" in NAV, "the README is the guide: the site's home page"
    assert "CHANGELOG.md" in NAV
    for page in NAV:
        source = ROOT / page if page in FROM_THE_REPOSITORY else DOCS / page
        assert source.is_file(), f"mkdocs.yml's nav names {page}, which does not exist"
    assert len(NAV) == len(set(NAV)), "a page is in the nav twice"


def test_every_notebook_is_a_tutorial_page() -> None:
    notebooks = {page for page in FROM_THE_REPOSITORY if page.endswith(".ipynb")}
    assert notebooks, "the notebooks are found"
    assert notebooks <= set(NAV), f"not in mkdocs.yml's nav: {sorted(notebooks - set(NAV))}"
    assert re.search(r"^\s+execute: false$", MKDOCS, re.MULTILINE), (
        "the notebooks are committed executed and rendered as they are, not run again"
    )


def test_every_public_module_has_an_api_page() -> None:
    """Each public module is documented on its own page, or (a subpackage's stage modules,
    ``compiler.terms``) on its package's page."""
    for name in ["autograd_lite", *PUBLIC_MODULES]:
        target = "autograd_lite" if name == "autograd_lite" else f"autograd_lite.{name}"
        page = f"api/{name}.md"
        if page not in NAV and "." in name:
            page = f"api/{name.split('.')[0]}.md"  # documented with its package
        assert page in NAV, f"autograd_lite.{name} has no page in mkdocs.yml's nav"
        assert re.search(rf"^::: {re.escape(target)}$", (DOCS / page).read_text(), re.MULTILINE)


def test_ci_builds_the_site_strictly_after_the_readme_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert 'pip install --quiet -e ".[docs]"' in ci
    build = ci.index("mkdocs build --strict")
    assert ci.index('bash -c "$TEST_COMMAND"') < build
    assert "docs = [" in (ROOT / "pyproject.toml").read_text()
    assert "site/" in (ROOT / ".gitignore").read_text().split()


def test_project_urls_point_to_one_repository() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    section = pyproject.split("[project.urls]\n", 1)[1].split("\n\n", 1)[0]
    urls = dict(re.findall(r'^(\w+) = "([^"]+)"$', section, re.MULTILINE))
    assert set(urls) == {"Homepage", "Documentation", "Repository", "Changelog", "Issues"}
    repository = urls["Repository"]
    assert repository == "https://github.com/autograd-lite/autograd_lite"
    assert urls["Changelog"] == f"{repository}/blob/main/CHANGELOG.md"
    assert urls["Issues"] == f"{repository}/issues"
    assert f"repo_url: {repository}\n" in MKDOCS
    assert f"site_url: {urls['Documentation']}\n" in MKDOCS


def test_changelog_keeps_a_changelog() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text()
    versions = re.findall(r"^## \[([^\]]+)\]", changelog, re.MULTILINE)
    assert versions[0] == "Unreleased"
    assert autograd_lite.__version__ in versions, "the current version has an entry"
    for version in versions:
        assert re.search(rf"^\[{re.escape(version)}\]: https://", changelog, re.MULTILINE)


def hooks() -> ModuleType:
    """docs/hooks.py, as MkDocs loads it (skipped where MkDocs is not installed)."""
    pytest.importorskip("mkdocs", reason="docs/hooks.py runs inside MkDocs (the docs extra)")
    spec = importlib.util.spec_from_file_location("docs_hooks", DOCS / "hooks.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_notebook_titles_keep_their_code_spans() -> None:
    """The navigation shows notebook 01 as "A Value, its graph, and backward()", not "... and"."""
    titles = hooks()
    first = titles.notebook_title(ROOT / "notebooks" / "01_value_and_backward.ipynb")
    assert first == "01 · A Value, its graph, and backward()"
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        source = "".join(cells[0]["source"])
        heading = re.search(r"^# (.+)$", source, re.MULTILINE)
        assert heading, f"{path.name} starts with a level-1 heading"
        title = titles.notebook_title(path)
        assert "`" not in title
        assert "*" not in title
        for code in re.findall(r"`([^`]+)`", heading.group(1)):
            assert code in title, f"{path.name}: {title!r} lost {code!r}"


def test_the_hook_gives_notebook_pages_their_full_title() -> None:
    titles = hooks()
    path = ROOT / "notebooks" / "01_value_and_backward.ipynb"
    file = SimpleNamespace(src_uri="notebooks/01_value_and_backward.ipynb", abs_src_path=str(path))
    page = SimpleNamespace(file=file, title="01 · A Value, its graph, and")  # mkdocs-jupyter's
    assert titles.on_page_content("<p>", page=page, config=None, files=None) == "<p>"
    assert page.title == "01 · A Value, its graph, and backward()"
    other = SimpleNamespace(file=SimpleNamespace(src_uri="api/engine.md"), title="engine")
    titles.on_page_content("<p>", page=other, config=None, files=None)
    assert other.title == "engine"
