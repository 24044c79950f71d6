"""PyTorch-shaped modules (Linear, Sequential, ReLU/Tanh/Sigmoid), width-1 outputs and their
typing, Value.item, ag.predict, and the one seed rule (ag.manual_seed)."""

from __future__ import annotations

import inspect
import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import autograd_lite as ag
from autograd_lite import Value, data, nn, seeding, tabular, train
from autograd_lite.cli import main

# ---------------------------------------------------------------- Linear, Sequential, activations


def test_linear_computes_w_x_plus_b_with_pytorch_names_and_init() -> None:
    layer = nn.Linear(3, 2, seed=0)
    names = [name for name, _ in layer.named_parameters()]
    assert names == [f"weight.{i}.{j}" for i in range(2) for j in range(3)] + ["bias.0", "bias.1"]
    x = [0.5, -1.0, 2.0]
    out = layer(x)
    assert isinstance(out, list)
    for k in range(2):
        expected = layer.weight[k][0].data * x[0] + layer.weight[k][1].data * x[1]
        expected += layer.weight[k][2].data * x[2]
        expected += layer.bias[k].data  # type: ignore[index]
        assert out[k].data == pytest.approx(expected, rel=1e-15)
    wide = nn.Linear(400, 3, seed=1)
    assert all(abs(p.data) <= 1 / math.sqrt(400) for p in wide.parameters())  # U(±1/√nin)
    assert len(nn.Linear(4, 3, bias=False, seed=0).parameters()) == 12
    assert nn.Linear(3, 2, seed=5).state_dict() == nn.Linear(3, 2, seed=5).state_dict()


def test_linear_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown init 'bogus'"):
        nn.Linear(2, 2, init="bogus")
    with pytest.raises(ValueError, match="nout"):
        nn.Linear(2, 0)
    with pytest.raises(TypeError, match="bias must be True or False"):
        nn.Linear(2, 2, bias=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="expected 2 inputs, got 3"):
        nn.Linear(2, 2)([1.0, 2.0, 3.0])


def test_sequential_chains_modules_and_names_parameters_by_position() -> None:
    first, second = nn.Linear(2, 3, seed=0), nn.Linear(3, 1, seed=1)
    model = nn.Sequential(first, nn.Tanh(), second)
    assert len(model) == 3
    assert model[0] is first
    assert list(model)[2] is second
    x = [0.25, -0.5]
    out = model(x)
    assert isinstance(out, Value)
    assert out.data == second(nn.Tanh()(first(x))).data
    names = [name for name, _ in model.named_parameters()]
    assert names[0] == "0.weight.0.0"
    assert names[-1] == "2.bias.0"
    assert len(model.parameters()) == 9 + 4
    with pytest.raises(TypeError, match="Sequential takes Modules, got builtin_function_or_method"):
        nn.Sequential(math.tanh)  # type: ignore[arg-type]


@pytest.mark.parametrize(("module", "method"), [(nn.ReLU, "relu"), (nn.Tanh, "tanh"),
                                                (nn.Sigmoid, "sigmoid")])  # fmt: skip
def test_activation_modules_apply_elementwise(module: type[nn.ReLU], method: str) -> None:
    act = module()
    xs = [Value(-0.7), Value(0.0), Value(1.3)]
    outs = act(xs)
    assert [o.data for o in outs] == [getattr(x, method)().data for x in xs]
    single = act(xs[2])
    assert isinstance(single, Value)
    assert single.data == outs[2].data
    assert act(2.0).data == getattr(Value(2.0), method)().data
    single.backward()
    assert xs[2].grad != 0.0
    assert act.parameters() == []
    assert repr(act) == f"{module.__name__}()"


def test_activation_none_means_linear() -> None:
    for model in (nn.Neuron(2, None, seed=0), nn.Layer(2, 2, None, seed=0),
                  nn.MLP(2, [3, 1], activation=None, seed=0)):  # fmt: skip
        assert model.config()["activation"] == "linear"
    neuron = nn.Neuron(1, activation=None, seed=0)
    assert neuron([-5.0]).data == neuron.w[0].data * -5.0 + neuron.b.data  # no relu


# ------------------------------------------------------------------------- width-1 outputs


def test_a_last_width_of_1_gives_a_single_value_everywhere() -> None:
    x = [1.0, -2.0, 0.5]
    for model in (
        nn.Layer(3, 1, seed=0),
        nn.Linear(3, 1, seed=0),
        nn.MLP(3, [4, 1], seed=0),
        nn.Sequential(nn.Linear(3, 4, seed=0), nn.ReLU(), nn.Linear(4, 1, seed=1)),
        nn.Neuron(3, seed=0),
    ):
        assert isinstance(model(x), Value), model
    for model in (nn.Layer(3, 2, seed=0), nn.Linear(3, 2, seed=0), nn.MLP(3, [4, 2], seed=0)):
        out = model(x)
        assert isinstance(out, list), model
        assert len(out) == 2
    # a width-1 output feeds a width-1 input
    narrow = nn.Sequential(nn.Linear(3, 1, seed=0), nn.ReLU(), nn.Linear(1, 2, seed=1))
    assert len(narrow(x)) == 2
    assert isinstance(nn.MLP(3, [1, 1, 1], seed=0)(x), Value)


