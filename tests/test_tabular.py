"""The CSV pipeline behind the command line: preparing a table, and the saved metadata."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import autograd_lite as ag
from autograd_lite import tabular
from autograd_lite.tabular import TabularMetadata

META: dict[str, Any] = {
    "features": ["a", "b"],
    "target": "z",
    "loss": "mse",
    "means": [1.0, -2.0],
    "stds": [0.5, 3.0],
    "target_mean": 20.0,
    "target_std": 4.0,
}


def test_metadata_round_trips_through_a_model_file(tmp_path: Path) -> None:
    metadata = TabularMetadata(**META)
    assert metadata.to_dict() == META
    assert TabularMetadata.from_dict(metadata.to_dict()) == metadata
    model = ag.nn.MLP(2, [3, 1], seed=0)
    tabular.save_bundle(model, metadata, tmp_path / "model.json")
    assert json.loads((tmp_path / "model.json").read_text())["metadata"] == META
    loaded, again = tabular.load_bundle(tmp_path / "model.json")
    assert again == metadata
    assert loaded.state_dict() == model.state_dict()


def test_metadata_scales_features_and_unscales_regression_outputs() -> None:
    metadata = TabularMetadata(**META)
    assert metadata.scale([[2.0, 1.0]]) == [[2.0, 1.0]]  # (2-1)/0.5, (1+2)/3
    assert metadata.unscale([0.5, -1.0]) == [22.0, 16.0]


def test_a_classifier_file_without_target_scaling_still_reads() -> None:
    old_demo = {"features": ["x1", "x2"], "target": "moon", "loss": "bce",
                "means": [0.0, 0.0], "stds": [1.0, 1.0]}  # fmt: skip
    metadata = TabularMetadata.from_dict(old_demo)
    assert (metadata.target_mean, metadata.target_std) == (0.0, 1.0)


def changed(**fields: Any) -> dict[str, Any]:
    return {key: value for key, value in {**META, **fields}.items() if value is not None}


BAD_METADATA = {
    "empty": ({}, "missing"),
    "regression without target scaling": (changed(target_mean=None), "missing \\['target_mean'"),
    "an unknown field": (changed(scaling="minmax"), "unknown \\['scaling'\\]"),
    "no features": (changed(features=[], means=[], stds=[]), "non-empty list of names"),
    "features a string": (changed(features="ab"), "non-empty list of names"),
    "repeated feature": (changed(features=["a", "a"]), "distinct"),
    "unnamed feature": (changed(features=["a", ""]), "distinct and non-empty"),
    "target among the features": (changed(target="a"), "apart from the features"),
    "unknown loss": (changed(loss="l1"), "loss must be one of"),
    "loss a list": (changed(loss=["mse"]), "loss must be one of"),
    "text mean": (changed(means=["a", 1.0]), "means must be a list of finite numbers"),
    "bool std": (changed(stds=[True, 1.0]), "stds must be a list of finite numbers"),
    "nan mean": (changed(means=[float("nan"), 1.0]), "finite numbers"),
    "short stds": (changed(stds=[1.0]), "1 stds for 2 features"),
    "zero std": (changed(stds=[0.0, 1.0]), "positive"),
    "text target std": (changed(target_std="1"), "target_std must be finite"),
    "classes for regression": (changed(classes=[3, 7]), "classes"),
    "classes unsorted": (
        changed(loss="cross_entropy", classes=[7.0, 3.0], target_mean=None, target_std=None),
        "increasing",
    ),
    "classes of one": (
        changed(loss="cross_entropy", classes=[3.0], target_mean=None, target_std=None),
        "at least two",
    ),
    "classes not whole": (
        changed(loss="cross_entropy", classes=[0.5, 3.0], target_mean=None, target_std=None),
        "whole numbers",
    ),
    "classes a string": (
        changed(loss="cross_entropy", classes="3,7", target_mean=None, target_std=None),
        "classes must be a list",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_METADATA))
def test_bad_metadata_is_refused_with_what_is_wrong(case: str, tmp_path: Path) -> None:
    metadata, message = BAD_METADATA[case]
    with pytest.raises(ValueError, match=message):
        TabularMetadata.from_dict(metadata)
    path = tmp_path / "model.json"
    ag.save(ag.nn.MLP(2, [1]), path)
    document = json.loads(path.read_text())
    path.write_text(json.dumps({**document, "metadata": metadata}))  # NaN too, as json reads it
    with pytest.raises(ag.ModelFileError, match=f"{message}.*train the model with it"):
        tabular.load_bundle(path)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("labels", "loss", "outputs"),
    [([0, 1], "bce", 1), ([0, 1, 2], "cross_entropy", 3), ([0.5, 7.25], "mse", 1)],
)
def test_prepare_picks_the_loss_and_the_model_from_the_target(
    tmp_path: Path, labels: list[float], loss: str, outputs: int
) -> None:
    rows = "".join(f"{i},{labels[i % len(labels)]},{-i}\n" for i in range(12))
    run = tabular.prepare(write(tmp_path / "t.csv", "p,label,q\n" + rows), "label", hidden=[4])
    assert run.metadata.loss == loss
    assert run.metadata.features == ["p", "q"]
    assert run.model.sizes == [2, 4, outputs]
    assert run.validation is not None
    assert (len(run.X), len(run.validation[0])) == (10, 2)  # 20% held out
    all_targets = run.y + run.validation[1]
    if loss == "mse":  # regression learns standardized targets
        assert sum(all_targets) == pytest.approx(0.0, abs=1e-12)
        assert run.metadata.target_std > 0
    else:
        assert sorted(set(all_targets)) == sorted(set(map(float, labels)))
        assert (run.metadata.target_mean, run.metadata.target_std) == (0.0, 1.0)


def test_prepare_holds_nothing_out_of_a_small_table_and_honours_a_named_loss(
    tmp_path: Path,
) -> None:
    run = tabular.prepare(write(tmp_path / "t.csv", "x,y\n1,0\n2,1\n"), "y", loss="mse")
    assert run.validation is None
    assert run.metadata.loss == "mse"
    with pytest.raises(ValueError, match="unknown loss 'l1'"):
        tabular.prepare(tmp_path / "t.csv", "y", loss="l1")
    with pytest.raises(ValueError, match="no feature columns"):
        tabular.prepare(write(tmp_path / "only.csv", "y\n1\n0\n"), "y")


def test_class_labels_that_are_not_0_to_k_minus_1_are_numbered_and_written_back(
    tmp_path: Path,
) -> None:
    labels = [3, 7, 11]
    rows = "".join(f"{i},{labels[i % 3]},{(i * 7) % 5}\n" for i in range(30))
    path = write(tmp_path / "t.csv", "p,label,q\n" + rows)
    run = tabular.prepare(path, "label", hidden=[4], seed=0)
    assert run.metadata.loss == "cross_entropy"
    assert run.model.sizes == [2, 4, 3]  # not 12 outputs, nine for classes that never occur
    assert run.metadata.classes == [3.0, 7.0, 11.0]
    assert run.validation is not None
    assert set(run.y + run.validation[1]) == {0.0, 1.0, 2.0}
    assert run.metadata.unscale([0.0, 2.0, 1.0]) == [3.0, 11.0, 7.0]
    run.fit(epochs=2, batch_size=None, lr=0.01, seed=0, progress=False)
    run.save(tmp_path / "m.json")
    saved = json.loads((tmp_path / "m.json").read_text())["metadata"]
    assert saved["classes"] == [3.0, 7.0, 11.0]
    assert tabular.load_bundle(tmp_path / "m.json")[1] == run.metadata
    text, count = tabular.predict_csv(tmp_path / "m.json", path)
    predicted = [line.rsplit(",", 1)[1] for line in text.splitlines()[1:]]
    assert count == 30
    assert set(predicted) <= {"3", "7", "11"}


def test_labels_already_0_to_k_minus_1_keep_the_file_as_it_was(tmp_path: Path) -> None:
    rows = "".join(f"{i},{i % 3}\n" for i in range(12))
    run = tabular.prepare(write(tmp_path / "t.csv", "p,label\n" + rows), "label", hidden=[2])
    assert run.metadata.classes is None
    assert "classes" not in run.metadata.to_dict()  # older versions read the bundle


def test_a_single_class_is_refused_in_one_line(tmp_path: Path) -> None:
    rows = "".join(f"{i},5\n" for i in range(12))
    with pytest.raises(ValueError, match="only the class 5"):
        tabular.prepare(write(tmp_path / "t.csv", "p,label\n" + rows), "label", hidden=[2])


def test_a_bundle_whose_classes_do_not_fit_its_model_is_refused(tmp_path: Path) -> None:
    metadata = TabularMetadata(["a", "b"], "z", "cross_entropy", [0.0, 0.0], [1.0, 1.0],
                               classes=[3.0, 7.0, 11.0])  # fmt: skip
    tabular.save_bundle(ag.nn.MLP(2, [4, 2], seed=0), metadata, tmp_path / "m.json")
    with pytest.raises(ag.ModelFileError, match="3 classes"):
        tabular.load_bundle(tmp_path / "m.json")
