"""ag.to_torch / ag.from_torch and `autograd-lite export`: the same outputs and parameter
gradients in both libraries, to 1e-12, on random inputs; a clear error without torch."""

from __future__ import annotations

import random
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from cli_runner import run

import autograd_lite as ag
from autograd_lite import Value, nn
from autograd_lite.cli import main
from autograd_lite.interop import _plan

try:
    import torch
except ImportError:  # the tests that need it are marked requires_torch
    torch = None


def models() -> dict[str, nn.Module]:
    return {
        "MLP relu": nn.MLP(3, [5, 4, 1], seed=0),
        "MLP tanh, 3 outputs": nn.MLP(3, [4, 3], activation="tanh", seed=1),
        "MLP sigmoid, linear hidden": nn.MLP(3, [2, 2], activation=None, seed=2),
        "Layer sigmoid": nn.Layer(3, 4, "sigmoid", seed=3),
        "Layer of 1": nn.Layer(3, 1, None, seed=4),
        "Neuron": nn.Neuron(3, "tanh", seed=5),
        "Linear": nn.Linear(3, 2, seed=6),
        "Linear without bias": nn.Linear(3, 2, bias=False, seed=7),
        "Sequential, nested": nn.Sequential(
            nn.Linear(3, 4, seed=8),
            nn.Tanh(),
            nn.Sequential(nn.MLP(4, [3, 3], seed=9), nn.Sigmoid()),
            nn.Layer(3, 2, "relu", seed=10),
            nn.ReLU(),
            nn.Linear(2, 1, seed=11),
        ),
    }


def outputs_and_gradients(
    model: nn.Module, rows: list[list[float]], weights: list[list[float]]
) -> tuple[list[list[float]], list[float]]:
    """Each row's outputs, and the gradient of Σ weights·outputs in every parameter, in the
    order PyTorch's module lists them."""
    model.zero_grad()
    outputs, total = [], Value(0.0)
    for row, coefficients in zip(rows, weights, strict=True):
        out = model(row)
        out = out if isinstance(out, list) else [out]
        outputs.append([o.data for o in out])
        for o, c in zip(out, coefficients, strict=True):
            total = total + c * o
    total.backward()
    grads = []
    for step in _plan(model):
        if not isinstance(step, str):
            weight, bias = step
            grads += [w.grad for row in weight for w in row]
            grads += [b.grad for b in bias or []]
    return outputs, grads


def torch_outputs_and_gradients(
    module: Any, rows: list[list[float]], weights: list[list[float]]
) -> tuple[list[list[float]], list[float]]:
    module.zero_grad()
    out = module(torch.tensor(rows, dtype=torch.float64))
    (out * torch.tensor(weights, dtype=torch.float64)).sum().backward()
    grads = [g for p in module.parameters() for g in p.grad.flatten().tolist()]
    return out.tolist(), grads


def random_batch(model: nn.Module, nin: int, seed: int) -> tuple[list[list[float]], list[Any]]:
    rng = random.Random(seed)
    rows = [[rng.gauss(0.0, 1.5) for _ in range(nin)] for _ in range(7)]
    first = model(rows[0])
    width = len(first) if isinstance(first, list) else 1
    return rows, [[rng.gauss(0.0, 1.0) for _ in range(width)] for _ in rows]


@pytest.mark.requires_torch
@pytest.mark.parametrize("name", sorted(models()))
def test_to_torch_gives_the_same_outputs_and_gradients(name: str) -> None:
    model = models()[name]
    module = ag.to_torch(model)
    assert isinstance(module, torch.nn.Sequential)
    assert all(p.dtype == torch.float64 for p in module.parameters())
    assert sum(p.numel() for p in module.parameters()) == len(model.parameters())
    for seed in range(3):
        rows, weights = random_batch(model, 3, seed)
        ours, our_grads = outputs_and_gradients(model, rows, weights)
        theirs, their_grads = torch_outputs_and_gradients(module, rows, weights)
        assert len(our_grads) == len(their_grads) == len(model.parameters())
        for a, b in zip(ours, theirs, strict=True):
            assert a == pytest.approx(b, rel=1e-12, abs=1e-12)
        assert our_grads == pytest.approx(their_grads, rel=1e-12, abs=1e-12)


