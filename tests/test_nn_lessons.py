"""Dropout, initialisation schemes and gradient clipping (issue 13), PyTorch as the oracle."""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import pytest

import autograd_lite as ag
from autograd_lite import Value, nn


def test_dropout_zeroes_with_probability_p_and_scales_survivors() -> None:
    drop = nn.Dropout(0.25, seed=0)
    out = drop([1.0] * 4000)
    kept = [v.data for v in out if v.data != 0.0]
    assert set(kept) == {1.0 / 0.75}
    assert abs(1 - len(kept) / 4000 - 0.25) < 0.03
    assert [v.data for v in drop.eval()([1.0, 2.0])] == [1.0, 2.0]


def test_dropout_gradient_is_the_mask_over_one_minus_p() -> None:
    x = [Value(float(i + 1)) for i in range(20)]
    out = nn.Dropout(0.5, seed=3)(list(x))
    sum(out[1:], out[0]).backward()
    for xi, oi in zip(x, out, strict=True):
        assert xi.grad == (2.0 if oi.data else 0.0)
        assert oi.data == xi.data * xi.grad


def test_dropout_eval_is_identity_and_edges() -> None:
    drop = nn.Dropout(0.9, seed=0)
    drop.eval()
    x = Value(3.0)
    assert drop(x) is x
    assert [v.data for v in nn.Dropout(1.0, seed=0)([1.0, 2.0])] == [0.0, 0.0]
    assert [v.data for v in nn.Dropout(0.0, seed=0)([1.0, 2.0])] == [1.0, 2.0]
    assert isinstance(nn.Dropout(0.5, seed=0)(2.0), Value)
    for bad in (-0.1, 1.5, "0.5", True):
        with pytest.raises(ValueError, match="dropout probability"):
            nn.Dropout(bad)  # type: ignore[arg-type]


def test_dropout_follows_the_seed_rule() -> None:
    def masks(drop: nn.Dropout) -> list[float]:
        return [v.data for v in drop([1.0] * 30)]

    assert masks(nn.Dropout(0.5, seed=7)) == masks(nn.Dropout(0.5, seed=7))
    ag.manual_seed(4)
    first = masks(nn.Dropout(0.5))
    ag.manual_seed(4)
    assert masks(nn.Dropout(0.5)) == first


def test_mlp_dropout_after_each_hidden_activation(tmp_path: Path) -> None:
    plain = nn.MLP(2, [6, 6, 1], seed=0)
    model = nn.MLP(2, [6, 6, 1], seed=0, dropout=0.5)
    assert model.state_dict() == plain.state_dict()  # same weights with or without dropout
    assert len(model.dropouts) == 2
    assert {model([0.3, -0.4]).data for _ in range(20)} != {plain([0.3, -0.4]).data}
    model.eval()
    assert model([0.3, -0.4]).data == plain([0.3, -0.4]).data
    assert model.config() == {"nin": 2, "nouts": [6, 6, 1], "activation": "relu", "dropout": 0.5}
    ag.save(model, tmp_path / "m.json")
    loaded = ag.load(tmp_path / "m.json")
    assert isinstance(loaded, nn.MLP)
    assert loaded.dropout == 0.5
    assert loaded.state_dict() == model.state_dict()


def test_dropout_in_sequential_saves_and_loads(tmp_path: Path) -> None:
    model = nn.Sequential(nn.Linear(2, 4, seed=0), nn.ReLU(), nn.Dropout(0.3), nn.Linear(4, 1))
    ag.save(model, tmp_path / "s.json")
    loaded = ag.load(tmp_path / "s.json")
    assert isinstance(loaded, nn.Sequential)
    assert isinstance(loaded[2], nn.Dropout)
    assert loaded[2].p == 0.3
    assert [name for name, _ in model.named_children()] == ["0", "1", "2", "3"]


