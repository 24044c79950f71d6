"""The command line end to end: demo, train and predict, help, and bad input."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cli_runner import run

import autograd_lite as ag
from autograd_lite import data

PNG = b"\x89PNG\r\n\x1a\n"


def test_demo_trains_and_writes_its_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    pytest.importorskip("graphviz")
    code, out, _ = run(["demo", "--out", str(tmp_path / "demo"), "--quiet"], capsys)
    assert code == 0
    final = next(line for line in out.splitlines() if line.startswith("final:"))
    train_accuracy, val_accuracy = (float(part.rsplit(" ", 1)[1]) for part in final.split(","))
    assert train_accuracy >= 0.95
    assert val_accuracy >= 0.95
    folder = tmp_path / "demo"
    assert (folder / "loss_curve.png").read_bytes().startswith(PNG)
    assert (folder / "decision_boundary.png").read_bytes().startswith(PNG)
    model = ag.load(folder / "model.json")
    X, y = data.make_moons(200, noise=0.1, seed=0)
    assert ag.evaluate(model, X, y, loss="bce")[1] >= 0.95  # type: ignore[operator]
    graph = folder / ("neuron.svg" if shutil.which("dot") else "neuron.dot")
    assert "relu" in graph.read_text()  # the neuron's activation is drawn
    expected = ["decision_boundary.png", "loss_curve.png", "model.json", graph.name]
    assert sorted(p.name for p in folder.iterdir()) == expected  # and nothing else
    assert str(graph) in out


def test_demo_without_dot_writes_the_dot_source_and_a_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("graphviz")
    monkeypatch.setenv("PATH", "")
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # and no matplotlib either
    code, out, _ = run(["demo", "--epochs", "1", "--out", str(tmp_path), "--quiet"], capsys)
    assert code == 0
    assert (tmp_path / "neuron.dot").read_text().startswith("digraph {")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json", "neuron.dot"]
    assert "install graphviz" in out
    assert "no plots: plots need matplotlib: pip install 'autograd_lite[demo]'" in out
    assert (tmp_path / "model.json").exists()


def write_csv(path: Path, header: list[str], rows: list[list[float]]) -> None:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(text.splitlines()))


def test_train_then_predict_a_classifier(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    X, y = data.make_moons(120, noise=0.1, seed=1)
    # a label column in the middle and feature names of the user's own
    write_csv(
        tmp_path / "moons.csv", ["left", "label", "right"], [[a, t, b] for (a, b), t in zip(X, y)]
    )
    model_path = tmp_path / "model.json"
    options = ["--target", "label", "--epochs", "40", "--quiet"]
    code, out, _ = run(
        ["train", str(tmp_path / "moons.csv"), *options, "--out", str(model_path)], capsys
    )
    assert code == 0, out
    assert "with bce loss" in out
    assert "final: loss" in out
    metadata = json.loads(model_path.read_text())["metadata"]
    assert metadata["features"] == ["left", "right"]

    code, out, _ = run(["predict", str(model_path), str(tmp_path / "moons.csv")], capsys)
    assert code == 0
    rows = read_csv(out)
    assert list(rows[0]) == ["left", "label", "right", "predicted_label"]
    assert {row["predicted_label"] for row in rows} == {"0", "1"}
    hits = sum(float(row["label"]) == float(row["predicted_label"]) for row in rows)
    assert hits / len(rows) >= 0.95

    csv_in, csv_out = str(tmp_path / "moons.csv"), str(tmp_path / "predictions.csv")
    code, out, _ = run(["predict", str(model_path), csv_in, "--out", csv_out], capsys)
    assert code == 0
    assert f"wrote 120 predictions to {tmp_path / 'predictions.csv'}" in out
    assert read_csv((tmp_path / "predictions.csv").read_text()) == rows


def test_train_then_predict_a_regression(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [
        [a / 10, b / 10, 20 + 3 * a / 10 - 2 * b / 10] for a in range(-5, 6) for b in range(-5, 6)
    ]
    write_csv(tmp_path / "plane.csv", ["a", "b", "z"], rows)
    model_path = tmp_path / "plane.json"
    options = ["--target", "z", "--hidden=none", "--epochs", "150", "--lr", "0.05", "--quiet"]
    code, out, _ = run(
        ["train", str(tmp_path / "plane.csv"), *options, "--out", str(model_path)], capsys
    )
    assert code == 0, out
    assert "with mse loss" in out
    # the new file has only the features: predictions come back in the target's own units
    write_csv(tmp_path / "new.csv", ["b", "a"], [[0.5, 0.25], [-0.1, 0.0]])
    code, out, _ = run(["predict", str(model_path), str(tmp_path / "new.csv")], capsys)
    predicted = [float(row["predicted_z"]) for row in read_csv(out)]
    assert predicted == pytest.approx([20 + 0.75 - 1.0, 20 + 0.2], abs=0.05)


def test_help_for_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    for argv, words in [
        ([], ["demo", "train", "predict"]),
        (["demo"], ["--epochs", "--out"]),
        (["train"], ["--target", "--hidden", "--epochs", "--out"]),
        (["predict"], ["model", "--out"]),
    ]:
        code, out, _ = run([*argv, "--help"], capsys)
        assert code == 0
        for word in words:
            assert word in out


BAD_INPUT = {
    "no target": (["train", "{csv}"], "the following arguments are required: --target"),
    "missing column": (["train", "{csv}", "--target", "z"], "no column 'z'"),
    "missing file": (["train", "{dir}/nope.csv", "--target", "y"], "No such file"),
    "text cell": (["train", "{dir}/text.csv", "--target", "y"], "holds 'abc', not a finite number"),
    "empty file": (["train", "{dir}/empty.csv", "--target", "y"], "the file is empty"),
    "bad hidden": (["train", "{csv}", "--target", "y", "--hidden", "a,b"], "sizes like 16,16"),
    "zero epochs": (["demo", "--epochs", "0"], "must be at least 1"),
    "bad rate": (["train", "{csv}", "--target", "y", "--lr", "-1"], "must be positive"),
    "bad model": (["predict", "{dir}/broken.json", "{csv}"], "not valid JSON"),
    "plain model": (["predict", "{dir}/plain.json", "{csv}"], "train the model with it"),
    "bad scaling": (["predict", "{dir}/scaling.json", "{csv}"], "lacks the feature names"),
    "only a target": (["train", "{dir}/target.csv", "--target", "y"], "no feature columns"),
    "no such command": (["fly"], "invalid choice: 'fly'"),
    "repeated column": (
        ["train", "{dir}/twice.csv", "--target", "y"],
        "names ['x'] more than once",
    ),
    "unnamed column": (["train", "{dir}/unnamed.csv", "--target", "y"], "column 2 has no name"),
    # predict would otherwise read the first 'x' for the model's 'x', right or not
    "predict repeated column": (
        ["predict", "{dir}/good.json", "{dir}/twice.csv"],
        "more than once",
    ),
    "predict unnamed column": (["predict", "{dir}/good.json", "{dir}/unnamed.csv"], "no name"),
    "unknown loss": (["train", "{csv}", "--target", "y", "--loss", "l1"], "invalid choice: 'l1'"),
}


@pytest.fixture
def bad_files(tmp_path: Path) -> Path:
    write_csv(tmp_path / "good.csv", ["x", "y"], [[1.0, 0.0], [2.0, 1.0]])
    (tmp_path / "text.csv").write_text("x,y\n1,0\nabc,1\n")
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "broken.json").write_text('{"format": "autograd_lite.model", "vers')
    ag.save(ag.nn.MLP(1, [1]), tmp_path / "plain.json")
    metadata = {"features": ["x"], "target": "y", "loss": "bce", "means": ["a"], "stds": [1.0]}
    ag.save(ag.nn.MLP(1, [1]), tmp_path / "scaling.json", metadata=metadata)
    (tmp_path / "target.csv").write_text("y\n1\n0\n")
    (tmp_path / "twice.csv").write_text("x,y,x\n1,0,5\n2,1,6\n")
    (tmp_path / "unnamed.csv").write_text("x,,y\n1,0,5\n2,1,6\n")
    good = {"features": ["x"], "target": "y", "loss": "bce", "means": [0.0], "stds": [1.0]}
    ag.save(ag.nn.MLP(1, [1]), tmp_path / "good.json", metadata=good)
    return tmp_path


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_is_one_line_and_exit_code_2(
    case: str, bad_files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv, message = BAD_INPUT[case]
    argv = [a.format(csv=bad_files / "good.csv", dir=bad_files) for a in argv]
    code, _, err = run(argv, capsys)
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("autograd-lite")


def test_python_dash_m_runs_the_same_command(bad_files: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "autograd_lite",
            "predict",
            str(bad_files / "broken.json"),
            str(bad_files / "good.csv"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("autograd-lite predict: error: ")
    assert "Traceback" not in result.stderr


def test_version_flag_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["--version"], capsys)
    assert (code, out, err) == (0, f"autograd-lite {ag.__version__}\n", "")
    commands = [[sys.executable, "-m", "autograd_lite"]]
    script = Path(sys.executable).parent / "autograd-lite"  # pip puts it beside this Python
    if script.is_file():
        commands.append([str(script)])
    for command in commands:
        done = subprocess.run(
            [*command, "--version"], capture_output=True, text=True, check=True, timeout=60
        )
        assert done.stdout == f"autograd-lite {ag.__version__}\n", command
