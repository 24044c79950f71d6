"""Compiled training in arrays (the grouped program, the optimizer's packed step) against eager
training: the same history, weights, optimizer state and gradients, to 1e-9."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

import pytest

import autograd_lite as ag
from autograd_lite import nn, optim
from autograd_lite.optim import lr_scheduler

np = pytest.importorskip("numpy")

TOLERANCE = 1e-9
Model = Callable[[], nn.Module]
MakeOptimizer = Callable[[nn.Module], optim.Optimizer]


def blobs(
    rows: int, width: int, classes: int, seed: int = 0
) -> tuple[list[list[float]], list[float]]:
    """Small separable-ish data: a centre per class, noise around it."""
    rng = random.Random(seed)
    centres = [[rng.uniform(-2, 2) for _ in range(width)] for _ in range(classes)]
    X, y = [], []
    for i in range(rows):
        label = i % classes
        X.append([c + rng.gauss(0, 0.7) for c in centres[label]])
        y.append(float(label))
    return X, y


def targets_for(loss: str, labels: list[float]) -> list[float]:
    if loss == "mse":
        return [0.5 * t - 0.25 for t in labels]
    if loss == "hinge":
        return [1.0 if t % 2 else -1.0 for t in labels]
    if loss == "bce":
        return [float(t % 2) for t in labels]
    return labels


def run(
    compile: bool,
    make_model: Model,
    X: list[list[float]],
    y: list[float],
    make_optimizer: MakeOptimizer | None = None,
    scheduler: Callable[[optim.Optimizer], Any] | None = None,
    callbacks: Callable[[nn.Module, optim.Optimizer], list[Any]] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Train a fresh model once; everything user code can see afterwards."""
    model = make_model()
    optimizer = (make_optimizer or (lambda m: optim.Adam(m.parameters(), lr=0.05)))(model)
    history = ag.fit(
        model,
        X,
        y,
        optimizer=optimizer,
        epochs=options.pop("epochs", 4),
        seed=0,
        progress=False,
        compile=compile,
        scheduler=scheduler(optimizer) if scheduler else None,
        callbacks=callbacks(model, optimizer) if callbacks else None,
        **options,
    )
    return {
        "history": history,
        "weights": [p.data for p in model.parameters()],
        "grads": [p.grad for p in model.parameters()],
        "state": optimizer.state_dict(),
        "lr": [group["lr"] for group in optimizer.param_groups],
    }