def test_fit_trains_a_single_layer_of_width_1() -> None:
    X, y = data.make_moons(60, noise=0.1, seed=0)
    model = nn.Layer(2, 1, activation=None, seed=0)  # logistic regression
    history = ag.fit(model, X, y, loss="bce", epochs=30, progress=False, seed=0,
                     optimizer=ag.optim.Adam(model.parameters(), lr=0.1))  # fmt: skip
    assert history.accuracy[-1] > 0.8
    assert ag.predict(model, X[:3], loss="bce") == train.predict(model, X[:3], loss="bce")


USER_CODE = """
    import autograd_lite as ag
    from autograd_lite import nn

    ag.manual_seed(0)
    model = nn.MLP(2, [8, 1])
    score: float = model([1.0, 2.0]).data
    print(model([1.0, 2.0]).item() + 1.0)
    wide = nn.MLP(2, [8, 3])
    first: float = wide([1.0, 2.0])[0].data
    layer = nn.Layer(2, 1, activation=None)
    layer([1.0, 2.0]).backward()
    seq = nn.Sequential(nn.Linear(2, 4, init="pytorch"), nn.ReLU(), nn.Linear(4, 1))
    out: ag.Value = seq([1.0, 2.0])
    out.backward()
    one: ag.Value = nn.Tanh()(ag.Value(0.5))
    many: list[ag.Value] = nn.Sigmoid()([1.0, -1.0])
    labels: list[float] = ag.predict(model, [[1.0, 2.0]], loss="bce")
    total: float = sum(v.item() for v in wide([0.0, 1.0]))


    def logit(x: list[float]) -> float:
        value: ag.Value = model(x)
        return value.item()
"""


def test_users_code_passes_mypy_strict(tmp_path: Path) -> None:
    pytest.importorskip("mypy", reason="mypy is in the dev extra")
    user = (tmp_path / "user_code").with_suffix(".py")  # a file of a user of the package
    user.write_text(textwrap.dedent(USER_CODE))
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "cache"),
         str(user)],
        capture_output=True, text=True, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    exec(compile(user.read_text(), str(user), "exec"), {"__name__": "user_code"})  # noqa: S102


# ----------------------------------------------------------------------- saving and loading


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


# ------------------------------------------------------------------- item, predict, seeding


def test_item_is_the_number() -> None:
    assert (Value(1.5) * 2).item() == 3.0
    assert type(Value(2).item()) is float
    assert ag.predict is train.predict


def seeded_run() -> tuple[Any, ...]:
    X, y = data.make_moons(20)
    X_train, _, y_train, _ = data.train_test_split(X, y)
    model = nn.MLP(2, [4, 1])
    ag.fit(model, X_train, y_train, loss="bce", epochs=2, batch_size=4, progress=False)
    blobs = data.make_blobs(6), data.make_circles(6), data.make_xor(6)
    return X, X_train, model.state_dict(), nn.Linear(2, 2).state_dict(), blobs


def test_manual_seed_seeds_every_default_random_source() -> None:
    ag.manual_seed(123)
    first = seeded_run()
    ag.manual_seed(123)
    assert seeded_run() == first
    ag.manual_seed(124)
    second = seeded_run()
    for a, b in zip(first, second, strict=True):
        assert a != b
    with pytest.raises(TypeError, match="manual_seed takes an int"):
        ag.manual_seed("0")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="seed must be an int, a random"):
        data.make_moons(10, seed=True)


def test_seed_none_draws_from_the_global_generator_an_int_does_not() -> None:
    ag.manual_seed(0)
    a, b = nn.MLP(2, [3, 1]), nn.MLP(2, [3, 1])
    assert a.state_dict() != b.state_dict()  # successive models differ
    ag.manual_seed(0)
    assert nn.MLP(2, [3, 1]).state_dict() == a.state_dict()
    state = seeding._global.getstate()
    nn.MLP(2, [3, 1], seed=7)
    data.make_moons(10, seed=7)
    assert seeding._global.getstate() == state  # an explicit seed leaves the global alone


def test_the_package_has_one_default_for_seed() -> None:
    """Every public callable taking ``seed`` defaults it to None (the global generator)."""
    found = []
    for module in (nn, data, train, tabular):
        for name in getattr(module, "__all__", dir(module)):
            obj = getattr(module, name)
            if callable(obj) and getattr(obj, "__module__", "").startswith("autograd_lite"):
                function = obj.__init__ if inspect.isclass(obj) else obj
                parameter = inspect.signature(function).parameters.get("seed")
                if parameter is not None:
                    found.append(name)
                    assert parameter.default is None, f"{module.__name__}.{name}"
    assert {"MLP", "Layer", "Neuron", "Linear", "make_moons", "train_test_split", "fit",
            "prepare"} <= set(found)  # fmt: skip


# --------------------------------------------------------------------------- without torch


def test_without_torch_the_error_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # what an absent torch looks like
    with pytest.raises(ImportError, match="pip install torch"):
        ag.to_torch(nn.MLP(2, [3, 1], seed=0))
    with pytest.raises(ImportError, match="pip install torch"):
        ag.from_torch(object())
    ag.save(nn.MLP(2, [3, 1], seed=0), tmp_path / "model.json")
    with pytest.raises(SystemExit) as exit_:
        main(["export", str(tmp_path / "model.json"), "--to", str(tmp_path / "model.pt")])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("autograd-lite export: error: ")
    assert "pip install torch" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "model.pt").exists()


def test_export_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["export", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "--to" in out
    assert "PyTorch" in out