def test_dropout_refuses_to_be_traced_in_training_mode_only() -> None:
    model = nn.Sequential(nn.Linear(2, 1, seed=0), nn.Dropout(0.5, seed=0))
    f = ag.compile(lambda x: model(x))
    with pytest.raises(ag.TraceError, match="Dropout"):
        f([1.0, 2.0])
    model.eval()
    g = ag.compile(lambda x: model(x))
    assert g([1.0, 2.0]) == pytest.approx(model([1.0, 2.0]).data)


@pytest.mark.parametrize(
    ("init", "variance"),
    [
        ("pytorch", lambda i, o: 1 / (3 * i)),
        ("uniform", lambda i, o: 1 / 3),
        ("xavier", lambda i, o: 2 / (i + o)),
        ("xavier_normal", lambda i, o: 2 / (i + o)),
        ("he", lambda i, o: 2 / i),
        ("he_normal", lambda i, o: 2 / i),
    ],
)
def test_init_schemes_keep_their_variance(init: str, variance: object) -> None:
    fan_in, fan_out = 50, 40
    for layer in (
        nn.Layer(fan_in, fan_out, seed=0, init=init),
        nn.MLP(fan_in, [fan_out, 1], seed=0, init=init).layers[0],
    ):
        weights = [w.data for n in layer.neurons for w in n.w]
        expected = variance(fan_in, fan_out)  # type: ignore[operator]
        assert statistics.pvariance(weights, mu=0.0) == pytest.approx(expected, rel=0.1)
    linear = nn.Linear(fan_in, fan_out, init=init, seed=0)
    weights = [w.data for row in linear.weight for w in row]
    assert statistics.pvariance(weights, mu=0.0) == pytest.approx(expected, rel=0.1)
    bias_bound = 1 / math.sqrt(fan_in)
    assert all(abs(b.data) <= bias_bound for b in linear.bias or [])


def test_default_init_is_unchanged_and_configs_keep_their_format() -> None:
    assert nn.DEFAULT_INIT == "pytorch"
    assert (
        nn.MLP(3, [2, 1], seed=5).state_dict()
        == nn.MLP(3, [2, 1], seed=5, init="pytorch").state_dict()
    )
    assert "init" not in nn.Neuron(2, seed=0).config()
    assert nn.Neuron(2, seed=0, init="he").config()["init"] == "he"
    assert nn.Layer.from_config(nn.Layer(2, 3, init="xavier", seed=0).config()).neurons[0].init == (
        "xavier"
    )
    with pytest.raises(ValueError, match="unknown init"):
        nn.MLP(2, [1], init="glorot")
    with pytest.raises(ValueError, match="unknown init"):
        nn.MLP.parameter_count({"nin": 2, "nouts": [1], "init": "glorot"})


def test_clip_grad_norm_scales_in_place_and_returns_the_norm() -> None:
    params = [Value(0.0) for _ in range(3)]
    for p, g in zip(params, [3.0, 4.0, 12.0], strict=True):
        p.grad = g
    assert nn.clip_grad_norm_(params, 26.0) == 13.0
    assert [p.grad for p in params] == [3.0, 4.0, 12.0]  # under the limit: untouched
    assert nn.clip_grad_norm_(params, 1.0) == 13.0
    assert math.hypot(*(p.grad for p in params)) == pytest.approx(1.0, abs=1e-6)
    assert nn.clip_grad_norm_([], 1.0) == 0.0
    with pytest.raises(ValueError, match="max_norm"):
        nn.clip_grad_norm_(params, -1.0)
    params[0].grad = math.inf
    with pytest.raises(RuntimeError, match="norm"):
        nn.clip_grad_norm_(params, 1.0, error_if_nonfinite=True)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_pytorch(norm_type: float, max_norm: float) -> None:
    torch = pytest.importorskip("torch", reason="PyTorch is the oracle for clip_grad_norm_")
    grads = [0.3, -1.7, 2.2, 0.0, -0.05]
    ours = [Value(0.0) for _ in grads]
    theirs = [torch.zeros((), dtype=torch.float64, requires_grad=True) for _ in grads]
    for p, t, g in zip(ours, theirs, grads, strict=True):
        p.grad = g
        t.grad = torch.tensor(g, dtype=torch.float64)
    total = nn.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert total == pytest.approx(float(expected), rel=1e-12)
    for p, t in zip(ours, theirs, strict=True):
        assert p.grad == pytest.approx(float(t.grad), rel=1e-12, abs=1e-15)