def assert_close(a: Any, b: Any, where: str = "") -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_close(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (u, v) in enumerate(zip(a, b, strict=True)):
            assert_close(u, v, f"{where}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert a == pytest.approx(b, rel=TOLERANCE, abs=TOLERANCE, nan_ok=True), where
    else:
        assert a == b, where


def assert_same_training(compiled: dict[str, Any], eager: dict[str, Any]) -> None:
    """The grouped run ran in arrays, and everything agrees with the eager run."""
    ours, theirs = compiled["history"], eager["history"]
    assert ours.program_source is not None
    assert " @ " in ours.program_source
    assert theirs.program_source is None
    for series in ("loss", "accuracy", "val_loss", "val_accuracy", "gradient_norms"):
        assert_close(getattr(ours, series), getattr(theirs, series), series)
    for name in ("best_epoch", "stopped_by", "epochs"):
        assert getattr(ours, name) == getattr(theirs, name), name
    for key in ("weights", "grads", "state", "lr"):
        assert_close(compiled[key], eager[key], key)


def pair(*args: Any, **options: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The same training run compiled and eagerly: (compiled, eager)."""
    return run(True, *args, **dict(options)), run(False, *args, **dict(options))


def both(*args: Any, **options: Any) -> None:
    assert_same_training(*pair(*args, **options))


OPTIMIZERS: dict[str, MakeOptimizer] = {
    "sgd": lambda m: optim.SGD(m.parameters(), lr=0.1),
    "sgd_momentum": lambda m: optim.SGD(m.parameters(), lr=0.1, momentum=0.9),
    "sgd_nesterov_decay": lambda m: optim.SGD(
        m.parameters(), lr=0.1, momentum=0.8, nesterov=True, weight_decay=0.01
    ),
    "adam": lambda m: optim.Adam(m.parameters(), lr=0.03),
    "adamw_amsgrad": lambda m: optim.AdamW(m.parameters(), lr=0.03, amsgrad=True),
    "rmsprop_centered_momentum": lambda m: optim.RMSprop(
        m.parameters(), lr=0.01, centered=True, momentum=0.5, weight_decay=0.001
    ),
    "groups": lambda m: optim.Adam(
        [
            {"params": m.parameters()[:7], "lr": 0.01, "betas": (0.8, 0.99)},
            {"params": m.parameters()[7:], "weight_decay": 0.1},
        ],
        lr=0.05,
    ),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimizer_trains_in_arrays_as_eagerly(name: str) -> None:
    X, y = blobs(30, 3, 3)
    both(
        lambda: nn.MLP(3, [5, 3], seed=1),
        X,
        y,
        OPTIMIZERS[name],
        loss="cross_entropy",
        batch_size=7,
        validation=(X[:9], y[:9]),
    )


def test_a_scheduler_changes_the_rate_the_arrays_step_with() -> None:
    X, y = blobs(24, 2, 2)
    both(
        lambda: nn.MLP(2, [4, 1], seed=2),
        X,
        y,
        lambda m: optim.SGD(m.parameters(), lr=0.3, momentum=0.5),
        loss="bce",
        scheduler=lambda o: lr_scheduler.StepLR(o, step_size=1, gamma=0.5),
        batch_size=5,
    )


@pytest.mark.parametrize(
    ("activation", "hidden", "outputs", "loss"),
    [
        ("relu", [6], 1, "bce"),
        ("tanh", [5, 4], 3, "cross_entropy"),
        ("sigmoid", [4, 4, 3], 10, "cross_entropy"),
        ("linear", [3, 5], 1, "mse"),
        ("tanh", [6], 1, "hinge"),
        ("relu", [5, 3, 4], 1, "mse"),
        ("relu", [5, 3], 2, "cross_entropy"),
    ],
)
def test_activations_depths_and_widths(
    activation: str, hidden: list[int], outputs: int, loss: str
) -> None:
    X, labels = blobs(31, 3, max(outputs, 2))
    y = targets_for(loss, labels)
    both(
        lambda: nn.MLP(3, [*hidden, outputs], activation=activation, seed=3),
        X,
        y,
        loss=loss,
        batch_size=8,
        validation=(X[:6], y[:6]),
    )


@pytest.mark.parametrize("batch_size", [1, 9, None])
def test_batch_sizes_one_odd_and_full(batch_size: int | None) -> None:
    X, y = blobs(20, 2, 3)
    both(
        lambda: nn.MLP(2, [4, 3], seed=4),
        X,
        y,
        loss="cross_entropy",
        batch_size=batch_size,
        epochs=3,
    )


def test_clipping_and_gradient_norms() -> None:
    X, y = blobs(30, 3, 4)
    both(
        lambda: nn.MLP(3, [6, 5, 4], seed=5),
        X,
        y,
        loss="cross_entropy",
        batch_size=6,
        clip_grad_norm=0.05,
        track_gradients=True,
    )


def test_early_stopping_restores_the_best_weights() -> None:
    X, y = blobs(30, 2, 2, seed=7)
    X_val, y_val = blobs(12, 2, 2, seed=8)
    make = lambda m: optim.SGD(m.parameters(), lr=2.0, momentum=0.9)
    compiled, eager = pair(
        lambda: nn.MLP(2, [8, 1], seed=6),
        X,
        y,
        make,
        loss="bce",
        validation=(X_val, y_val),
        early_stopping=2,
        epochs=30,
        batch_size=4,
    )
    assert_same_training(compiled, eager)
    history = compiled["history"]
    assert history.stopped_by == "early_stopping"
    assert history.best_epoch < history.epochs


def editing_callbacks(model: nn.Module, optimizer: optim.Optimizer) -> list[Any]:
    """A callback that reads the live weights, state and grads, then edits a weight and the lr."""
    seen: list[Any] = []

    def edit(epoch: int, numbers: dict[str, float]) -> None:
        first = model.parameters()[0]
        seen.append((first.data, first.grad, len(optimizer.state)))
        assert math.isfinite(first.grad)
        assert optimizer.state
        if epoch == 2:
            first.data = 0.25
            optimizer.lr = optimizer.lr * 0.5

    return [edit, lambda epoch, numbers: epoch < 4]


def test_callbacks_see_and_edit_weights_and_rates() -> None:
    X, y = blobs(26, 2, 3)
    both(
        lambda: nn.MLP(2, [5, 3], seed=9),
        X,
        y,
        loss="cross_entropy",
        batch_size=5,
        callbacks=editing_callbacks,
        epochs=6,
    )


class SharedWeight(nn.Module):
    """A layer written by hand: every hidden unit reads x through its own weights, and one
    weight is used twice (tied), so part of the graph cannot group."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(seed)
        self.w = [[ag.Value(rng.uniform(-1, 1)) for _ in range(3)] for _ in range(4)]
        self.b = [ag.Value(0.0) for _ in range(4)]
        self.tied = ag.Value(0.3)
        self.out = [ag.Value(rng.uniform(-1, 1)) for _ in range(4)]

    def __call__(self, x: list[Any]) -> Any:
        hidden = [
            (sum((wi * xi for wi, xi in zip(w, x, strict=True)), b) + self.tied * x[0]).tanh()
            for w, b in zip(self.w, self.b, strict=True)
        ]
        return sum((o * h for o, h in zip(self.out, hidden, strict=True)), self.tied)

    def parameters(self) -> list[ag.Value]:
        return [v for row in self.w for v in row] + self.b + [self.tied] + self.out


def test_a_hand_written_layer_with_a_shared_weight() -> None:
    X, labels = blobs(25, 3, 2)
    both(lambda: SharedWeight(seed=10), X, targets_for("mse", labels), loss="mse", batch_size=6)


def runner_of(model: nn.Module, loss: str) -> Any:
    from autograd_lite import _compiled_loss
    from autograd_lite.losses import get_objective

    return _compiled_loss._cache_of(model)[get_objective(loss)]


def test_ten_classes_compile_one_program() -> None:
    X, y = blobs(40, 4, 10)
    model = nn.MLP(4, [6, 10], seed=11)
    history = ag.fit(
        model,
        X,
        y,
        loss="cross_entropy",
        epochs=2,
        progress=False,
        compile=True,
        validation=(X[:10], y[:10]),
    )
    runner = runner_of(model, "cross_entropy")
    training = [p for (mode, _), p in runner.grouped.items() if mode and p is not None]
    assert len(training) == 1
    assert training[0].classes == tuple(float(c) for c in range(10))
    assert runner.scalar.programs == {}  # no program per label
    assert history.program_source == training[0].source
    assert "d_W0 = d_z0.T @ x" in history.program_source


def test_dropout_trains_eagerly_and_scores_grouped() -> None:
    X, y = blobs(20, 2, 2)
    model = nn.MLP(2, [4, 1], dropout=0.3, seed=12)
    with pytest.warns(UserWarning, match="trains eagerly"):
        history = ag.fit(
            model, X, y, loss="bce", epochs=2, progress=False, validation=(X[:8], y[:8])
        )
    assert history.program_source is None
    assert runner_of(model, "bce").grouped_program(False) is not None


class OwnSGD(optim.SGD):
    """An optimizer of one's own: its own step on the Values, no packed rule."""

    def _step_group(self, group: Any) -> None:
        for p in group["params"]:
            p.data -= group["lr"] * p.grad


def test_an_optimizer_of_ones_own_steps_on_the_values() -> None:
    X, y = blobs(20, 2, 3)
    make = lambda m: OwnSGD(m.parameters(), lr=0.1)
    compiled, eager = pair(lambda: nn.MLP(2, [4, 3], seed=13), X, y, make, loss="cross_entropy")
    assert compiled["history"].program_source is None  # not in arrays
    assert_close(compiled["history"].loss, eager["history"].loss)
    assert_close(compiled["weights"], eager["weights"])


def test_without_numpy_the_scalar_programs_train(monkeypatch: pytest.MonkeyPatch) -> None:
    from autograd_lite import _compiled_loss

    monkeypatch.setattr(_compiled_loss, "_numpy", lambda: None)
    X, y = blobs(20, 2, 2)
    model = nn.MLP(2, [4, 1], seed=14)
    optimizer = optim.Adam(model.parameters(), lr=0.05)
    history = ag.fit(
        model, X, y, loss="bce", optimizer=optimizer, epochs=2, progress=False, compile=True, seed=0
    )
    assert history.program_source is None
    assert isinstance(runner_of(model, "bce"), _compiled_loss._CompiledLoss)
    eager = run(False, lambda: nn.MLP(2, [4, 1], seed=14), X, y, loss="bce", epochs=2)
    assert_close(history.loss, eager["history"].loss)


class Logged(nn.Module):
    """log(w·x): outside its domain for some rows, where the eager engine raises."""

    def __init__(self) -> None:
        self.w = [ag.Value(1.0), ag.Value(0.5)]

    def __call__(self, x: list[Any]) -> Any:
        return (self.w[0] * x[0] + self.w[1] * x[1]).log()

    def parameters(self) -> list[ag.Value]:
        return list(self.w)


def test_rows_outside_the_domain_are_run_again_eagerly() -> None:
    X = [[1.0, 1.0]] * 5 + [[-3.0, 0.0]]
    y = [0.0] * 6
    errors = []
    for mode in (True, False):
        with pytest.raises(ValueError, match="log") as error:
            ag.fit(
                Logged(), X, y, loss="mse", epochs=1, progress=False, compile=mode, optimizer=None
            )
        errors.append(str(error.value))
    assert errors[0] == errors[1]


def test_a_diverging_run_stops_alike_and_leaves_the_same_state() -> None:
    X, y = blobs(20, 2, 2)
    make = lambda m: optim.SGD(m.parameters(), lr=1e200)
    found = []
    for mode in (True, False):
        model = nn.MLP(2, [4, 1], seed=15)
        optimizer = make(model)
        with pytest.raises(ValueError, match="diverged") as error:
            ag.fit(
                model,
                X,
                y,
                loss="mse",
                optimizer=optimizer,
                epochs=3,
                progress=False,
                compile=mode,
                batch_size=5,
            )
        found.append((str(error.value), [p.data for p in model.parameters()]))
    assert found[0][0] == found[1][0]
    assert_close(found[0][1], found[1][1])


def test_a_callback_that_loads_an_optimizer_state() -> None:
    X, y = blobs(24, 2, 3)

    def reload(model: nn.Module, optimizer: optim.Optimizer) -> list[Any]:
        saved: list[Any] = []

        def hook(epoch: int, numbers: dict[str, float]) -> None:
            if epoch == 1:
                saved.append(optimizer.state_dict())
            if epoch == 3:
                optimizer.load_state_dict(saved[0])  # back to epoch 1's moments and rates

        return [hook]

    both(
        lambda: nn.MLP(2, [4, 3], seed=16),
        X,
        y,
        loss="cross_entropy",
        batch_size=5,
        callbacks=reload,
        epochs=5,
    )


def test_evaluate_and_predict_run_the_grouped_forward_program() -> None:
    from autograd_lite import _compiled_loss
    from autograd_lite.losses import get_objective

    X, y = blobs(300, 3, 4)  # past TRACE_MIN_ROWS: compiled
    model = nn.MLP(3, [5, 4], dropout=0.2, seed=17)  # dropout: off when scoring
    objective = get_objective("cross_entropy")
    eager_outputs = [[v.data for v in model.eval()(row)] for row in X]
    with ag.no_grad():
        eager_scores = _compiled_loss.eager_scores(model, objective, X, y)
    model.train()
    labels = ag.predict(model, X, loss="cross_entropy")
    assert labels == [float(max(range(4), key=o.__getitem__)) for o in eager_outputs]
    assert _compiled_loss._cache_of(model)["forward"].grouped is not None
    loss, accuracy = ag.evaluate(model, X, y, loss="cross_entropy")
    assert loss == pytest.approx(eager_scores[0], rel=TOLERANCE)
    assert accuracy == eager_scores[1]
    assert runner_of(model, "cross_entropy").grouped_program(False) is not None
    assert model.training


def test_fit_reuses_the_grouped_program_for_the_same_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from autograd_lite import _compiled_loss

    traces = 0
    vectorize_loss = _compiled_loss.vectorize_loss

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal traces
        traces += 1
        return vectorize_loss(*args, **kwargs)

    monkeypatch.setattr(_compiled_loss, "vectorize_loss", counting)
    X, y = blobs(20, 2, 3)
    model = nn.MLP(2, [4, 3], seed=18)
    for _ in range(3):  # one epoch at a time
        ag.fit(model, X, y, loss="cross_entropy", epochs=1, progress=False)
    assert traces == 1  # one program for every class, traced once
    model.layers[0].activation = nn.ACTIVATIONS["tanh"]  # type: ignore[attr-defined]
    ag.fit(model, X, y, loss="cross_entropy", epochs=1, progress=False)
    assert traces == 2  # the model changed: traced again
