"""The package as users get it: no runtime dependencies, one version, a readable core."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

import autograd_lite

ROOT = Path(__file__).resolve().parent.parent


def test_import_pulls_in_no_third_party_module() -> None:
    code = (
        "import sys; before = set(sys.modules); import autograd_lite; "
        "print(' '.join(sorted(set(sys.modules) - before)))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    third_party = {name.split(".")[0] for name in loaded} - set(sys.stdlib_module_names)
    assert third_party == {"autograd_lite"}


def test_version_is_defined_once_and_matches_the_metadata() -> None:
    assert autograd_lite.__version__ == importlib.metadata.version("autograd_lite")
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject
    assert not re.search(r"^version\s*=", pyproject, re.MULTILINE)
    assert 'path = "autograd_lite/_version.py"' in pyproject
    defined = [
        path.name
        for path in (ROOT / "autograd_lite").rglob("*.py")
        if re.search(r"^__version__\s*=", path.read_text(), re.MULTILINE)
    ]
    assert defined == ["_version.py"]


def test_package_is_typed() -> None:
    assert (ROOT / "autograd_lite" / "py.typed").exists()


def test_tests_cite_only_files_in_the_repository() -> None:
    """A test that points readers to a document points to one they have."""
    folders = ["autograd_lite", "tests", "notebooks", "benchmarks", ".ci", "docs"]  # no venv
    present = {path.name for path in ROOT.iterdir()}
    present |= {path.name for folder in folders for path in (ROOT / folder).rglob("*")}
    for test in sorted((ROOT / "tests").glob("*.py")):
        cited = re.findall(r"[\w./-]+\.(?:md|py|toml|ipynb|ya?ml|cfg|txt)\b", test.read_text())
        missing = {Path(name).name for name in cited} - present
        assert not missing, f"{test.name} cites {sorted(missing)}, which are not in the repository"


def code_lines(path: Path) -> int:
    """Lines of code: not blank, not a comment, not part of a docstring or an import."""
    tree = ast.parse(path.read_text())
    docstrings: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            docstrings.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
        body = getattr(node, "body", None)
        first = body[0] if isinstance(body, list) and body else None
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
            docstrings.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    return sum(
        1
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if line.strip() and not line.strip().startswith("#") and number not in docstrings
    )


def test_the_core_reads_in_one_sitting() -> None:
    """ops.py + engine.py stay small (micrograd's ~150 lines is the spirit).

    They hold the table of validated primitives with everything its consumers read off an
    entry (test domain, array form, function name, ``where`` and the conditions), Value,
    apply, the one graph order and the sweeps (thread-safe backward, the copy rule, IEEE
    results for NaN and inf inputs). Grad mode and the tracing guard live in grad_mode.py, so
    the budget leaves room for a few more table entries, not for another subsystem."""
    lines = sum(code_lines(ROOT / "autograd_lite" / name) for name in ("ops.py", "engine.py"))
    assert lines <= 540, f"the core grew to {lines} lines of code: simplify before adding"


MAX_FUNCTION_LINES = 60

# being split: (file, function) pairs still over the limit while a split is under way; remove
# each entry when its function is short or carries a `# long:` comment.
LONG_FOR_NOW: set[tuple[str, str]] = set()


def functions(tree: ast.AST) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    """Every function and method in ``tree``, nested ones included."""
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef)
    return [node for node in ast.walk(tree) if isinstance(node, kinds)]


def says_why_it_is_long(lines: list[str], node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """The comment right above the ``def`` (or above its decorators) starts ``# long:`` and
    gives a reason; a comment of several lines may go on below that first line."""
    above = min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 2  # 0-based
    while above >= 0 and lines[above].strip().startswith("#"):
        if lines[above].strip().startswith("# long:"):
            return bool(lines[above].strip().removeprefix("# long:").strip())
        above -= 1
    return False


def test_no_function_is_over_sixty_lines_unless_a_comment_says_why() -> None:
    """Every function and method in the package, from its ``def`` to its last line (docstring
    included), is at most ``MAX_FUNCTION_LINES`` long: a longer one is split into named parts,
    or the comment right above it starts ``# long:`` and says why it is not."""
    package = ROOT / "autograd_lite"
    offenders = []
    for path in sorted(package.rglob("*.py")):
        source = path.read_text()
        relative = path.relative_to(package).as_posix()
        for node in functions(ast.parse(source)):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length <= MAX_FUNCTION_LINES or (relative, node.name) in LONG_FOR_NOW:
                continue
            if not says_why_it_is_long(source.splitlines(), node):
                offenders.append(f"{relative}:{node.lineno} {node.name} ({length} lines)")
    assert not offenders, (
        f"over {MAX_FUNCTION_LINES} lines with no '# long: why' comment above: "
        + "; ".join(offenders)
    )


def test_a_long_comment_is_the_one_right_above_the_def_and_gives_a_reason() -> None:
    source = """
# long: the reason,
# on two lines
@decorated
def a(): pass

# long: a reason
x = 1
def b(): pass

# long:
def c(): pass

# a comment first
# long: then the reason
def d(): pass
"""
    lines = source.splitlines()
    marked = {node.name: says_why_it_is_long(lines, node) for node in functions(ast.parse(source))}
    assert marked == {"a": True, "b": False, "c": False, "d": True}


def test_ops_imports_nothing_from_the_package() -> None:
    source = (ROOT / "autograd_lite" / "ops.py").read_text()
    assert not re.search(r"^\s*(from \.|from autograd_lite|import autograd_lite)", source, re.M)


def test_ci_runs_exactly_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    match = re.search(r"^TEST_COMMAND='(.+)'$", ci, re.MULTILINE)
    assert match, ".ci/run defines TEST_COMMAND='...'"
    assert f"\n{match.group(1)}\n" in readme, "README.md shows the same test command"
    # ... and runs it first, before anything installs torch: the command must pass without it.
    run_verbatim = ci.index('bash -c "$TEST_COMMAND"')
    assert "torch" not in ci[match.end() : run_verbatim].replace("without torch", "")
    assert run_verbatim < ci.index('"torch==2.13.0"')


LAYERS = [
    {"seeding"},  # stdlib only: the global random generator
    {"ops", "grad_mode", "data", "_files", "_version", "_progress"},  # stdlib only
    {"_gif"},  # Pillow, imported when called
    {"engine"},
    {"collector", "functional", "gradient_check", "losses", "nn", "optim", "steps", "testing"},
    {"teach"},  # the classroom: grading on top of steps
    {"lr_scheduler"},  # deprecated: the old path of optim.lr_scheduler, for one release
    {"compiler"},
    {"_compiled_loss"},  # fit's compiled-loss runner
    {"train", "serialize", "interop"},
    {"tabular"},
    {"viz", "plots"},  # presentation
    {"explorer"},  # presentation on top of viz: draws with draw_dot
    {"play"},  # the playground: a local web server over train, serialize and steps
    {"cli"},
    {"__main__"},
]


def top_level_modules() -> dict[str, list[Path]]:
    """The package's modules (a ``.py`` file, or a subpackage) and the files each is made of."""
    package = ROOT / "autograd_lite"
    modules = {path.stem: [path] for path in package.glob("*.py") if path.stem != "__init__"}
    for init in package.glob("*/__init__.py"):
        modules[init.parent.name] = sorted(init.parent.rglob("*.py"))
    return modules


def package_imports(path: Path) -> set[str]:
    """The package's top-level modules that ``path`` imports, at the top or inside a function
    (inside a subpackage, imports of its own modules are its own business)."""
    depth = len(path.relative_to(ROOT / "autograd_lite").parts)  # a relative import's level
    found = set()  # that reaches the package's root from this file
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            if node.level < depth:
                continue  # a module of the same subpackage
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
        else:
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            names += [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if any(name.startswith("autograd_lite") for name in names):
                found.add("<the package root>")  # absolute imports of the package: not allowed
    return found


def test_every_import_points_down_the_layers() -> None:
    """The import graph is a DAG in layers: a module imports only from layers below it."""
    layer = {name: k for k, names in enumerate(LAYERS) for name in names}
    modules = top_level_modules()
    assert set(modules) == set(layer), "place every module in a layer"
    for name, files in modules.items():
        for imported in set().union(*map(package_imports, files)):
            assert layer.get(imported, len(LAYERS)) < layer[name], f"{name} imports {imported}"


def test_no_function_shadows_a_module() -> None:
    """``autograd_lite.x`` is the module ``x`` for every submodule, before and after importing
    it: a function of the same name (``ag.explore``, ``ag.gradcheck``) would make ``import
    autograd_lite.x`` give the function, or the import replace the function. Checked in a fresh
    interpreter, so what other tests imported cannot hide it."""
    code = """if True:
        import importlib, inspect, pkgutil
        import autograd_lite
        for info in pkgutil.walk_packages(autograd_lite.__path__, "autograd_lite."):
            if info.name.endswith(".__main__"):
                continue  # running it is the command line
            parent_name, _, child = info.name.rpartition(".")
            parent = importlib.import_module(parent_name)
            before = vars(parent).get(child)
            module = importlib.import_module(info.name)
            if before is not None and before is not module or getattr(parent, child) is not module:
                print(info.name, "is shadowed by", type(before).__name__, before)
            print("checked", info.name)
    """
    report = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert [line for line in report if not line.startswith("checked ")] == []
    checked = {line.removeprefix("checked ") for line in report}
    assert {"autograd_lite.explorer", "autograd_lite.optim.lr_scheduler"} <= checked


def test_nothing_in_the_package_imports_a_deprecated_path() -> None:
    """The old ``autograd_lite.lr_scheduler`` is for users' code only (it warns when used)."""
    deprecated = {"lr_scheduler"}
    for name, files in top_level_modules().items():
        if name not in deprecated:
            assert not deprecated & set().union(*map(package_imports, files)), name


def test_the_core_is_used_through_its_public_names() -> None:
    """No module reaches into the engine's or grad mode's private names: ``backward_steps``
    watches the sweep through ``engine.reverse_sweep(on_edge=...)``."""
    for name, files in top_level_modules().items():
        for path in files:
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.module in {"engine", "grad_mode"}:
                    private = [a.name for a in node.names if a.name.startswith("_")]
                    assert not private, f"{name} imports {private} from {node.module}"


# Names defined in several modules on purpose, each with its reason. Dunder names (``__all__``,
# ``__getattr__``) are the module protocol, the same meaning in every module, so not listed.
PARALLEL_BY_DESIGN: dict[str, str] = {}


def defined_names(tree: ast.Module) -> set[str]:
    """The names a module defines at its top level: functions, classes and constants (also
    inside a top-level ``if`` or ``try``); imports are not definitions."""
    names: set[str] = set()
    statements = list(tree.body)
    while statements:
        node = statements.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, (ast.If, ast.Try)):
            statements.extend([*node.body, *node.orelse])
            statements.extend(s for h in getattr(node, "handlers", []) for s in h.body)
    return names


def test_each_name_means_one_thing() -> None:
    """A top-level name is defined in one module of the package only (subpackages included),
    so that ``_short`` or ``Step`` means the same wherever it is read; a helper two modules
    need lives once, in the lower layer."""
    where: dict[str, list[str]] = {}
    for path in sorted((ROOT / "autograd_lite").rglob("*.py")):
        module = path.relative_to(ROOT).with_suffix("").as_posix()
        for name in defined_names(ast.parse(path.read_text())):
            if not (name.startswith("__") and name.endswith("__")):
                where.setdefault(name, []).append(module)
    repeated = {
        name: modules
        for name, modules in where.items()
        if len(modules) > 1 and name not in PARALLEL_BY_DESIGN
    }
    assert repeated == {}
