"""ag.fit: history, batches, validation, early stopping, progress output, bad input."""

from __future__ import annotations

import math
import sys

import pytest

import autograd_lite as ag
from autograd_lite import data, optim
from autograd_lite.losses import OBJECTIVES
from autograd_lite.nn import MLP
from autograd_lite.train import predict

X_XOR, Y_XOR = data.make_xor(40, seed=0)


def small_model(nout: int = 1, seed: int = 0) -> MLP:
    return MLP(2, [8, nout], seed=seed)


def test_history_records_every_epoch_and_the_loss_falls() -> None:
    model = small_model()
    before, _ = ag.evaluate(model, X_XOR, Y_XOR, loss="bce")
    history = ag.fit(
        model,
        X_XOR,
        Y_XOR,
        loss="bce",
        epochs=60,
        progress=False,
        optimizer=optim.Adam(model.parameters(), lr=0.05),
    )
    assert history.epochs == len(history.accuracy) == 60
    assert history.loss[0] == pytest.approx(before, rel=1e-12)  # full batch: scored before the step
    assert history.loss[-1] < 0.2 * history.loss[0]
    assert history.accuracy[-1] == 1.0
    assert history.best_epoch == 60
    assert not history.stopped_early
    assert history.val_loss == history.val_accuracy == []
    assert predict(model, X_XOR, loss="bce") == Y_XOR


def test_same_seed_same_history_and_weights() -> None:
    runs = []
    for _ in range(2):
        model = small_model(seed=3)
        history = ag.fit(
            model, X_XOR, Y_XOR, loss="bce", epochs=5, batch_size=8, seed=7, progress=False
        )
        runs.append((history, model.state_dict()))
    assert runs[0] == runs[1]
    other = small_model(seed=3)
    ag.fit(other, X_XOR, Y_XOR, loss="bce", epochs=5, batch_size=8, seed=8, progress=False)
    assert other.state_dict() != runs[0][1]  # the seed decides the batch order


@pytest.mark.parametrize(("batch_size", "steps"), [(None, 3), (40, 3), (16, 9), (1, 120)])
def test_one_optimizer_step_per_batch(batch_size: int | None, steps: int) -> None:
    model = small_model()
    optimizer = optim.SGD(model.parameters(), lr=0.01)
    ag.fit(
        model,
        X_XOR,
        Y_XOR,
        loss="bce",
        optimizer=optimizer,
        epochs=3,
        batch_size=batch_size,
        progress=False,
    )
    assert optimizer.steps == steps


def test_validation_is_scored_after_each_epoch() -> None:
    X_val, y_val = data.make_xor(20, seed=1)
    model = small_model()
    history = ag.fit(
        model, X_XOR, Y_XOR, loss="bce", epochs=4, validation=(X_val, y_val), progress=False
    )
    assert len(history.val_loss) == len(history.val_accuracy) == 4
    assert (history.val_loss[-1], history.val_accuracy[-1]) == ag.evaluate(
        model, X_val, y_val, loss="bce"
    )


def test_early_stopping_restores_the_best_weights() -> None:
    X_val, y_val = X_XOR, [1.0 - t for t in Y_XOR]  # the opposite labels: val loss only grows
    model = small_model()
    history = ag.fit(
        model,
        X_XOR,
        Y_XOR,
        loss="bce",
        epochs=50,
        early_stopping=3,
        validation=(X_val, y_val),
        progress=False,
        seed=0,
        optimizer=optim.Adam(model.parameters(), lr=0.05),
    )
    assert history.stopped_early
    assert history.epochs == history.best_epoch + 3 < 50
    assert history.val_loss[history.best_epoch - 1] == min(history.val_loss)
    replay = small_model()
    ag.fit(
        replay,
        X_XOR,
        Y_XOR,
        loss="bce",
        epochs=history.best_epoch,
        progress=False,
        seed=0,
        validation=(X_val, y_val),
        optimizer=optim.Adam(replay.parameters(), lr=0.05),
    )
    assert model.state_dict() == replay.state_dict()


