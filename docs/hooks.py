"""MkDocs hooks (named in mkdocs.yml): the README, the changelog, the notebooks and the
README's picture, served from where they live in the repository, so there is one copy of each.

- README.md is the site's home page (MkDocs makes a README.md its folder's index page), so
  its links to ``notebooks/...`` and CHANGELOG.md work on the site as on GitHub.
- The tutorials stay in ``notebooks/`` (the tests run them there) and are added to the site
  from there, before mkdocs-jupyter renders them (committed executed: nothing is re-run).
- README.md links its picture absolutely, so PyPI shows it; on the site the same link points
  to the repository's own file, so the site works offline and ``--strict`` checks that the
  file exists.
- A notebook's title (in the navigation and the browser's tab) is its first heading as text,
  code included: mkdocs-jupyter's title drops code spans ("A Value, its graph, and" for
  "A Value, its graph, and `backward()`").
"""

from __future__ import annotations

import html
import importlib
import inspect
import json
import posixpath
import re
from pathlib import Path

from markdown import markdown as render_markdown
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

ROOT = Path(__file__).resolve().parent.parent
RAW = "https://raw.githubusercontent.com/autograd-lite/autograd_lite/main/"
EXPORTS = "<!-- the package's exports -->"


@event_priority(100)  # before mkdocs-jupyter turns the .ipynb files into pages
def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add README.md (the home page), CHANGELOG.md, the notebooks and their images."""
    notebooks = ROOT / "notebooks"
    pages = [ROOT / "README.md", ROOT / "CHANGELOG.md", *notebooks.glob("*.ipynb")]
    for path in sorted([*pages, *(notebooks / "images").glob("*")]):
        files.append(
            File(
                path.relative_to(ROOT).as_posix(),
                src_dir=str(ROOT),
                dest_dir=config.site_dir,
                use_directory_urls=config.use_directory_urls,
            )
        )
    return files


def on_page_markdown(markdown: str, *, page: Page, config: MkDocsConfig, files: Files) -> str:
    """Map ``RAW + path`` to ``path`` relative to the page: the repository's file, on the site.

    On the package's API page, list its exports, each linked to where it is documented.
    """
    here = posixpath.dirname(page.file.src_uri) or "."
    markdown = markdown.replace(EXPORTS, exports())
    return re.sub(
        re.escape(RAW) + r"([^)\s\"']+)",
        lambda match: posixpath.relpath(match.group(1), here),
        markdown,
    )


def on_page_content(html_text: str, *, page: Page, config: MkDocsConfig, files: Files) -> str:
    """Title a notebook's page by its first heading, code spans and all (see the module's note).

    Runs after mkdocs-jupyter has set its own title, and before any navigation is drawn."""
    if page.file.src_uri.endswith(".ipynb"):
        title = notebook_title(Path(page.file.abs_src_path or ""))
        if title:
            page.title = title
    return html_text


def notebook_title(path: Path) -> str | None:
    """The first level-1 heading of the notebook at ``path`` as plain text, or None."""
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        source = "".join(cell["source"]) if cell["cell_type"] == "markdown" else ""
        heading = re.search(r"^# +(.+?)[ #]*$", source, re.MULTILINE)
        if heading:
            return plain_text(heading.group(1))
    return None


def plain_text(inline_markdown: str) -> str:
    """Inline Markdown as the text a reader sees: ``and `backward()` `` gives ``and backward()``."""
    rendered = render_markdown(inline_markdown)
    return html.unescape(re.sub(r"<[^>]*>", "", rendered)).strip()


def exports() -> str:
    """A Markdown list of ``autograd_lite.__all__``, each name linked to its documentation
    (mkdocs-autorefs links, so ``--strict`` fails if one is not documented anywhere)."""
    package = importlib.import_module("autograd_lite")
    lines = []
    for name in sorted(package.__all__, key=str.lower):
        obj = getattr(package, name)
        if inspect.ismodule(obj):
            lines.append(f"- [`ag.{name}`][{obj.__name__}]: a module")
        elif inspect.isclass(obj) or inspect.isfunction(obj):
            kind = "class" if inspect.isclass(obj) else "function"
            target = f"{obj.__module__}.{obj.__qualname__}"
            lines.append(f"- [`ag.{name}`][{target}]: a {kind} from `{obj.__module__}`")
        else:
            lines.append(f"- `ag.{name}` = `{obj!r}`")
    return "\n".join(lines)
