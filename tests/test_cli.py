"""The command line: demo, train, predict and export end to end; bad files and arguments
(exit code 2, one line on stderr, the --out file untouched); what predict echoes, what train
makes of class labels, and fuzzing of load_csv and predict."""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cli_runner import run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import autograd_lite as ag
from autograd_lite import data, tabular
from autograd_lite.nn import MLP

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


PRECIOUS = b"an earlier file, not to be touched\n"


def regression_csv(path: Path, rows: int = 30) -> Path:
    lines = ["x1,x2,y"] + [
        f"{i / rows},{(i * 7 % rows) / rows},{i / rows * 3}" for i in range(rows)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    regression_csv(tmp_path / "good.csv")
    (tmp_path / "out.json").write_bytes(PRECIOUS)
    (tmp_path / "out.csv").write_bytes(PRECIOUS)
    (tmp_path / "readonly.json").write_bytes(PRECIOUS)
    (tmp_path / "readonly.json").chmod(0o444)
    (tmp_path / "a_folder").mkdir()
    (tmp_path / "link.csv").symlink_to(tmp_path / "good.csv")
    (tmp_path / "sparse.csv").write_text(
        "x,label\n" + "".join(f"{i},{i % 2 * 99999}\n" for i in range(20))
    )
    (tmp_path / "quote.csv").write_text('x1,x2,y\n1,"2,3\n4,5,6\n')
    (tmp_path / "long.csv").write_text("x1,x2,y\n1,2," + "3" * 200_000 + "\n")
    (tmp_path / "latin1.csv").write_bytes("x1,x2,y\n1,2,3\n4,5,caf\xe9\n".encode("latin-1"))
    (tmp_path / "words.csv").write_text("x1,x2\n1,two\n")
    metadata = {"features": ["x1", "x2"], "target": "y", "loss": "mse", "means": [0.0, 0.0],
                "stds": [1.0, 1.0], "target_mean": 0.0, "target_std": 1.0}  # fmt: skip
    ag.save(MLP(2, [3, 1], seed=0), tmp_path / "model.json", metadata=metadata)
    good = json.loads((tmp_path / "model.json").read_text())
    first = repr(good["parameters"]["layers.0.neurons.0.w.0"])
    text = (tmp_path / "model.json").read_text()
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (tmp_path / "digits400.json").write_text(text.replace(first, "9" * 400))
    (tmp_path / "digits5000.json").write_text(text.replace(first, "9" * 5000))
    (tmp_path / "huge.json").write_text(
        '{"format": "autograd_lite.model", "version": 1, "architecture": {"type": "MLP", '
        '"nin": 50000000, "nouts": [1]}, "parameters": {}, "metadata": {}}'
    )
    (tmp_path / "vtrue.json").write_text(text.replace('"version": 1', '"version": true'))
    return tmp_path


TRAIN = ["train", "{dir}/good.csv", "--target", "y", "--epochs", "2", "--quiet"]


def train_to_out(csv: str) -> list[str]:
    """Train on ``{dir}/csv``, writing ``{dir}/out.json``."""
    return ["train", f"{{dir}}/{csv}", "--target", "y", "--out", "{dir}/out.json"]


def predict_to(csv: str, out: str) -> list[str]:
    """Predict ``{dir}/csv`` with ``{dir}/model.json``, writing ``{dir}/out``."""
    return ["predict", "{dir}/model.json", f"{{dir}}/{csv}", "--out", f"{{dir}}/{out}"]


# (argv, a phrase of the message, the file that must stay as it was)
CASES: dict[str, tuple[list[str], str, str]] = {
    "lr inf": ([*TRAIN, "--lr", "inf", "--out", "{dir}/out.json"], "and finite", "out.json"),
    "lr nan": ([*TRAIN, "--lr", "nan", "--out", "{dir}/out.json"], "and finite", "out.json"),
    "lr zero": ([*TRAIN, "--lr", "0", "--out", "{dir}/out.json"], "positive", "out.json"),
    "hidden empty": ([*TRAIN, "--hidden", "", "--out", "{dir}/out.json"], "sizes", "out.json"),
    "hidden gap": ([*TRAIN, "--hidden", "4,,4", "--out", "{dir}/out.json"], "sizes", "out.json"),
    "hidden huge": (
        [*TRAIN, "--hidden", "100000,100000", "--out", "{dir}/out.json"],
        "parameters",
        "out.json",
    ),
    "diverges": (
        [*TRAIN, "--lr", "1e200", "--out", "{dir}/out.json"],
        "learning rate 1e+200",
        "out.json",
    ),
    "out is the data": ([*TRAIN, "--out", "{dir}/good.csv"], "is the input", "good.csv"),
    "out links to the data": ([*TRAIN, "--out", "{dir}/link.csv"], "is the input", "good.csv"),
    "out read-only": ([*TRAIN, "--out", "{dir}/readonly.json"], "read-only", "readonly.json"),
    "out a folder": ([*TRAIN, "--out", "{dir}/a_folder"], "is a folder", "out.json"),
    "out nowhere": ([*TRAIN, "--out", "{dir}/no/model.json"], "does not exist", "out.json"),
    "unclosed quote": (
        train_to_out("quote.csv"),
        "quote.csv:2: a quoted cell is never closed",
        "out.json",
    ),
    "long cell": (train_to_out("long.csv"), "long.csv:2: a cell is longer than", "out.json"),
    "not utf-8": (train_to_out("latin1.csv"), "latin1.csv:3: not UTF-8", "out.json"),
    "predict out is the data": (predict_to("good.csv", "good.csv"), "is the input", "good.csv"),
    "predict out is the model": (
        predict_to("good.csv", "model.json"),
        "is the input",
        "model.json",
    ),
    "predict out read-only": (
        predict_to("good.csv", "readonly.json"),
        "read-only",
        "readonly.json",
    ),
    "predict words": (
        predict_to("words.csv", "out.csv"),
        "words.csv:2: column 'x2' holds 'two'",
        "out.csv",
    ),
}


for name, phrase in [
    ("deep", "nested too deeply"),
    ("digits400", "integer of 400 digits"),
    ("digits5000", "integer of 5000 digits"),
    ("huge", "has 50000001 parameters"),
    ("vtrue", "format version True"),
]:
    CASES[f"model {name}"] = (
        ["predict", f"{{dir}}/{name}.json", "{dir}/good.csv", "--out", "{dir}/out.csv"],
        phrase,
        "out.csv",
    )


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bad_case_is_one_line_exit_2_and_no_file_changes(
    case: str, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv, phrase, kept = CASES[case]
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    code, _, err = run([a.format(dir=folder) for a in argv], capsys)
    assert code == 2
    assert err.count("\n") == 1, err
    assert err.startswith("autograd-lite ")
    assert phrase in err
    if case.startswith("model "):
        assert f"{argv[1].format(dir=folder)}: " in err  # the file is named
    assert "Traceback" not in err
    assert "set_int_max_str_digits" not in err
    assert (folder / kept).read_bytes() == before[kept]
    after = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    assert after == before  # nothing written, no temporary file left
    assert (folder / "readonly.json").stat().st_mode & 0o777 == 0o444


def test_argument_errors_are_one_line_too(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["train", "--epochs", "0"], capsys)
    assert code == 2
    assert err.count("\n") == 1
    assert "--help" in err


# -- predict echoes its input ---------------------------------------------------------------


def test_predict_echoes_every_cell_as_written(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = (
        '\ufeffid,x2,name,x1,note\n12345678901234567891,00042,"Smith, J",1e0,\nA7,0.5,,  3 ,-0\n'
    )
    (folder / "ids.csv").write_text(table, encoding="utf-8")
    code, out, _ = run(["predict", str(folder / "model.json"), str(folder / "ids.csv")], capsys)
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["id", "x2", "name", "x1", "note", "predicted_y"]
    assert [row[:-1] for row in rows[1:]] == [
        ["12345678901234567891", "00042", "Smith, J", "1e0", ""],
        ["A7", "0.5", "", "  3 ", "-0"],
    ]
    model = ag.load(folder / "model.json")
    assert float(rows[1][-1]) == model([1.0, 42.0]).data  # type: ignore[union-attr]


def test_predict_replaces_an_existing_prediction_column_in_place(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "again.csv").write_text("predicted_y,x1,x2\nold,1,2\n")
    code, out, _ = run(["predict", str(folder / "model.json"), str(folder / "again.csv")], capsys)
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["predicted_y", "x1", "x2"]
    assert rows[1][1:] == ["1", "2"]
    assert rows[1][0] != "old"
    again = folder / "again2.csv"
    again.write_text(out)
    assert run(["predict", str(folder / "model.json"), str(again)], capsys)[1] == out


def test_predict_writes_through_a_link_to_its_output(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "to_out.csv").symlink_to(folder / "out.csv")
    argv = ["predict", str(folder / "model.json"), str(folder / "good.csv")]
    code, _, _ = run([*argv, "--out", str(folder / "to_out.csv")], capsys)
    assert code == 0
    assert (folder / "to_out.csv").is_symlink()
    assert (folder / "out.csv").read_text().startswith("x1,x2,y,predicted_y\n")


# -- train: BOM, class labels, divergence ---------------------------------------------------


def test_a_bom_is_not_part_of_the_first_column_name(folder: Path) -> None:
    path = folder / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (folder / "good.csv").read_bytes())
    features = data.load_csv(path, target="y")[2]
    assert features == ["x1", "x2"]
    assert tabular.prepare(path, "x1", hidden=[2]).metadata.target == "x1"


@pytest.mark.parametrize(
    ("labels", "loss"),
    [
        ([0, 100000], "mse"),  # not 100,001 outputs
        ([2015, 2016, 2017, 2024], "mse"),  # years are numbers, not 2,025 classes
        ([0, 1, 2], "cross_entropy"),
        ([0, 19], "cross_entropy"),  # 20 classes at most: MAX_CLASSES
        ([0, 20], "mse"),
        ([0, 1], "bce"),
    ],
)
def test_auto_takes_only_small_class_numbers_as_classes(
    labels: list[int], loss: str, tmp_path: Path
) -> None:
    path = tmp_path / "t.csv"
    path.write_text("x,t\n" + "".join(f"{i},{labels[i % len(labels)]}\n" for i in range(12)))
    run = tabular.prepare(path, "t", hidden=[2])
    assert run.metadata.loss == loss
    assert run.model.sizes[-1] <= 20


def test_fit_stops_on_divergence_naming_the_learning_rate() -> None:
    X, y = data.make_xor(20, seed=0)
    model = MLP(2, [4, 1], seed=0)
    with pytest.raises(ValueError, match=r"diverged.*learning rate 1e\+200"):
        ag.fit(model, X, y, loss="mse", optimizer=ag.optim.Adam(model.parameters(), lr=1e200),
               epochs=5, progress=False)  # fmt: skip
    assert all(math.isfinite(v) for v in model.state_dict().values())


# -- fuzzing load_csv and predict ------------------------------------------------------------


FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


cells = st.sampled_from(["1", "-2.5", "00042", "1e3", "nan", "inf", "", " ", "x", "a,b", '"',
                         '""', "\n", "\r\n", "\ufeff", "\x00", "é", "9" * 30])  # fmt: skip


csv_text = st.lists(st.lists(cells, min_size=1, max_size=4), max_size=5).map(
    lambda rows: "\n".join(",".join(row) for row in rows)
)


def csv_bytes() -> st.SearchStrategy[bytes]:
    return st.one_of(
        csv_text.map(str.encode),
        csv_text.map(lambda text: b"\xef\xbb\xbfx1,x2\n" + text.encode()),
        st.binary(max_size=60).map(lambda raw: b"x1,x2\n" + raw),
    )


def check_error(error: ValueError, path: Path) -> None:
    """A plain ValueError (not a UnicodeDecodeError or csv.Error in disguise), one line,
    naming the file."""
    assert type(error) is ValueError
    assert str(path) in str(error)
    assert "\n" not in str(error)


@FUZZ
@given(content=csv_bytes(), target=st.sampled_from([None, "x1", "1"]))
def test_fuzz_load_csv_reads_or_raises_value_error_naming_the_file(
    content: bytes, target: str | None, tmp_path: Path
) -> None:
    path = tmp_path / "fuzz.csv"
    path.write_bytes(content)
    try:
        X, y, features = data.load_csv(path, target=target)
    except ValueError as error:
        check_error(error, path)
        return
    assert all(math.isfinite(v) for row in X for v in row)
    assert all(len(row) == len(features) for row in X)
    assert len(y) == (len(X) if target is not None else 0)


@FUZZ
@given(content=csv_bytes())
def test_fuzz_predict_echoes_cells_or_raises_value_error(content: bytes, tmp_path: Path) -> None:
    metadata = tabular.TabularMetadata(["x1", "x2"], "y", "mse", [0.0, 0.0], [1.0, 1.0])
    tabular.save_bundle(MLP(2, [2, 1], seed=0), metadata, tmp_path / "m.json")
    path = tmp_path / "fuzz.csv"
    path.write_bytes(content)
    try:
        text, count = tabular.predict_csv(tmp_path / "m.json", path)
    except ValueError as error:
        check_error(error, path)
        return
    table = data.read_table(path)
    written = list(csv.reader(io.StringIO(text)))
    assert count == len(table.rows) == len(written) - 1
    assert written[0][: len(table.header)] == table.header
    extra = "predicted_y" not in table.names
    for (_, cells), row in zip(table.rows, written[1:], strict=True):
        kept = row[:-1] if extra else row
        assert [c for i, c in enumerate(kept) if table.names[i] != "predicted_y"] == [
            c for i, c in enumerate(cells) if table.names[i] != "predicted_y"
        ]


def test_a_closed_pipe_is_not_an_error(tmp_path: Path) -> None:
    """`autograd-lite train ... | true`: the reader is gone before anything is printed."""
    rows = "\n".join(f"{i / 10},{i % 2}" for i in range(40))
    (tmp_path / "data.csv").write_text(f"x,y\n{rows}\n")
    command = (
        f"{sys.executable} -m autograd_lite train data.csv --target y --epochs 20 --quiet "
        "--out model.json | true"
    )
    done = subprocess.run(
        ["/bin/bash", "-o", "pipefail", "-c", command], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "Broken pipe" not in done.stderr
    assert (tmp_path / "model.json").exists()  # the work itself was done


def test_a_loss_that_does_not_fit_the_labels_fails_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "binary.csv").write_text("x,y\n" + "".join(f"{i},{i % 2}\n" for i in range(20)))
    code, out, err = run(
        ["train", str(tmp_path / "binary.csv"), "--target", "y", "--loss", "hinge", "--quiet",
         "--out", str(tmp_path / "m.json")], capsys,
    )  # fmt: skip
    assert code == 2
    assert "Training" not in out  # refused before the model is announced
    assert err.count("\n") == 1
    assert "hinge wants labels -1 and 1" in err
    assert not (tmp_path / "m.json").exists()


@pytest.mark.parametrize("where", ["{file}", "{file}/sub"])
def test_demo_refuses_an_unusable_out_folder_at_once(
    where: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file").write_bytes(PRECIOUS)
    code, out, err = run(["demo", "--quiet", "--out", where.format(file=tmp_path / "file")], capsys)
    assert code == 2
    assert "Training" not in out  # no work was done and lost
    assert err.count("\n") == 1
    assert (tmp_path / "file").read_bytes() == PRECIOUS


def test_train_reports_regression_losses_in_the_targets_units(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [f"{i / 40},{1000.0 * i / 40 + 500.0}" for i in range(40)]  # y in the hundreds
    (tmp_path / "prices.csv").write_text("x,y\n" + "\n".join(rows) + "\n")
    code, out, _ = run(
        ["train", str(tmp_path / "prices.csv"), "--target", "y", "--epochs", "3", "--quiet",
         "--out", str(tmp_path / "m.json")], capsys,
    )  # fmt: skip
    assert code == 0
    final = next(line for line in out.splitlines() if line.startswith("final:"))
    numbers = dict(part.split() for part in final.removeprefix("final: ").split(", "))
    assert set(numbers) == {"loss", "rmse", "val_loss", "val_rmse"}
    std = tabular.load_bundle(tmp_path / "m.json")[1].target_std
    assert std > 250  # the column's spread, in its own units
    assert float(numbers["rmse"]) ** 2 == pytest.approx(float(numbers["loss"]), rel=1e-3)
    assert float(numbers["val_rmse"]) > 1.0  # not the standardized scale, where it would be < 1


def test_train_stops_early_and_keeps_the_best_weights(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    regression_csv(tmp_path / "good.csv", rows=40)
    code, out, _ = run(
        ["train", str(tmp_path / "good.csv"), "--target", "y", "--epochs", "300", "--lr", "0.3",
         "--early-stopping", "2", "--quiet", "--out", str(tmp_path / "m.json")], capsys,
    )  # fmt: skip
    assert code == 0
    assert "stopped early" in out
    assert (tmp_path / "m.json").exists()


def test_train_and_predict_take_numbers_near_the_float_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = ["1e200,1,0.5", "2,3,1.5e200", "-1e200,2,3.0", "4,5,-1.7e308", "3,1e-300,1.0"]
    (tmp_path / "big.csv").write_text("a,b,y\n" + "\n".join(rows) + "\n")
    model = str(tmp_path / "m.json")
    code, out, err = run(
        ["train", str(tmp_path / "big.csv"), "--target", "y", "--epochs", "2", "--quiet",
         "--out", model], capsys,
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert "rmse" in out
    metadata = tabular.load_bundle(model)[1]
    assert all(map(math.isfinite, [*metadata.means, *metadata.stds, metadata.target_std]))
    code, out, err = run(["predict", model, str(tmp_path / "big.csv")], capsys)
    assert (code, err) == (0, "")
    predicted = [float(row["predicted_y"]) for row in csv.DictReader(io.StringIO(out))]
    assert len(predicted) == 5
    assert all(map(math.isfinite, predicted))


@pytest.mark.parametrize(
    ("labels", "loss", "shown"),
    [([3, 7, 11], "auto", "3, 7, 11"), ([0, 99999], "cross_entropy", "0, 99999")],
)
def test_train_numbers_sparse_class_labels_and_predict_writes_them_back(
    labels: list[int], loss: str, shown: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = "".join(f"{i},{(i * 3) % 7},{labels[i % len(labels)]}\n" for i in range(30))
    (tmp_path / "t.csv").write_text("x1,x2,label\n" + rows)
    model = str(tmp_path / "m.json")
    code, out, err = run(
        ["train", str(tmp_path / "t.csv"), "--target", "label", "--loss", loss, "--epochs", "2",
         "--quiet", "--out", model], capsys,
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert f"MLP(2, [16, 16, {len(labels)}]" in out  # one output per class that occurs
    note = [line for line in out.splitlines() if "numbered" in line]
    assert len(note) == 1
    assert shown in note[0]
    code, out, err = run(["predict", model, str(tmp_path / "t.csv")], capsys)
    assert (code, err) == (0, "")
    predicted = {row["predicted_label"] for row in csv.DictReader(io.StringIO(out))}
    assert predicted <= {str(label) for label in labels}


def test_explore_without_graphviz_dot_is_one_line_with_the_install_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("graphviz")
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))  # dot cannot be found
    out = tmp_path / "page.html"
    code, stdout, stderr = run(["explore", "a*b", "a=2", "b=3", "--out", str(out)], capsys)
    assert code == 2
    assert stderr.count("\n") == 1
    assert stderr.startswith("autograd-lite explore: error: Graphviz's `dot` program is not")
    assert "apt-get install graphviz" in stderr
    assert "Traceback" not in stderr
    assert stdout == ""
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary file left either
