"""ag.save / ag.load: exact round trips, atomic writes, and every kind of bad file."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import autograd_lite as ag
from autograd_lite import Value, nn, serialize
from autograd_lite.nn import MLP, MODULES, Layer, Module, Neuron

ROWS = [[0.5, -1.0], [2.0, 0.25], [-3.0, 1.5]]


def outputs(model: Module) -> list[Any]:
    result = []
    for row in ROWS:
        out = model(row)
        result.append([v.data for v in out] if isinstance(out, list) else out.data)
    return result


@pytest.mark.parametrize(
    "model",
    [
        MLP(2, [4, 3, 1], seed=1),
        MLP(2, [5, 3], activation="tanh", seed=2),
        Layer(2, 3, activation="sigmoid", seed=3),
        Neuron(2, activation="linear", seed=4),
    ],
    ids=["mlp", "mlp-3-outputs", "layer", "neuron"],
)
def test_round_trip_gives_identical_predictions(model: Module, tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    ag.save(model, path, metadata={"features": ["a", "b"]})
    loaded, metadata = serialize.load_with_metadata(path)
    assert type(loaded) is type(model)
    assert loaded.state_dict() == model.state_dict()  # bit for bit
    assert outputs(loaded) == outputs(model)
    assert metadata == {"features": ["a", "b"]}
    assert outputs(ag.load(path)) == outputs(model)


class Affine(Module):
    """a·x + b for each input: a module serialize.py has never heard of."""

    def __init__(self, n: int, scale: float = 1.0) -> None:
        self.scale = scale
        self.a = [Value(scale) for _ in range(n)]
        self.b = Value(0.0)

    def __call__(self, x: Any) -> list[Value]:
        return [ai * xi + self.b for ai, xi in zip(self.a, x, strict=True)]

    def config(self) -> dict[str, Any]:
        return {"n": len(self.a), "scale": self.scale}


def test_a_new_module_type_saves_and_loads_through_the_registry(tmp_path: Path) -> None:
    assert MODULES["Affine"] is Affine
    model = Affine(2, scale=0.5)
    model.a[1].data, model.b.data = -3.0, 0.25
    path = tmp_path / "affine.json"
    ag.save(model, path)
    architecture = json.loads(path.read_text())["architecture"]
    assert architecture == {"type": "Affine", "n": 2, "scale": 0.5}
    loaded = ag.load(path)
    assert type(loaded) is Affine
    assert outputs(loaded) == outputs(model)
    fresh = Affine(2)
    with pytest.raises(ag.ModelFileError, match="the model is"):  # scale differs
        ag.load(path, fresh)
    assert ag.load(path, Affine(2, scale=0.5)).state_dict() == model.state_dict()


@pytest.mark.parametrize(
    "model", [MLP(2, [3, 2], activation="tanh"), Layer(3, 2, "sigmoid"), Neuron(4, "linear")]
)
def test_built_in_modules_describe_themselves(model: Module) -> None:
    config = model.config()
    assert MODULES[type(model).__name__] is type(model)
    assert type(model).from_config(config).config() == config
    assert serialize.architecture(model) == {"type": type(model).__name__, **config}


def test_module_names_are_unique_unless_given_one() -> None:
    class Named(Module, name="tests.Named"):
        pass

    assert MODULES["tests.Named"] is Named
    with pytest.raises(TypeError, match="'MLP' is already registered"):

        class MLP(Module):  # another class under a taken name would load as the wrong type
            pass

    assert MODULES["MLP"] is ag.nn.MLP


def test_the_file_is_versioned_json_and_loads_into_an_existing_model(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    trained = MLP(2, [3, 1], seed=5)
    ag.save(trained, path)
    document = json.loads(path.read_text())
    assert document["format"] == "autograd_lite.model"
    assert document["version"] == serialize.VERSION
    assert document["architecture"] == {
        "type": "MLP",
        "nin": 2,
        "nouts": [3, 1],
        "activation": "relu",
    }
    fresh = MLP(2, [3, 1], seed=6)
    assert ag.load(path, fresh) is fresh
    assert outputs(fresh) == outputs(trained)


def test_saved_files_get_the_usual_permissions(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    ag.save(Neuron(1), path)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def good_document() -> dict[str, Any]:
    model = MLP(2, [2, 1], seed=0)
    return {
        "format": serialize.FORMAT,
        "version": serialize.VERSION,
        "architecture": serialize.architecture(model),
        "parameters": model.state_dict(),
        "metadata": {},
    }


def edit(change: Callable[[dict[str, Any]], Any]) -> str:
    document = good_document()
    change(document)
    return json.dumps(document)


def first_weight(document: dict[str, Any], value: Any) -> None:
    document["parameters"]["layers.0.neurons.0.w.0"] = value


BAD_FILES: dict[str, tuple[str | bytes, str]] = {
    "empty": ("", "not valid JSON"),
    "truncated": (json.dumps(good_document())[:150], "not valid JSON"),
    "not json": ("model = MLP(2, [2, 1])", "not valid JSON"),
    "binary": (b"\x80\x04\x95pickle", "not a text file"),
    "a list": ("[1, 2, 3]", "not an autograd_lite model file"),
    "another format": (edit(lambda d: d.update(format="keras")), "not an autograd_lite model"),
    "newer version": (edit(lambda d: d.update(version=2)), "format version 2"),
    "no version": (edit(lambda d: d.pop("version")), "format version None"),
    "unknown type": (edit(lambda d: d["architecture"].update(type="CNN")), "unknown architecture"),
    "no architecture": (edit(lambda d: d.pop("architecture")), "must be JSON objects"),
    "architecture a string": (edit(lambda d: d.update(architecture="MLP")), "JSON objects"),
    "empty architecture": (edit(lambda d: d.update(architecture={})), "unknown architecture"),
    "bad activation": (edit(lambda d: d["architecture"].update(activation="gelu")), "gelu"),
    "bad layer size": (edit(lambda d: d["architecture"].update(nouts=[2, -1])), "nout"),
    "missing weight": (
        edit(lambda d: d["parameters"].popitem()),
        "has 9 parameters, the file holds 8",
    ),
    "extra weight": (
        edit(lambda d: d["parameters"].update(extra=1.0)),
        "has 9 parameters, the file holds 10",
    ),
    "text weight": (edit(lambda d: first_weight(d, "0.5")), "finite number"),
    "null weight": (edit(lambda d: first_weight(d, None)), "finite number"),
    "bool weight": (edit(lambda d: first_weight(d, True)), "finite number"),
    "nan weight": (edit(lambda d: first_weight(d, "NaN")).replace('"NaN"', "NaN"), "finite"),
    "parameters a list": (edit(lambda d: d.update(parameters=[0.5])), "JSON objects"),
    "metadata a string": (edit(lambda d: d.update(metadata="x")), "JSON objects"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_file_raises_and_changes_nothing(case: str, tmp_path: Path) -> None:
    content, message = BAD_FILES[case]
    path = tmp_path / "model.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    model = MLP(2, [2, 1], seed=9)
    before = model.state_dict()
    with pytest.raises(ag.ModelFileError, match=message) as info:
        ag.load(path, model)
    assert str(path) in str(info.value)
    assert model.state_dict() == before
    with pytest.raises(ag.ModelFileError, match=message):
        ag.load(path)
    assert isinstance(info.value, ValueError)


def test_a_file_for_another_shape_does_not_load_into_the_model(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    ag.save(MLP(2, [3, 1], seed=0), path)
    model = MLP(2, [4, 1], seed=1)
    before = model.state_dict()
    with pytest.raises(ag.ModelFileError, match="the model is"):
        ag.load(path, model)
    assert model.state_dict() == before


def test_a_missing_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        ag.load(tmp_path / "nowhere.json")


def test_a_failed_save_leaves_the_old_file_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "model.json"
    good = MLP(2, [3, 1], seed=0)
    ag.save(good, path)
    original = path.read_bytes()

    broken = MLP(2, [3, 1], seed=1)
    broken.layers[0].neurons[0].b.data = float("nan")
    with pytest.raises(ValueError, match="non-finite"):
        ag.save(broken, path)
    with pytest.raises(TypeError, match="MLP, Layer and Neuron"):
        ag.save(Module(), path)

    def crash(*args: object) -> None:  # the process dies between writing and renaming
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        ag.save(MLP(2, [3, 1], seed=2), path)
    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(KeyboardInterrupt):
        ag.save(MLP(2, [3, 1], seed=3), path)

    assert path.read_bytes() == original
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]  # no temporary files left
    assert outputs(ag.load(path)) == outputs(good)


def _frozen_names(model: Module) -> list[str]:
    return [name for name, value in model._named_values() if not value.requires_grad]


def test_frozen_parameters_are_part_of_the_state_and_the_file(tmp_path: Path) -> None:
    model = ag.nn.Sequential(ag.nn.Linear(2, 3, seed=0), ag.nn.Tanh(), ag.nn.Linear(3, 1, seed=1))
    model.layers[0].weight[1][0].requires_grad = False  # type: ignore[attr-defined]
    for b in model.layers[0].bias:  # type: ignore[attr-defined]
        b.requires_grad = False
    assert len(model.state_dict()) == 13  # as PyTorch's state_dict: frozen ones kept
    assert len(model.parameters()) == 9  # what an optimizer updates
    path = tmp_path / "frozen.json"
    ag.save(model, path)
    document = json.loads(path.read_text())
    assert document["frozen"] == ["0.weight.1.0", "0.bias.0", "0.bias.1", "0.bias.2"]
    loaded = ag.load(path)
    assert loaded.state_dict() == model.state_dict()
    assert outputs(loaded) == outputs(model)
    assert _frozen_names(loaded) == _frozen_names(model)
    assert len(loaded.parameters()) == 9
    into = ag.nn.Sequential(ag.nn.Linear(2, 3, seed=5), ag.nn.Tanh(), ag.nn.Linear(3, 1, seed=6))
    assert ag.load(path, into).state_dict() == model.state_dict()
    assert _frozen_names(into) == []  # as PyTorch's load_state_dict: flags stay the model's


def test_load_state_dict_restores_frozen_values_and_checks_for_them() -> None:
    model = MLP(2, [1], seed=0)
    frozen = model.layers[0].neurons[0].b  # type: ignore[attr-defined]
    frozen.requires_grad = False
    state = model.state_dict()
    frozen.data = 123.0
    model.load_state_dict(state)
    assert frozen.data == state["layers.0.neurons.0.b"]
    with pytest.raises(KeyError, match="missing"):
        model.load_state_dict({k: v for k, v in state.items() if "b" not in k})


def test_files_without_frozen_parameters_keep_the_format_older_versions_read(
    tmp_path: Path,
) -> None:
    path = tmp_path / "model.json"
    ag.save(MLP(2, [2, 1], seed=0), path)
    assert "frozen" not in json.loads(path.read_text())


class Shifted(Module):
    """x + shift, where shift is a constant the constructor makes (a buffer, in PyTorch's words)."""

    def __init__(self) -> None:
        self.w = Value(1.0)
        self.shift = Value(0.5, requires_grad=False)

    def __call__(self, x: Any) -> Value:
        return self.w * x[0] + self.shift

    def config(self) -> dict[str, Any]:
        return {}


def test_a_module_with_a_constant_loads_from_files_with_or_without_it(tmp_path: Path) -> None:
    model = Shifted()
    model.w.data, model.shift.data = 2.0, -4.0
    path = tmp_path / "shifted.json"
    ag.save(model, path)
    loaded = ag.load(path)
    assert loaded.state_dict() == {"w": 2.0, "shift": -4.0}
    assert not loaded.shift.requires_grad  # type: ignore[attr-defined]
    older = {"format": serialize.FORMAT, "version": 1, "architecture": {"type": "Shifted"},
             "parameters": {"w": 2.0}, "metadata": {}}  # fmt: skip
    path.write_text(json.dumps(older))  # what saves wrote before frozen values were kept
    assert ag.load(path).state_dict() == {"w": 2.0, "shift": 0.5}


@pytest.mark.parametrize(
    ("frozen", "message"),
    [
        ("layers.0.neurons.0.b", "'frozen' must be a list"),
        (["no.such.weight"], "no.such.weight"),
        ([1], "'frozen' must be a list"),
        (["layers.0.neurons.0.b", "layers.0.neurons.0.b"], "twice"),
    ],
)
def test_a_bad_frozen_list_is_refused(frozen: Any, message: str, tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    path.write_text(edit(lambda d: d.update(frozen=frozen)))
    model = MLP(2, [2, 1], seed=9)
    before = model.state_dict()
    with pytest.raises(ag.ModelFileError, match=message):
        ag.load(path, model)
    assert model.state_dict() == before


def test_new_modules_save_and_load(tmp_path: Path) -> None:
    model = nn.Sequential(
        nn.Linear(2, 3, seed=0),
        nn.Sigmoid(),
        nn.Sequential(nn.Linear(3, 3, bias=False, seed=1), nn.Tanh()),
        nn.MLP(3, [2, 2], activation="tanh", seed=2),
        nn.ReLU(),
        nn.Layer(2, 1, activation=None, seed=3),
    )
    path = tmp_path / "model.json"
    ag.save(model, path)
    loaded = ag.load(path)
    assert isinstance(loaded, nn.Sequential)
    assert loaded.state_dict() == model.state_dict()
    assert loaded([0.3, -0.2]).data == model([0.3, -0.2]).data
    spec = json.loads(path.read_text())["architecture"]
    assert spec["type"] == "Sequential"
    assert spec["modules"][0] == {"type": "Linear", "nin": 2, "nout": 3, "bias": True,
                                  "init": "pytorch"}  # fmt: skip
    assert spec["modules"][1] == {"type": "Sigmoid"}
    ag.load(path, nn.Sequential(*[type(m).from_config(m.config()) for m in model]))


def test_existing_model_files_keep_their_format(tmp_path: Path) -> None:
    cases: list[tuple[nn.Module, dict[str, Any]]] = [
        (nn.MLP(2, [3, 1], seed=0), {"type": "MLP", "nin": 2, "nouts": [3, 1],
                                     "activation": "relu"}),
        (nn.Layer(2, 1, "tanh", seed=0), {"type": "Layer", "nin": 2, "nout": 1,
                                          "activation": "tanh"}),
        (nn.Neuron(2, None, seed=0), {"type": "Neuron", "nin": 2, "activation": "linear"}),
    ]  # fmt: skip
    for model, architecture in cases:
        path = tmp_path / "model.json"
        ag.save(model, path)
        document = json.loads(path.read_text())
        assert document["architecture"] == architecture
        assert next(iter(document["parameters"])) in ("layers.0.neurons.0.w.0",
                                                      "neurons.0.w.0", "w.0")  # fmt: skip
        assert ag.load(path).state_dict() == model.state_dict()


BAD_SEQUENTIALS = {
    "unknown child": ({"modules": [{"type": "Conv2d"}]}, "unknown architecture type 'Conv2d'"),
    "child not an object": ({"modules": [3]}, "must be a JSON object"),
    "modules not a list": ({"modules": {"type": "ReLU"}}, "must be a list"),
    "activation with arguments": ({"modules": [{"type": "ReLU", "inplace": True}]}, "no arguments"),
    "too many weights": (
        {"modules": [{"type": "Linear", "nin": 1, "nout": 1, "bias": True, "init": "pytorch"}]},
        "has 2 parameters",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_SEQUENTIALS))
def test_bad_sequential_files_are_refused(case: str, tmp_path: Path) -> None:
    spec, message = BAD_SEQUENTIALS[case]
    architecture = {"type": "Sequential", **spec}
    document = {"format": "autograd_lite.model", "version": 1, "architecture": architecture,
                "parameters": {"0.x": 1.0}}  # fmt: skip
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    with pytest.raises(ag.ModelFileError, match=message):
        ag.load(path)
