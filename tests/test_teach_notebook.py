"""notebooks/11_exercises.ipynb is solvable and its checks judge right: run with the answer key
(notebooks/solutions/exercises_11.py) in its answers cells, every check passes; each kind of
wrong sheet in the key gets exactly its diagnoses, in the notebook's own kernel."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "11_exercises.ipynb"
KEY = ROOT / "notebooks" / "solutions" / "exercises_11.py"


def key() -> dict[str, object]:
    found: dict[str, object] = {}
    exec(compile(KEY.read_text(), str(KEY), "exec"), found)  # noqa: S102 - our own answer key
    return found


def test_the_committed_notebook_holds_the_blanks() -> None:
    nbformat = pytest.importorskip("nbformat")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    answers = [cell for cell in notebook.cells if "answers-" in str(cell.metadata.get("tags"))]
    assert {cell.metadata["tags"][0] for cell in answers} == set(key()["SOLUTIONS"])  # type: ignore[arg-type]
    for cell in answers:
        sheet = ast.literal_eval(cell.source.split("=", 1)[1].strip())
        assert sheet, "a sheet to fill in"
        assert set(sheet.values()) == {None}, "the committed notebook holds only blanks"
        exercise = key()["SOLUTIONS"][cell.metadata["tags"][0]]  # type: ignore[index]
        assert set(sheet) == set(exercise), "the sheet asks for every node of the key"


def test_the_exercises_solved_pass_and_each_mistake_is_diagnosed(tmp_path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    answers = key()
    solutions, roots = answers["SOLUTIONS"], answers["ROOTS"]
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    checks = 0
    for cell in notebook.cells:
        tags = cell.metadata.get("tags", [])
        if tags and tags[0] in solutions:  # type: ignore[operator]
            name = roots[tags[0]][1]  # type: ignore[index]
            cell.source = f"{name} = {solutions[tags[0]]!r}"  # type: ignore[index]
        elif "check" in tags:
            cell.source = f"report = {cell.source.strip()}\nreport.assert_correct()\nreport"
            checks += 1
    assert checks == len(solutions)  # type: ignore[arg-type]
    notebook.cells.append(
        nbformat.v4.new_code_cell(
            f"exec(open({str(KEY)!r}).read())\n"
            "seen = []\n"
            "for exercise, changes, expected in WRONG:\n"
            "    root = globals()[ROOTS[exercise][0]]\n"
            "    sheet = {**SOLUTIONS[exercise], **changes}\n"
            "    got = {m.name: m.diagnosis for m in teach.check(root, sheet).mistakes}\n"
            "    assert got == expected, (exercise, changes, got)\n"
            "    seen.extend(expected.values())\n"
            "print(sorted(set(seen)))"
        )
    )
    client = nbclient.NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    client.execute()  # a failing assertion in any cell raises CellExecutionError
    printed = "".join(output.get("text", "") for output in notebook.cells[-1].outputs)
    assert printed.strip() == str(
        sorted(
            [
                "follows_earlier", "missing", "other", "sign", "swapped_operand",
                "upstream_missing", "used_twice", "wrong_point",
            ]
        )
    )  # fmt: skip