@pytest.mark.requires_torch
def test_to_torch_maps_an_mlp_layer_by_layer() -> None:
    module = ag.to_torch(nn.MLP(2, [4, 4, 1], activation="tanh", seed=0))
    kinds = [type(layer).__name__ for layer in module]
    assert kinds == ["Linear", "Tanh", "Linear", "Tanh", "Linear"]
    assert [name for name, _ in module.named_parameters()][:2] == ["0.weight", "0.bias"]
    assert module[0].weight.shape == (4, 2)


@pytest.mark.requires_torch
def test_to_torch_copies_and_leaves_torch_random_state_alone() -> None:
    model = nn.Linear(2, 2, seed=0)
    state = torch.get_rng_state()
    module = ag.to_torch(model)
    assert torch.equal(torch.get_rng_state(), state)
    with torch.no_grad():
        module[0].weight.add_(1.0)
    assert model.weight[0][0].data == ag.to_torch(model)[0].weight[0, 0].item()


@pytest.mark.requires_torch
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_from_torch_gives_the_same_outputs_and_gradients(dtype: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    module = torch.nn.Sequential(
        torch.nn.Linear(3, 6),
        torch.nn.ReLU(),
        torch.nn.Sequential(torch.nn.Linear(6, 4, bias=False), torch.nn.Tanh()),
        torch.nn.Linear(4, 2),
        torch.nn.Sigmoid(),
    ).to(getattr(torch, dtype))
    model = ag.from_torch(module)
    assert isinstance(model, nn.Sequential)
    assert [type(m).__name__ for m in model] == [
        "Linear", "ReLU", "Linear", "Tanh", "Linear", "Sigmoid",
    ]  # fmt: skip
    reference = module.double()  # float32 weights are exact in float64
    rows, weights = random_batch(model, 3, seed=1)
    ours, our_grads = outputs_and_gradients(model, rows, weights)
    theirs, their_grads = torch_outputs_and_gradients(reference, rows, weights)
    for a, b in zip(ours, theirs, strict=True):
        assert a == pytest.approx(b, rel=1e-12, abs=1e-12)
    assert our_grads == pytest.approx(their_grads, rel=1e-12, abs=1e-12)
    ag.save(model, tmp_path / "from_torch.json")  # a model like any other
    assert ag.load(tmp_path / "from_torch.json").state_dict() == model.state_dict()


@pytest.mark.requires_torch
def test_round_trip_and_single_layers() -> None:
    model = nn.MLP(2, [3, 2], seed=0)
    back = ag.from_torch(ag.to_torch(model))
    assert [p.data for p in back.parameters()] == [p.data for p in _torch_order(model)]
    linear = ag.from_torch(torch.nn.Linear(2, 3, dtype=torch.float64))
    assert isinstance(linear, nn.Linear)
    assert isinstance(ag.from_torch(torch.nn.Tanh()), nn.Tanh)


def _torch_order(model: nn.Module) -> list[Value]:
    found = []
    for step in _plan(model):
        if not isinstance(step, str):
            found += [w for row in step[0] for w in row] + list(step[1] or [])
    return found


@pytest.mark.requires_torch
def test_other_modules_are_refused_by_name() -> None:
    class Doubler(nn.Module, name="tests.Doubler"):
        def __call__(self, x: Any) -> Any:
            return [2 * v for v in x]

    with pytest.raises(TypeError, match="not Doubler"):
        ag.to_torch(Doubler())
    with pytest.raises(TypeError, match="not Conv1d"):
        ag.from_torch(torch.nn.Sequential(torch.nn.Conv1d(1, 1, 2)))


@pytest.mark.requires_torch
def test_export_writes_a_torch_module(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = nn.MLP(2, [5, 1], activation="tanh", seed=0)
    ag.save(model, tmp_path / "model.json")
    target = tmp_path / "model.pt"
    code, out, _ = run(["export", str(tmp_path / "model.json"), "--to", str(target)], capsys)
    assert code == 0
    assert "torch.load" in out
    module = torch.load(target, weights_only=False)
    x = [0.3, -1.2]
    assert module(torch.tensor([x], dtype=torch.float64)).item() == pytest.approx(
        model(x).data, rel=1e-12
    )


@pytest.mark.requires_torch
def test_export_refuses_to_overwrite_its_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "model.json"
    ag.save(nn.MLP(2, [3, 1], seed=0), path)
    before = path.read_bytes()
    code, _, err = run(["export", str(path), "--to", str(path)], capsys)
    assert code == 2
    assert "--to" in err
    assert "is the input file" in err
    assert path.read_bytes() == before
    code, _, err = run(["export", str(tmp_path / "missing.json"), "--to", "x.pt"], capsys)
    assert code == 2
    assert err.startswith("autograd-lite export: error:")


def train_and_export(
    table: str, epochs: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> str:
    """Train on the CSV text ``table`` (target ``y``) and export the model: what export says."""
    csv, model = tmp_path / "table.csv", tmp_path / "model.json"
    csv.write_text(table)
    train = ["train", str(csv), "--target", "y", "--epochs", str(epochs), "--out", str(model)]
    assert run([*train, "--quiet"], capsys)[0] == 0
    code, out, _ = run(["export", str(model), "--to", str(tmp_path / "model.pt")], capsys)
    assert code == 0
    return out


@pytest.mark.requires_torch
def test_export_of_a_trained_table_says_how_inputs_are_scaled(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = random.Random(0)
    rows = [(rng.uniform(0, 9), rng.uniform(0, 9)) for _ in range(30)]
    table = "a,b,y\n" + "".join(f"{a},{b},{a + 2 * b}\n" for a, b in rows)
    out = train_and_export(table, 2, tmp_path, capsys)
    assert "features a, b standardized" in out
    assert "target standardized" in out


@pytest.mark.requires_torch
def test_the_readme_to_pytorch_example_runs() -> None:
    """README.md shows it as text (its examples run without torch); it runs here."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    blocks = re.findall(r"^```text\n(.*?)^```", readme, re.MULTILINE | re.DOTALL)
    (example,) = [block for block in blocks if "ag.to_torch(" in block]
    namespace: dict[str, Any] = {}
    exec(compile(example, "README.md", "exec"), namespace)  # noqa: S102
    assert isinstance(namespace["back"], nn.Sequential)


@pytest.mark.requires_torch
def test_from_torch_carries_each_modules_training_flag() -> None:
    module = torch.nn.Sequential(
        torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Dropout(0.5), torch.nn.Linear(3, 1)
    ).eval()
    model = ag.from_torch(module)
    assert [m.training for m in model.modules()] == [False] * 5
    x = [1.0, -2.0]
    first = model(x)
    assert isinstance(first, Value)
    assert first.data == model(x).data  # no dropout mask drawn
    expected = module(torch.tensor([x])).item()
    assert first.data == pytest.approx(expected, rel=1e-6)
    mixed = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.5))
    mixed[1].eval()  # eval on one layer only, as torch allows
    assert [m.training for m in ag.from_torch(mixed).modules()] == [True, True, False]
    assert ag.from_torch(torch.nn.Dropout(0.2).eval()).training is False
    assert ag.from_torch(torch.nn.Dropout(0.2)).training is True


@pytest.mark.requires_torch
def test_export_of_a_classifier_with_numbered_labels_says_what_its_outputs_are(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = "a,y\n" + "".join(f"{i},{[3, 7, 11][i % 3]}\n" for i in range(12))
    out = train_and_export(table, 1, tmp_path, capsys)
    assert "classes[i]" in out
    assert "target standardized" not in out  # a classifier's outputs are class scores


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


@pytest.mark.requires_torch
def test_dropout_goes_to_and_from_pytorch() -> None:
    model = nn.MLP(2, [4, 4, 1], seed=0, dropout=0.3)
    module = ag.to_torch(model)
    assert [type(m).__name__ for m in module] == [
        "Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout", "Linear"
    ]  # fmt: skip
    assert module.training
    assert not ag.to_torch(model.eval()).training
    back = ag.from_torch(module)
    assert isinstance(back, nn.Sequential)
    assert isinstance(back[2], nn.Dropout)
    back.eval()
    assert back([0.1, 0.2]).data == pytest.approx(model([0.1, 0.2]).data, rel=1e-12)
    with torch.no_grad():
        module.eval()
        expected = module(torch.tensor([0.1, 0.2], dtype=torch.float64)).item()
    assert model([0.1, 0.2]).data == pytest.approx(expected, rel=1e-12)
