"""The nn modules: MLP/Layer/Neuron, PyTorch-shaped Linear, Sequential and activations,
dropout, initialisation schemes, gradient clipping (PyTorch as the oracle, marked
requires_torch), width-1 outputs and their typing."""

from __future__ import annotations

import math
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import autograd_lite as ag
from autograd_lite import Value, data, losses, nn, train
from autograd_lite.data import make_moons
from autograd_lite.nn import MLP, Layer, Neuron

try:
    import torch
except ImportError:  # the tests that need it are marked requires_torch
    torch = None

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


# ------------------------------------------------------------------ dropout, init, clipping


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


@pytest.mark.requires_torch
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_pytorch(norm_type: float, max_norm: float) -> None:
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


@pytest.mark.requires_torch
@pytest.mark.parametrize("grads", _CLIP_GRADIENTS)
@pytest.mark.parametrize("norm_type", [2.0, 1, 3.0, 0.5, 0.0, math.inf, -math.inf, -1.0, -2.0])
def test_clip_grad_norm_matches_pytorch_at_every_order_and_extreme(
    norm_type: float, grads: list[float]
) -> None:
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


@pytest.mark.requires_torch
def test_dropout_matches_pytorch_semantics() -> None:
    torch.manual_seed(0)
    theirs = torch.nn.Dropout(0.4)
    x = torch.arange(1.0, 2001.0, dtype=torch.float64)
    kept_theirs = {round(r, 12) for r in (theirs(x) / x).tolist()}
    ours = [v.data / (i + 1) for i, v in enumerate(nn.Dropout(0.4, seed=0)(x.tolist()))]
    assert {round(r, 12) for r in ours} == kept_theirs == {0.0, round(1 / 0.6, 12)}
    assert torch.equal(theirs.eval()(x), x)
    assert [v.data for v in nn.Dropout(0.4).eval()(x.tolist())] == x.tolist()


# ------------------------------------------------------------------------- MLP, Layer, Neuron


def test_mlp_shapes_parameter_counts_and_names() -> None:
    model = MLP(2, [16, 16, 1], seed=0)
    assert len(model.parameters()) == 337  # micrograd's demo network
    names = [name for name, _ in model.named_parameters()]
    assert names[:3] == ["layers.0.neurons.0.w.0", "layers.0.neurons.0.w.1", "layers.0.neurons.0.b"]
    assert names[-1] == "layers.2.neurons.0.b"
    assert isinstance(model([0.5, -0.5]), Value)
    assert isinstance(MLP(2, [3, 2], seed=0)([0.5, Value(1.0)]), list)
    assert isinstance(MLP(2, [16, 1, 1], seed=0)([0.5, -0.5]), Value)
    assert isinstance(Layer(3, 1, seed=0)([1.0, 2.0, 3.0]), Value)  # width 1: one Value
    assert isinstance(Layer(3, 2, seed=0)([1.0, 2.0, 3.0]), list)
    assert model.layers[-1].neurons[0].activation == "linear"


def test_seeds_reproduce_exactly_and_init_is_scaled_by_fan_in() -> None:
    assert MLP(3, [4, 1], seed=7).state_dict() == MLP(3, [4, 1], seed=7).state_dict()
    assert MLP(3, [4, 1], seed=7).state_dict() != MLP(3, [4, 1], seed=8).state_dict()
    wide = Neuron(400, seed=0)
    assert max(abs(w.data) for w in wide.w) <= 1 / math.sqrt(400)


def test_bad_construction_and_inputs() -> None:
    with pytest.raises(ValueError, match="activation"):
        Neuron(2, activation="swish")
    with pytest.raises(ValueError, match="expected 2 inputs"):
        MLP(2, [1], seed=0)([1.0])
    with pytest.raises(ValueError, match="nin"):
        Neuron(0)


def test_state_dict_round_trip_and_validation_leave_model_untouched_on_error() -> None:
    model, other = MLP(2, [3, 1], seed=1), MLP(2, [3, 1], seed=2)
    assert other.load_state_dict(model.state_dict()) == ([], [])
    assert other.state_dict() == model.state_dict()
    before = other.state_dict()
    broken = {**model.state_dict(), "layers.0.neurons.0.b": "x"}
    with pytest.raises(ValueError, match="finite number"):
        other.load_state_dict(broken)  # type: ignore[arg-type]
    partial = dict(list(model.state_dict().items())[:3])
    with pytest.raises(KeyError, match="missing"):
        other.load_state_dict({**partial, "extra": 1.0})
    assert other.state_dict() == before
    missing, unexpected = other.load_state_dict({**partial, "extra": 1.0}, strict=False)
    assert (len(missing), unexpected) == (len(before) - 3, ["extra"])


def test_zero_grad_and_train_eval() -> None:
    model = MLP(2, [3, 1], seed=0)
    model([1.0, 2.0]).backward()  # type: ignore[union-attr]
    assert any(p.grad != 0 for p in model.parameters())
    model.zero_grad()
    assert all(p.grad == 0 for p in model.parameters())
    assert not model.eval().layers[0].training
    assert model.train().layers[0].neurons[0].training


def test_micrograd_demo_reproduced() -> None:
    X, y01 = make_moons(100, noise=0.1, seed=1)
    y = [2 * v - 1 for v in y01]
    model = MLP(2, [16, 16, 1], seed=1337)
    params = model.parameters()
    for k in range(100):
        scores = [model(x) for x in X]
        loss = losses.hinge_loss(scores, y) + 1e-4 * sum(p * p for p in params)
        model.zero_grad()
        loss.backward()
        for p in params:
            p.data -= (1.0 - 0.9 * k / 100) * p.grad
    accuracy = sum((model(x).data > 0) == (t > 0) for x, t in zip(X, y, strict=True)) / len(y)  # type: ignore[union-attr]
    assert accuracy >= 0.99
