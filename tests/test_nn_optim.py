"""nn modules, losses and optimizers; PyTorch as the oracle where installed."""

from __future__ import annotations

import math

import pytest

from autograd_lite import Value, losses, optim
from autograd_lite.data import make_moons
from autograd_lite.nn import MLP, Layer, Neuron


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


def test_losses_on_simple_values() -> None:
    assert losses.mse_loss([Value(1.0), Value(3.0)], [0.0, 1.0]).data == 2.5
    assert losses.hinge_loss(Value(0.5), -1.0).data == 1.5
    big = losses.binary_cross_entropy_with_logits([Value(1000.0), Value(-1000.0)], [0.0, 1.0])
    assert big.data == 1000.0
    assert [round(p.data, 12) for p in losses.softmax([Value(1000.0), Value(-1000.0)])] == [
        1.0,
        0.0,
    ]
    with pytest.raises(ValueError, match="predictions"):
        losses.mse_loss([Value(1.0)], [1.0, 2.0])
    with pytest.raises(ValueError, match="class index"):
        losses.cross_entropy([1.0, 2.0], 2)


def test_cross_entropy_takes_a_batch_of_score_lists() -> None:
    batch = [[Value(0.3), Value(-2.0), Value(1.5)], [Value(1.0), Value(1.0), Value(-1.0)]]
    mean = losses.cross_entropy(batch, [2, 0])
    one_by_one = [losses.cross_entropy(scores, t).data for scores, t in zip(batch, [2, 0])]
    assert mean.data == pytest.approx(sum(one_by_one) / 2, rel=1e-15)
    assert losses.cross_entropy(batch, [2.0, 0.0]).data == mean.data  # fit's float labels
    with pytest.raises(ValueError, match="2 predictions but 1 targets"):
        losses.cross_entropy(batch, [2])
    with pytest.raises(ValueError, match="class index"):
        losses.cross_entropy(batch, [2, 0.5])
    with pytest.raises(ValueError, match="at least one"):
        losses.cross_entropy([], [])


def test_the_loss_registry_and_the_rule_that_picks_a_loss() -> None:
    assert sorted(losses.OBJECTIVES) == ["bce", "cross_entropy", "hinge", "mse"]
    for name, objective in losses.OBJECTIVES.items():
        assert isinstance(objective, losses.Objective), name
        assert (objective.decide is None) == (name == "mse")  # only regression has no accuracy
    assert losses.OBJECTIVES["cross_entropy"].outputs([0.0, 2.0, 1.0]) == 3
    assert losses.OBJECTIVES["bce"].outputs([0.0, 1.0]) == 1
    assert losses.choose_loss([0.0, 1.0, 1.0]) == "bce"
    assert losses.choose_loss([0.0, 1.0, 2.0]) == "cross_entropy"
    assert losses.choose_loss([float(k) for k in range(losses.MAX_CLASSES)]) == "cross_entropy"
    assert losses.choose_loss([float(k) for k in range(losses.MAX_CLASSES + 1)]) == "mse"
    assert losses.choose_loss([0.0, 1.5]) == "mse"
    assert losses.choose_loss([-1.0, 1.0]) == "mse"
    assert losses.choose_loss([0.0, math.inf]) == "mse"


def test_optimizer_state_round_trip_continues_identically() -> None:
    def run(restore: bool) -> list[float]:
        params = [Value(0.5), Value(-0.5)]
        opt = optim.Adam(params, lr=0.1)
        for step in range(6):
            if restore and step == 3:
                saved = opt.state_dict()
                opt = optim.Adam(params, lr=0.1)
                opt.load_state_dict(saved)
            for p in params:
                p.grad = p.data * 2
            opt.step()
        return [p.data for p in params]

    assert run(restore=True) == run(restore=False)
    with pytest.raises(ValueError, match="not SGD"):
        optim.SGD([Value(1.0)], lr=0.1).load_state_dict(optim.Adam([Value(1.0)]).state_dict())
    with pytest.raises(ValueError, match="empty"):
        optim.SGD([], lr=0.1)