_CLIP_GRADIENTS = [
    [0.3, -1.7, 2.2, 0.0, -0.05],
    [1e200, 1.0],
    [1e300, 1e300],
    [1e-200, 1e-200],
    [math.nan, 1.0],
    [1.0, math.nan],
    [math.inf, 1.0],
    [0.0, 0.0],
    [0.0, -2.5],
]


@pytest.mark.parametrize("grads", _CLIP_GRADIENTS)
@pytest.mark.parametrize("norm_type", [2.0, 1, 3.0, 0.5, 0.0, math.inf, -math.inf, -1.0, -2.0])
def test_clip_grad_norm_matches_pytorch_at_every_order_and_extreme(
    norm_type: float, grads: list[float]
) -> None:
    torch = pytest.importorskip("torch", reason="PyTorch is the oracle for clip_grad_norm_")
    ours = [Value(0.0) for _ in grads]
    theirs = [torch.zeros((), dtype=torch.float64, requires_grad=True) for _ in grads]
    for p, t, g in zip(ours, theirs, grads, strict=True):
        p.grad = g
        t.grad = torch.tensor(g, dtype=torch.float64)
    total = nn.clip_grad_norm_(ours, 1.0, norm_type=norm_type)
    expected = float(torch.nn.utils.clip_grad_norm_(theirs, 1.0, norm_type=norm_type))
    assert total == pytest.approx(expected, rel=1e-12, nan_ok=True)
    for p, t in zip(ours, theirs, strict=True):
        assert p.grad == pytest.approx(float(t.grad), rel=1e-12, abs=1e-15, nan_ok=True)


def test_clip_grad_norm_special_orders_and_overflow() -> None:
    params = [Value(0.0) for _ in range(4)]
    for p, g in zip(params, [0.5, -3.0, 0.0, 2.0], strict=True):
        p.grad = g
    assert nn.clip_grad_norm_(params, 100.0, norm_type=-math.inf) == 0.0  # smallest |g|
    assert nn.clip_grad_norm_(params, 100.0, norm_type=0) == 3.0  # how many are not zero
    assert nn.clip_grad_norm_(params, 100.0, norm_type="inf") == 3.0  # type: ignore[arg-type]
    params[0].grad = 1e200
    assert nn.clip_grad_norm_(params, 1.0) == math.inf  # the square overflows, as in PyTorch
    assert params[0].grad == 0.0
    params[0].grad = 1e200
    with pytest.raises(RuntimeError, match="norm"):
        nn.clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
    assert params[0].grad == 1e200  # refused before touching anything
    with pytest.raises(ValueError, match="norm_type"):
        nn.clip_grad_norm_(params, 1.0, norm_type=math.nan)


def test_dropout_matches_pytorch_semantics() -> None:
    torch = pytest.importorskip("torch", reason="PyTorch is the oracle for Dropout")
    torch.manual_seed(0)
    theirs = torch.nn.Dropout(0.4)
    x = torch.arange(1.0, 2001.0, dtype=torch.float64)
    kept_theirs = {round(r, 12) for r in (theirs(x) / x).tolist()}
    ours = [v.data / (i + 1) for i, v in enumerate(nn.Dropout(0.4, seed=0)(x.tolist()))]
    assert {round(r, 12) for r in ours} == kept_theirs == {0.0, round(1 / 0.6, 12)}
    assert torch.equal(theirs.eval()(x), x)
    assert [v.data for v in nn.Dropout(0.4).eval()(x.tolist())] == x.tolist()


def test_dropout_goes_to_and_from_pytorch() -> None:
    torch = pytest.importorskip("torch", reason="to_torch needs PyTorch")
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