def test_every_named_loss_trains() -> None:
    X3, y3 = data.make_blobs(60, centers=[[-2.0, 0.0], [2.0, 0.0], [0.0, 3.0]], std=0.4, seed=0)
    cases = {
        "bce": (small_model(), X_XOR, Y_XOR),
        "hinge": (small_model(), X_XOR, [2 * t - 1 for t in Y_XOR]),
        "cross_entropy": (small_model(nout=3), X3, y3),
        "mse": (small_model(), X_XOR, [x0 * x1 for x0, x1 in X_XOR]),
    }
    assert sorted(cases) == sorted(OBJECTIVES)
    for name, (model, X, y) in cases.items():
        history = ag.fit(
            model,
            X,
            y,
            loss=name,
            epochs=80,
            progress=False,
            optimizer=optim.Adam(model.parameters(), lr=0.05),
        )
        assert history.loss[-1] < 0.3 * history.loss[0], name
        if name == "mse":
            assert history.accuracy == []
            assert ag.evaluate(model, X, y, loss=name)[1] is None
        else:
            assert history.accuracy[-1] >= 0.95, name


def test_progress_false_is_silent_and_true_shows_a_bar(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("tqdm")
    ag.fit(small_model(), X_XOR, Y_XOR, loss="bce", epochs=2, progress=False)
    assert capsys.readouterr() == ("", "")
    ag.fit(small_model(), X_XOR, Y_XOR, loss="bce", epochs=2)
    err = capsys.readouterr().err
    assert "2/2" in err
    assert "loss=" in err


def test_without_tqdm_progress_is_a_line_per_tenth(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)
    ag.fit(small_model(), X_XOR, Y_XOR, loss="bce", epochs=20)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 11  # epoch 1, then every second epoch
    assert lines[0].startswith("epoch 1/20  loss ")
    assert lines[-1].startswith("epoch 20/20")


BAD_CALLS = {
    "unknown loss": ({"loss": "l1"}, "unknown loss 'l1'"),
    "hinge wants ±1": ({"loss": "hinge"}, "labels -1 and 1, got 0.0"),
    "epochs": ({"epochs": 0}, "epochs must be a positive int"),
    "batch size": ({"batch_size": 0}, "batch_size"),
    "patience": ({"early_stopping": 0}, "early_stopping"),
    "validation": ({"validation": ([[0.0, 0.0]], [0.0, 1.0])}, "validation: 1 rows but 2 labels"),
}


@pytest.mark.parametrize("case", sorted(BAD_CALLS))
def test_bad_arguments_raise_before_training(case: str) -> None:
    options, message = BAD_CALLS[case]
    model = small_model()
    before = model.state_dict()
    with pytest.raises(ValueError, match=message):
        ag.fit(model, X_XOR, Y_XOR, **{"loss": "bce", "progress": False, **options})  # type: ignore[arg-type]
    assert model.state_dict() == before


def test_bad_data_raises() -> None:
    with pytest.raises(ValueError, match="3 rows but 2 labels"):
        ag.fit(small_model(), X_XOR[:3], Y_XOR[:2], progress=False)
    with pytest.raises(ValueError, match="no examples"):
        ag.fit(small_model(), [], [], progress=False)
    with pytest.raises(ValueError, match="expected 2 inputs, got 3"):
        ag.fit(small_model(), [[1.0, 2.0, 3.0]], [1.0], progress=False)
    with pytest.raises(ValueError, match="one output per example"):
        ag.fit(small_model(nout=2), X_XOR, Y_XOR, loss="bce", progress=False)
    with pytest.raises(ValueError, match="class indices"):
        ag.fit(small_model(nout=2), X_XOR, [0.5] * 40, loss="cross_entropy", progress=False)
    with pytest.raises(ValueError, match="numbers, got nan"):
        ag.fit(small_model(), [[0.0, 0.0]], [math.nan], loss="mse", progress=False)


def test_history_is_typed_and_records_by_attribute() -> None:
    history = ag.History()
    history.record(0.5, accuracy=0.75, val_loss=0.6, val_accuracy=0.7)
    history.record(0.25, accuracy=1.0, val_loss=0.4, val_accuracy=0.8)
    assert history.loss == [0.5, 0.25]
    assert history.val_accuracy == [0.7, 0.8]
    assert history.epochs == 2
    assert history.last() == {"loss": 0.25, "accuracy": 1.0, "val_loss": 0.4, "val_accuracy": 0.8}
    regression = ag.History()
    regression.record(2.0)
    assert regression.last() == {"loss": 2.0}
    assert regression.accuracy == regression.val_loss == []


# --- compiled training ------------------------------------------------------------------

REGRESSION_X, REGRESSION_Y = data.make_blobs(60, centers=3, seed=1)
CASES = {
    "bce": (X_XOR, Y_XOR, 1),
    "hinge": (X_XOR, [2.0 * t - 1.0 for t in Y_XOR], 1),
    "mse": (X_XOR, [x0 * x1 for x0, x1 in X_XOR], 1),
    "cross_entropy": (REGRESSION_X, REGRESSION_Y, 3),
}


def train(loss: str, compile: bool | str, **options: object) -> tuple[ag.History, list[float]]:
    X, y, nout = CASES[loss]
    model = MLP(2, [6, nout], seed=3)
    settings: dict[str, object] = {"epochs": 6, "batch_size": 16, "progress": False, "seed": 0}
    settings.update(options)
    history = ag.fit(model, X, y, loss=loss, compile=compile, **settings)  # type: ignore[arg-type]
    return history, [p.data for p in model.parameters()]


def assert_same_run(a: tuple[ag.History, list[float]], b: tuple[ag.History, list[float]]) -> None:
    (history_a, weights_a), (history_b, weights_b) = a, b
    for series in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert getattr(history_a, series) == pytest.approx(getattr(history_b, series), rel=1e-9)
    assert history_a.best_epoch == history_b.best_epoch
    assert weights_a == pytest.approx(weights_b, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("loss", sorted(CASES))
def test_compiled_and_eager_training_agree(loss: str) -> None:
    X, y, _ = CASES[loss]
    validation = (X[:10], y[:10])
    for options in ({}, {"validation": validation, "early_stopping": 2}, {"batch_size": None}):
        assert_same_run(train(loss, True, **options), train(loss, False, **options))


@pytest.mark.parametrize("loss", sorted(CASES))
def test_numpy_columns_agree_with_pure_python(loss: str, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("numpy")
    from autograd_lite import train as training

    monkeypatch.setattr(training, "ARRAY_MIN_ROWS", 1)  # every batch as columns
    monkeypatch.setattr(training, "ARRAY_CHUNK", 7)  # and several chunks per batch
    columns = train(loss, True, batch_size=20)
    monkeypatch.setattr(training, "ARRAY_MIN_ROWS", 10**9)  # every row on its own
    assert_same_run(columns, train(loss, True, batch_size=20))


def test_compiled_training_builds_no_graph(monkeypatch: pytest.MonkeyPatch) -> None:
    from autograd_lite import engine

    nodes = 0
    allocate = engine._allocate

    def counting(cls: type) -> object:
        nonlocal nodes
        nodes += 1
        return allocate(cls)

    model = small_model()
    ag.fit(model, X_XOR, Y_XOR, loss="bce", epochs=1, progress=False)  # traced here
    monkeypatch.setattr(engine, "_allocate", counting)
    ag.fit(model, X_XOR, Y_XOR, loss="bce", epochs=3, compile=False, progress=False)
    eager = nodes
    nodes = 0
    ag.fit(model, X_XOR, Y_XOR, loss="bce", epochs=3, compile=True, progress=False)
    assert eager > 3 * 40 * 30  # eagerly, every example builds its graph, every epoch
    assert nodes < eager / 20  # compiled: one trace, then plain floats


class Folded(ag.nn.Module):
    """|w·x0| written with an `if`: eager Python, but not traceable."""

    def __init__(self) -> None:
        self.w = ag.Value(0.5)

    def __call__(self, x: object) -> ag.Value:
        score = self.w * x[0]  # type: ignore[index]
        return score if score > 0 else -score


def test_auto_falls_back_to_eager_once_and_says_why() -> None:
    X, y = [[1.0], [-2.0], [3.0]], [1.0, 2.0, 3.0]
    with pytest.warns(UserWarning, match="trains eagerly.*comparison") as caught:
        auto = ag.fit(Folded(), X, y, epochs=3, progress=False, loss="mse")
    assert len(caught) == 1
    assert (
        auto.loss
        == ag.fit(Folded(), X, y, epochs=3, progress=False, compile=False, loss="mse").loss
    )
    with pytest.raises(ag.TraceError, match="comparison"):
        ag.fit(Folded(), X, y, epochs=3, progress=False, compile=True, loss="mse")
    with pytest.raises(ValueError, match="compile must be"):
        ag.fit(Folded(), X, y, progress=False, compile="yes")


def test_a_long_epoch_moves_the_bar_per_example(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("tqdm")
    from autograd_lite import train as training

    X = [[i / 50.0 - 1.0, 0.5] for i in range(100)]
    y = [float(x0 > 0) for x0, _ in X]
    monkeypatch.setattr(training._Progress, "LONG_EPOCH", 50)
    ag.fit(small_model(), X, y, loss="bce", epochs=2, batch_size=25)
    err = capsys.readouterr().err
    assert "200/200" in err  # examples, not epochs
    assert "ex/s" in err


def test_compiled_cross_entropy_on_large_features_equals_eager() -> None:
    X = [[2000.0 * (i % 3 - 1) + i, -1500.0 + 40.0 * i] for i in range(30)]
    y = [float(i % 3) for i in range(30)]

    def run(compile: bool) -> list[float]:
        model = MLP(2, [3], seed=0)
        history = ag.fit(
            model, X, y, loss="cross_entropy", optimizer=optim.SGD(model.parameters(), lr=0.01),
            epochs=3, batch_size=10, compile=compile, progress=False, seed=0,
        )  # fmt: skip
        return history.loss

    assert run(True) == pytest.approx(run(False), rel=1e-9)
    assert all(math.isfinite(v) for v in run(True))


@pytest.mark.parametrize("compile", [True, False])
def test_rows_of_different_lengths_are_named(compile: bool) -> None:
    with pytest.raises(ValueError, match="row 2 has 3 values, row 0 has 2"):
        ag.fit(
            small_model(), [[0.0, 1.0], [1.0, 0.0], [1.0, 1.0, 1.0]], [0.0, 1.0, 1.0],
            loss="bce", compile=compile, progress=False,
        )  # fmt: skip


class ClippedWhenScoring(ag.nn.Module):
    """Traceable in train mode; branches in Python in eval mode."""

    def __init__(self) -> None:
        self.w = ag.Value(0.5)

    def __call__(self, x: object) -> ag.Value:
        z = self.w * x[0]  # type: ignore[index]
        if not self.training:
            return z if z < 10 else z * 0.0
        return z


def test_auto_falls_back_before_training_when_scoring_cannot_be_traced() -> None:
    X, y = [[1.0], [2.0], [3.0]], [1.0, 2.0, 3.0]
    with pytest.warns(UserWarning, match="scores eagerly"):  # and trains compiled
        history = ag.fit(
            ClippedWhenScoring(), X, y, validation=(X, y), epochs=2, progress=False, loss="mse"
        )
    assert len(history.val_loss) == 2
    with pytest.raises(ag.TraceError, match=r"compile=False"):
        ag.fit(
            ClippedWhenScoring(), X, y, validation=(X, y), compile=True, progress=False, loss="mse"
        )


def test_fit_reuses_what_it_compiled_for_the_same_model(monkeypatch: pytest.MonkeyPatch) -> None:
    from autograd_lite import train as training

    traces = 0
    trace_gradient = training.trace_gradient

    def counting(*args: object, **kwargs: object) -> object:
        nonlocal traces
        traces += 1
        return trace_gradient(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(training, "trace_gradient", counting)
    model = small_model()
    for _ in range(3):  # one epoch at a time, as a hand-made schedule would
        ag.fit(model, X_XOR, Y_XOR, loss="bce", epochs=1, progress=False)
    assert traces == 2  # one program per label, traced once
    ag.fit(small_model(), X_XOR, Y_XOR, loss="bce", epochs=1, progress=False)
    assert traces == 4  # another model is traced anew
    model.layers[0].neurons[0].activation = "tanh"  # type: ignore[attr-defined]
    ag.fit(model, X_XOR, Y_XOR, loss="bce", epochs=1, progress=False)
    assert traces == 6  # the model changed: its code is traced again


def test_eager_batches_build_their_graph_with_the_collector_held_off() -> None:
    """An eager batch's graph is acyclic and freed at the end of the step: the cyclic
    collector, which would walk all of it again and again, is off while it is built and
    swept, and back on after, also when the model raises."""
    import gc

    seen: list[bool] = []
    fail_after = [math.inf]

    class Watched(MLP):
        def __call__(self, x):  # type: ignore[no-untyped-def]
            seen.append(gc.isenabled())
            if len(seen) > fail_after[0]:
                raise RuntimeError("the model fails in the third batch")
            return super().__call__(x)

    X, y = data.make_moons(20, seed=0)
    model = Watched(2, [4, 1], seed=0)
    assert gc.isenabled()
    ag.fit(model, X, y, epochs=1, batch_size=5, compile=False, progress=False)
    assert seen == [False] * 20
    assert gc.isenabled()
    seen.clear()
    fail_after[0] = 12
    with pytest.raises(RuntimeError, match="third batch"):
        ag.fit(model, X, y, epochs=1, batch_size=5, compile=False, progress=False)
    assert gc.isenabled()
