"""Hostile model and CSV files: a clear error naming the file, never another exception, never
a long wait, never a model bigger than the file describes. Mutations are fuzzed with hypothesis."""

from __future__ import annotations

import copy
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import autograd_lite as ag
from autograd_lite.nn import MLP, Module

FUZZ = settings(
    max_examples=150,
    deadline=None,  # each example is timed by the test itself
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
SECONDS = 1.0  # a hostile file is refused (or loaded) at once, whatever it declares


def good_document() -> dict[str, Any]:
    model = MLP(2, [2, 1], seed=0)
    return {
        "format": "autograd_lite.model",
        "version": 1,
        "architecture": {"type": "MLP", **model.config()},
        "parameters": model.state_dict(),
        "metadata": {"features": ["a", "b"]},
    }


def load_outcome(path: Path) -> Module | ag.ModelFileError:
    """ag.load(path): a model or a ModelFileError naming the file; anything else fails."""
    start = time.perf_counter()
    try:
        result: Module | ag.ModelFileError = ag.load(path)
    except ag.ModelFileError as error:
        result = error
    assert time.perf_counter() - start < SECONDS
    if isinstance(result, ag.ModelFileError):
        assert str(path) in str(result)
        assert "\n" not in str(result)
    return result


def write(tmp_path: Path, content: str | bytes) -> Path:
    path = tmp_path / "model.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


GOOD = json.dumps(good_document())
WEIGHT = repr(good_document()["parameters"]["layers.0.neurons.0.w.0"])  # once in GOOD


def with_weight(text: str) -> str:
    return GOOD.replace(WEIGHT, text)


ARCHITECTURE = {"type": "MLP", "nin": 2, "nouts": [2, 1], "activation": "relu"}

HOSTILE: dict[str, tuple[str, str]] = {
    "nested lists": ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    "nested metadata": (GOOD[:-1] + ', "x": ' + "[" * 50_000 + "]" * 50_000 + "}", "nested"),
    "moderately nested metadata": (GOOD.replace('["a", "b"]', "[" * 500 + "]" * 500), "nested"),
    "400-digit weight": (with_weight("9" * 400), "integer of 400 digits"),
    "5000-digit weight": (with_weight("-" + "9" * 5000), "integer of 5000 digits"),
    "5000-digit version": (GOOD.replace('"version": 1', '"version": ' + "1" * 5000), "5000"),
    "309-digit weight": (with_weight("9" * 309), "integer of 309 digits"),
    "300-digit weight": (with_weight("9" * 300), ""),  # loads: a float holds it
    "1e999 weight": (with_weight("1e999"), "finite number"),
    "NaN weight": (with_weight("NaN"), "finite number"),
    "string weight": (with_weight('"0.5"'), "finite number"),
    "version true": (GOOD.replace('"version": 1', '"version": true'), "version True"),
    "version 1.0": (GOOD.replace('"version": 1', '"version": 1.0'), "version 1.0"),
    "nin true": (GOOD.replace('"nin": 2', '"nin": true'), "nin must be a positive int"),
    "nin 2.0": (GOOD.replace('"nin": 2', '"nin": 2.0'), "nin must be a positive int"),
    "size true": (GOOD.replace('"nouts": [2, 1]', '"nouts": [2, true]'), "positive int"),
    "activation a list": (GOOD.replace('"relu"', '["relu"]'), "unknown activation"),
    "unknown key": (GOOD.replace('"version": 1,', '"version": 1, "pickle": "x",'), "unknown keys"),
    "extra config": (GOOD.replace('"nin": 2', '"nin": 2, "seed": 3'), "seed"),
    "weight true": (with_weight("true"), "finite number"),
    "an int weight": (with_weight("3"), ""),  # loads: JSON has no float type of its own
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_model_file_is_refused_naming_the_file(case: str, tmp_path: Path) -> None:
    content, message = HOSTILE[case]
    outcome = load_outcome(write(tmp_path, content))
    if not message:
        assert isinstance(outcome, Module)
    else:
        assert isinstance(outcome, ag.ModelFileError), case
        assert message in str(outcome)
        assert "set_int_max_str_digits" not in str(outcome)


@pytest.mark.parametrize(
    "architecture",
    [
        {"type": "MLP", "nin": 50_000_000, "nouts": [1]},
        {"type": "MLP", "nin": 2, "nouts": [100_000, 100_000, 1]},
        {"type": "Layer", "nin": 10**9, "nout": 10**9},
        {"type": "Neuron", "nin": 10**12},
    ],
)
def test_a_small_file_cannot_ask_for_a_huge_model(
    architecture: dict[str, Any], tmp_path: Path
) -> None:
    document = {"format": "autograd_lite.model", "version": 1, "architecture": architecture}
    document["parameters"] = {"b": 0.0}
    path = write(tmp_path, json.dumps(document))
    assert path.stat().st_size < 200
    outcome = load_outcome(path)  # under a second, not 30 s and a MemoryError
    assert isinstance(outcome, ag.ModelFileError)
    assert "parameters, the file holds 1" in str(outcome)


def test_parameter_count_matches_the_built_model() -> None:
    for cls, config in [
        (MLP, {"nin": 3, "nouts": [4, 2, 1], "activation": "tanh"}),
        (ag.nn.Layer, {"nin": 3, "nout": 5}),
        (ag.nn.Neuron, {"nin": 7, "activation": "linear"}),
    ]:
        assert cls.parameter_count(config) == len(cls.from_config(config).parameters())


def test_constructors_take_no_bool_sizes_or_list_activations() -> None:
    with pytest.raises(ValueError, match="nin must be a positive int"):
        MLP(True, [1])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive int"):
        ag.nn.Layer(2, True)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown activation"):
        MLP(2, [1], activation=["relu"])  # type: ignore[arg-type]


# -- fuzzing: mutations of a valid model file ----------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats()
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def places(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside a JSON document."""
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found += places(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += places(value, (*path, i))
    return found


@FUZZ
@given(data=st.data())
def test_fuzz_a_changed_field_loads_or_raises_model_file_error(
    data: st.DataObject, tmp_path: Path
) -> None:
    document = good_document()
    path = data.draw(st.sampled_from(places(document)[1:]))
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    action = data.draw(st.sampled_from(["replace", "delete", "add"]))
    if action == "replace":
        parent[path[-1]] = data.draw(json_values)
    elif action == "delete":
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent[data.draw(st.text(max_size=8))] = data.draw(json_values)
    else:
        parent.insert(path[-1], data.draw(json_values))
    text = json.dumps(document, allow_nan=True)
    outcome = load_outcome(write(tmp_path, text))
    if isinstance(outcome, Module):  # whatever loads is exactly what the file says
        assert json.loads(text)["parameters"] == outcome.state_dict()


@FUZZ
@given(data=st.data())
def test_fuzz_changed_bytes_load_or_raise_model_file_error(
    data: st.DataObject, tmp_path: Path
) -> None:
    content = bytearray(GOOD.encode())
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(content)))
        what = data.draw(st.sampled_from(["flip", "insert", "delete", "repeat"]))
        if what == "flip" and at < len(content):
            content[at] = data.draw(st.integers(0, 255))
        elif what == "insert":
            content[at:at] = data.draw(st.binary(min_size=1, max_size=8))
        elif what == "delete":
            del content[at : at + data.draw(st.integers(1, 20))]
        else:  # repeat a bracket or a digit many times: nesting, long numbers
            content[at:at] = data.draw(st.sampled_from([b"[", b"{", b"9", b'{"a":'])) * 3000
    load_outcome(write(tmp_path, bytes(content)))


def test_fuzz_the_good_document_itself_loads(tmp_path: Path) -> None:
    model = load_outcome(write(tmp_path, copy.deepcopy(GOOD)))
    assert isinstance(model, Module)


# -- save: permissions, links, leftovers ---------------------------------------------------


def test_save_refuses_a_read_only_file_and_leaves_it_alone(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    path.write_text("precious")
    path.chmod(0o444)
    with pytest.raises(PermissionError, match="read-only") as info:
        ag.save(MLP(2, [1]), path)
    assert str(path) in str(info.value)
    assert path.read_text() == "precious"
    assert path.stat().st_mode & 0o777 == 0o444
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json"]


def test_save_keeps_the_permissions_of_the_file_it_replaces(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    path.write_text("old")
    path.chmod(0o600)
    ag.save(MLP(2, [1]), path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert isinstance(ag.load(path), MLP)


def test_save_through_a_symlink_replaces_the_target_and_keeps_the_link(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "model.json"
    target.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    model = MLP(2, [1], seed=4)
    ag.save(model, link)
    assert link.is_symlink()
    assert ag.load(target).state_dict() == model.state_dict()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.json", "real"]
    assert [p.name for p in (tmp_path / "real").iterdir()] == ["model.json"]


def test_save_to_a_folder_or_a_missing_folder_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError, match="is a folder"):
        ag.save(MLP(2, [1]), tmp_path)
    missing = tmp_path / "nowhere" / "model.json"
    with pytest.raises(FileNotFoundError, match="does not exist") as info:
        ag.save(MLP(2, [1]), missing)
    assert str(missing) in str(info.value)


def test_save_removes_what_a_killed_save_left_behind(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    dead = tmp_path / ".model.json.999999999.abcd1234.tmp"  # no such process
    old = tmp_path / ".model.json.abcd1234.tmp"  # a name without a pid in it
    recent = tmp_path / ".model.json.abcd5678.tmp"
    foreign = tmp_path / ".other.json.999999999.abcd1234.tmp"
    for leftover in (dead, old, recent, foreign):
        leftover.write_text("{")
    hour_ago = time.time() - 7200
    os.utime(old, (hour_ago, hour_ago))
    alive = tmp_path / f".model.json.{os.getpid()}.abcd1234.tmp"  # a save in progress
    alive.write_text("{")
    ag.save(MLP(2, [1]), path)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(["model.json", recent.name, foreign.name, alive.name])
