"""ag.fit and predict/evaluate: history, batches, validation, early stopping, progress
output, clipping, gradient norms, losses, callbacks, dropout under compile="auto", eval mode,
and bad input."""

from __future__ import annotations

import itertools
import math
import sys
import types
import warnings
from typing import Any

import pytest

import autograd_lite as ag
from autograd_lite import Value, data, nn, optim
from autograd_lite.losses import OBJECTIVES
from autograd_lite.nn import MLP
from autograd_lite.train import predict

try:
    import torch
except ImportError:  # the tests that need it are marked requires_torch
    torch = None

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
    from autograd_lite import _compiled_loss as runner

    monkeypatch.setattr(runner, "ARRAY_MIN_ROWS", 1)  # every batch as columns
    monkeypatch.setattr(runner, "ARRAY_CHUNK", 7)  # and several chunks per batch
    columns = train(loss, True, batch_size=20)
    monkeypatch.setattr(runner, "ARRAY_MIN_ROWS", 10**9)  # every row on its own
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


class Peeking(ag.nn.Module):
    """Branches on the number of a Value computed from its weight: eager only."""

    def __init__(self, direct: bool) -> None:
        self.w = ag.Value(0.5)
        self.direct = direct

    def __call__(self, x: object) -> ag.Value:
        score = self.w * x[0]  # type: ignore[index]
        number = (self.w * 2.0).data if self.direct else score.data
        return score if number > 0 else -score


@pytest.mark.parametrize("direct", [False, True])
def test_a_model_reading_data_trains_eagerly_never_with_a_baked_branch(direct: bool) -> None:
    X, y = [[1.0], [-2.0], [3.0]], [1.0, 2.0, 3.0]
    with pytest.warns(UserWarning, match=r"trains eagerly.*\.data") as caught:
        auto = ag.fit(Peeking(direct), X, y, epochs=3, progress=False, loss="mse")
    assert len(caught) == 1
    eager = ag.fit(Peeking(direct), X, y, epochs=3, progress=False, compile=False, loss="mse")
    assert auto.loss == eager.loss
    with pytest.raises(ag.TraceError, match=r"\.data"):
        ag.fit(Peeking(direct), X, y, epochs=3, progress=False, compile=True, loss="mse")
    rows = [[(i - 150) / 10.0] for i in range(300)]  # enough rows to try the compiled path
    model = Peeking(direct)
    model.w.data = -0.5  # each row's branch follows its own sign, as eagerly
    eager_outputs = [model(row).data for row in rows]
    assert len(set(eager_outputs)) > 100
    assert predict(model, rows) == eager_outputs


def test_a_long_epoch_moves_the_bar_per_example(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("tqdm")
    from autograd_lite import _progress

    X = [[i / 50.0 - 1.0, 0.5] for i in range(100)]
    y = [float(x0 > 0) for x0, _ in X]
    monkeypatch.setattr(_progress.Progress, "LONG_EPOCH", 50)
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
    from autograd_lite import _compiled_loss as runner

    traces = 0
    trace_gradient = runner.trace_gradient

    def counting(*args: object, **kwargs: object) -> object:
        nonlocal traces
        traces += 1
        return trace_gradient(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(runner, "trace_gradient", counting)
    monkeypatch.setattr(runner, "RUNNER", runner._CompiledLoss)  # the scalar programs
    model = small_model()
    for _ in range(3):  # one epoch at a time, as a hand-made schedule would
        ag.fit(model, X_XOR, Y_XOR, loss="bce", epochs=1, progress=False)
    assert traces == 2  # one program per label, traced once
    ag.fit(small_model(), X_XOR, Y_XOR, loss="bce", epochs=1, progress=False)
    assert traces == 4  # another model is traced anew
    model.layers[0].neurons[0].activation = "tanh"  # type: ignore[attr-defined]
    ag.fit(model, X_XOR, Y_XOR, loss="bce", epochs=1, progress=False)
    assert traces == 6  # the model changed: its code is traced again


# --- compiled programs live and die with their model ------------------------------------


def forget_compiled_sources() -> None:
    """Drop generated sources from linecache (kept for tracebacks, not by fit's cache)."""
    import linecache

    for name in [k for k in linecache.cache if k.startswith("<autograd_lite")]:
        del linecache.cache[name]


def test_a_model_trained_compiled_is_freed_with_its_programs() -> None:
    import gc
    import weakref

    freed = []
    for seed in range(5):
        model = small_model(seed=seed)
        ag.fit(model, X_XOR, Y_XOR, loss="bce", epochs=1, compile=True, progress=False,
               validation=(X_XOR, Y_XOR))  # fmt: skip
        ag.predict(model, X_XOR * 7, loss="bce")  # compiled too: 280 rows
        freed.append(weakref.ref(model))
        del model
    gc.collect()
    assert [ref() for ref in freed] == [None] * 5


def test_memory_stays_flat_over_many_compiled_train_and_delete_rounds() -> None:
    import gc
    import statistics
    import tracemalloc

    X, y = X_XOR[:8], Y_XOR[:8]

    def one_round() -> None:
        model = MLP(2, [1], seed=0)
        ag.fit(model, X, y, loss="bce", epochs=1, compile=True, progress=False)
        ag.predict(model, X * 32, loss="bce")  # compiled: 256 rows

    def settled() -> int:
        gc.collect()
        forget_compiled_sources()
        return tracemalloc.get_traced_memory()[0]

    memory = []
    tracemalloc.start()
    try:
        for i in range(200):
            one_round()
            if 40 <= i < 60 or i >= 180:  # an early window and a late one
                memory.append(settled())
    finally:
        tracemalloc.stop()
    early, late = (
        statistics.median(b - a for a, b in itertools.pairwise(window))
        for window in (memory[:20], memory[20:])
    )
    # a model kept with its programs adds tens of kB a round, in every window; the median
    # ignores an interpreter table that grows once somewhere in between
    assert late < 2_000
    assert late <= early + 1_000


# --- compiled fit follows every change to the model -------------------------------------


class Scaled(ag.nn.Module):
    """A Linear whose output is scaled by a buffer (a Value that is not a parameter) and
    shifted by settings kept in a dict and in a plain object."""

    class Options:
        def __init__(self) -> None:
            self.offset = 0.25

    def __init__(self) -> None:
        self.linear = ag.nn.Linear(2, 1, seed=0)
        self.scale = ag.Value(2.0, requires_grad=False)
        self.settings = {"shift": 0.0}
        self.options = Scaled.Options()

    def __call__(self, x: object) -> ag.Value:
        z = self.linear(x) * self.scale  # type: ignore[operator, arg-type]
        return z + self.settings["shift"] + self.options.offset  # type: ignore[no-any-return]


def frozen(model: ag.nn.Module) -> ag.Value:
    weight: ag.Value = model[0].weight[0][0]  # type: ignore[index]
    weight.requires_grad = False
    return weight


CHANGES = {
    "activation swapped": (
        lambda: ag.nn.Sequential(
            ag.nn.Linear(2, 3, seed=0), ag.nn.ReLU(), ag.nn.Linear(3, 1, seed=1)
        ),
        lambda model: model.layers.__setitem__(1, ag.nn.Tanh()),
    ),
    "frozen weight changed": (
        lambda: ag.nn.Sequential(
            ag.nn.Linear(2, 3, seed=0), ag.nn.Tanh(), ag.nn.Linear(3, 1, seed=1)
        ),
        lambda model: setattr(model.layers[0].weight[0][0], "data", 1.5),
    ),
    "buffer changed": (Scaled, lambda model: setattr(model.scale, "data", -0.5)),
    "dict setting changed": (Scaled, lambda model: model.settings.__setitem__("shift", 0.75)),
    "object setting changed": (Scaled, lambda model: setattr(model.options, "offset", -1.0)),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_compiled_fit_after_a_change_to_the_model_equals_eager(change: str) -> None:
    make, edit = CHANGES[change]
    X, y = X_XOR[:20], [x0 - 0.5 * x1 for x0, x1 in X_XOR[:20]]
    runs = []
    for compile in (True, False):
        model = make()
        if change == "frozen weight changed":
            frozen(model)
        settings: dict[str, object] = {
            "loss": "mse", "epochs": 2, "batch_size": 8, "progress": False, "seed": 0,
            "validation": (X, y), "compile": compile,
        }  # fmt: skip
        ag.fit(model, X, y, optimizer=optim.SGD(model.parameters(), lr=0.05), **settings)  # type: ignore[arg-type]
        edit(model)
        history = ag.fit(model, X, y, optimizer=optim.SGD(model.parameters(), lr=0.05), **settings)  # type: ignore[arg-type]
        runs.append((history, [p.data for p in model.parameters()]))
    assert_same_run(runs[0], runs[1])


# --- weight tying, NumPy arrays ----------------------------------------------------------


def test_a_weight_tied_model_trains_with_the_default_optimizer() -> None:
    X, y = data.make_blobs(30, centers=2, seed=0)
    runs = []
    for compile in (True, False):
        shared = ag.nn.Linear(2, 2, seed=0)
        model = ag.nn.Sequential(shared, ag.nn.Tanh(), shared)
        assert len(model.parameters()) == 6  # each shared parameter once, as PyTorch's
        assert len(model.state_dict()) == 12  # and named at each place it is used
        history = ag.fit(model, X, y, loss="cross_entropy", epochs=5, seed=0, compile=compile,
                         progress=False)  # fmt: skip
        assert history.loss[-1] < history.loss[0]
        runs.append((history, [p.data for p in model.parameters()]))
    assert_same_run(runs[0], runs[1])


@pytest.mark.requires_torch
def test_a_weight_tied_model_trains_as_pytorch_trains_it() -> None:
    X, y = data.make_blobs(30, centers=2, seed=0)
    shared = ag.nn.Linear(2, 2, seed=0)
    model = ag.nn.Sequential(shared, ag.nn.Tanh(), shared)
    ag.fit(model, X, y, loss="cross_entropy", optimizer=optim.SGD(model.parameters(), lr=0.5),
           epochs=3, progress=False)  # fmt: skip
    linear = torch.nn.Linear(2, 2).double()
    start = ag.nn.Linear(2, 2, seed=0)  # the same weights as shared before training
    with torch.no_grad():
        linear.weight.copy_(
            torch.tensor([[w.data for w in row] for row in start.weight], dtype=torch.float64)
        )
        linear.bias.copy_(torch.tensor([b.data for b in start.bias or []], dtype=torch.float64))
    tied = torch.nn.Sequential(linear, torch.nn.Tanh(), linear)
    assert len(list(tied.parameters())) == 2
    assert len(tied.state_dict()) == 4  # PyTorch's state_dict names both places too
    opt = torch.optim.SGD(tied.parameters(), lr=0.5)
    for _ in range(3):  # full batch: the row order does not matter
        opt.zero_grad()
        torch.nn.functional.cross_entropy(
            tied(torch.tensor(X, dtype=torch.float64)), torch.tensor(y).long()
        ).backward()
        opt.step()
    ours = [p.data for p in model.parameters()]
    theirs = [*linear.weight.detach().flatten().tolist(), *linear.bias.detach().tolist()]
    assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-12)


def test_fit_evaluate_and_predict_take_numpy_arrays() -> None:
    np = pytest.importorskip("numpy")
    X, y = np.array(X_XOR), np.array(Y_XOR)
    histories = []
    for rows, labels in ((X, y), (X_XOR, Y_XOR)):
        model = small_model()
        histories.append(
            ag.fit(model, rows, labels, epochs=3, seed=0, progress=False, validation=(rows, labels))
        )
        assert ag.evaluate(model, rows, labels) == ag.evaluate(model, X_XOR, Y_XOR)
        assert ag.predict(model, rows, loss="bce") == ag.predict(model, X_XOR, loss="bce")
    assert histories[0] == histories[1]


# --- predict runs compiled ---------------------------------------------------------------


def count_nodes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the graph nodes made from now on, in the one number of the list returned."""
    from autograd_lite import engine

    count, allocate = [0], engine._allocate

    def counting(cls: type) -> object:
        count[0] += 1
        return allocate(cls)

    monkeypatch.setattr(engine, "_allocate", counting)
    return count


def eager_outputs(model: ag.nn.Module, X: list[list[float]]) -> list[object]:
    model.eval()
    try:
        with ag.no_grad():
            outputs = [model(row) for row in X]
    finally:
        model.train()
    return [[v.data for v in o] if isinstance(o, list) else o.data for o in outputs]  # type: ignore[union-attr]


@pytest.mark.parametrize("numpy", [True, False])
@pytest.mark.parametrize("loss", sorted(CASES))
def test_predict_runs_compiled_and_equals_eager(
    loss: str, numpy: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from autograd_lite import _compiled_loss as runner

    if numpy:
        pytest.importorskip("numpy")
        monkeypatch.setattr(runner, "ARRAY_CHUNK", 7)  # several chunks
    else:
        monkeypatch.setattr(runner, "ARRAY_MIN_ROWS", 10**9)  # every row on floats
    X, _, nout = CASES[loss]
    X = X * 7  # past TRACE_MIN_ROWS: compiled
    model = MLP(2, [6, nout], dropout=0.5, seed=3)  # predict switches dropout off
    expected = eager_outputs(model, X)
    objective = OBJECTIVES[loss]
    if objective.decide is None:
        wanted: list[float] = expected  # type: ignore[assignment]
    else:
        decide = objective.decide
        wanted = [decide([ag.Value(v) for v in o] if isinstance(o, list) else ag.Value(o))  # type: ignore[arg-type]
                  for o in expected]  # fmt: skip
    predict(model, X, loss=loss)  # traced here
    nodes = count_nodes(monkeypatch)
    got = predict(model, X, loss=loss)
    assert nodes[0] < len(X)  # no graph per row: generated code
    assert got == pytest.approx(wanted, rel=1e-12, abs=1e-12)
    assert model.training


def test_predict_falls_back_to_eager_for_a_model_it_cannot_trace() -> None:
    X = [[1.0], [-2.0], [3.0]] * 100  # enough rows to be compiled, if it could be
    assert predict(Folded(), X) == [abs(0.5 * x[0]) for x in X]  # quietly: no warning
    assert predict(lambda row: ag.Value(2.0) * row[0], [[1.0], [2.0]]) == [2.0, 4.0]


def test_predict_follows_changes_to_the_model_between_calls() -> None:
    X = X_XOR * 7  # compiled
    model = ag.nn.Sequential(ag.nn.Linear(2, 3, seed=0), ag.nn.ReLU(), ag.nn.Linear(3, 1, seed=1))
    predict(model, X)
    model.layers[2].bias[0].data = 5.0  # type: ignore[attr-defined, index]
    assert predict(model, X) == pytest.approx(eager_outputs(model, X), rel=1e-12)
    model.layers[1] = ag.nn.Tanh()  # type: ignore[attr-defined]
    assert predict(model, X) == pytest.approx(eager_outputs(model, X), rel=1e-12)
    with pytest.raises(ValueError, match="expected 2 inputs, got 3"):  # the eager model's own error
        predict(model, [[1.0, 2.0, 3.0]] * 300)
    rows = [[1.0, 2.0]] * 299 + [[math.inf, 1.0]]  # inf and nan as the eager engine has them
    assert predict(model, rows) == pytest.approx(eager_outputs(model, rows), nan_ok=True)
    with pytest.raises(TypeError) as eager_error:
        eager_outputs(model, [["a", 1.0]])
    with pytest.raises(TypeError) as error:
        predict(model, [[1.0, 2.0]] * 299 + [["a", 1.0]])
    assert str(error.value) == str(eager_error.value)


@pytest.mark.parametrize("loss", sorted(CASES))
def test_evaluate_runs_compiled_and_equals_eager(
    loss: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from autograd_lite import _compiled_loss as runner

    X, y, nout = CASES[loss]
    X, y = X * 7, y * 7  # past TRACE_MIN_ROWS: compiled
    model = MLP(2, [6, nout], dropout=0.5, seed=3)  # evaluate switches dropout off
    monkeypatch.setattr(runner, "TRACE_MIN_ROWS", 10**9)
    eager = ag.evaluate(model, X, y, loss=loss)  # too few rows to compile: eager
    monkeypatch.setattr(runner, "TRACE_MIN_ROWS", 256)
    with ag.no_grad():  # tracing works inside no_grad too
        ag.evaluate(model, X, y, loss=loss)  # traced here
    nodes = count_nodes(monkeypatch)
    compiled = ag.evaluate(model, X, y, loss=loss)
    assert nodes[0] < len(X)  # no graph per row: generated code
    assert compiled[0] == pytest.approx(eager[0], rel=1e-12)
    assert compiled[1] == eager[1]
    assert model.training


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


def moons() -> tuple[list[list[float]], list[float]]:
    X, y = data.make_moons(40, noise=0.1, seed=0)
    return [list(row) for row in X], [float(t) for t in y]


def test_dropout_model_trains_the_same_under_auto_as_eagerly() -> None:
    X, y = moons()
    histories, states = [], []
    for mode in ("auto", False):
        model = nn.MLP(2, [8, 8, 1], dropout=0.3, seed=1)
        opt = optim.Adam(model.parameters(), lr=0.05)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            history = ag.fit(model, X, y, optimizer=opt, epochs=15, seed=2, progress=False,
                             compile=mode, validation=(X, y))  # fmt: skip
        if mode == "auto":
            assert [str(w.message) for w in caught if "Dropout" in str(w.message)]
            assert len(caught) == 1
        histories.append(history)
        states.append(model.state_dict())
    assert histories[0].loss == histories[1].loss
    assert histories[0].val_loss == pytest.approx(histories[1].val_loss, rel=1e-12)
    assert states[0] == states[1]
    assert histories[0].loss[-1] < histories[0].loss[0]
    with pytest.raises(ag.TraceError, match="Dropout"):
        ag.fit(nn.MLP(2, [4, 1], dropout=0.5), X, y, compile=True, progress=False)


def test_clip_grad_norm_in_fit_compiled_and_eager() -> None:
    X, y = moons()
    steps: dict[bool, list[float]] = {}
    for mode in (True, False):
        model = nn.MLP(2, [8, 1], seed=0)
        opt = optim.SGD(model.parameters(), lr=0.5)
        seen: list[float] = []
        real_step = opt.step

        def step(
            real_step: Any = real_step, seen: list[float] = seen, model: nn.Module = model
        ) -> None:
            seen.append(sum(p.grad**2 for p in model.parameters()) ** 0.5)
            real_step()

        opt.step = step  # type: ignore[method-assign]
        ag.fit(model, X, y, optimizer=opt, epochs=5, batch_size=10, seed=0, progress=False,
               compile=mode, clip_grad_norm=0.01)  # fmt: skip
        steps[mode] = seen
    assert all(norm <= 0.01 + 1e-9 for norm in steps[True] + steps[False])
    assert steps[True] == pytest.approx(steps[False], rel=1e-9)
    with pytest.raises(ValueError, match="clip_grad_norm"):
        ag.fit(nn.MLP(2, [1]), X, y, clip_grad_norm=0.0, progress=False)


def test_track_gradients_records_each_layer_per_epoch() -> None:
    X, y = moons()
    results = []
    for mode in (True, False):
        model = nn.MLP(2, [4, 4, 1], activation="sigmoid", seed=0)
        history = ag.fit(model, X, y, epochs=4, batch_size=20, seed=0, progress=False,
                         compile=mode, track_gradients=True)  # fmt: skip
        assert list(history.gradient_norms) == ["layers.0", "layers.1", "layers.2"]
        assert all(len(norms) == 4 for norms in history.gradient_norms.values())
        results.append(history.gradient_norms)
    for name in results[0]:
        assert results[0][name] == pytest.approx(results[1][name], rel=1e-9)
    assert ag.fit(nn.MLP(2, [1]), X, y, epochs=1, progress=False).gradient_norms == {}
    seq = nn.Sequential(nn.Linear(2, 3, seed=0), nn.Tanh(), nn.Linear(3, 1, seed=0))
    assert list(ag.train.layer_parameters(seq)) == ["0", "2"]
    assert list(ag.train.layer_parameters(nn.Linear(2, 1))) == ["Linear"]


def test_default_loss_is_chosen_from_the_targets() -> None:
    X, y = moons()
    a = ag.fit(nn.MLP(2, [4, 1], seed=0), X, y, epochs=3, seed=0, progress=False)
    b = ag.fit(nn.MLP(2, [4, 1], seed=0), X, y, epochs=3, seed=0, progress=False, loss="bce")
    assert a.loss == b.loss
    assert a.accuracy  # bce, not mse: accuracy is recorded
    reg = ag.fit(nn.MLP(2, [1], seed=0), X, [t + 0.5 for t in y], epochs=2, progress=False)
    assert not reg.accuracy
    assert ag.evaluate(nn.MLP(2, [1], seed=0), X, y)[1] is not None


def test_a_callable_loss_trains_eagerly() -> None:
    X, y = moons()

    def squared(outputs: list[Any], targets: list[float]) -> Value:
        terms = [(o.sigmoid() - t) ** 2 for o, t in zip(outputs, targets, strict=True)]
        return sum(terms[1:], terms[0]) / len(terms)

    model = nn.MLP(2, [8, 1], seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # documented: no warning
        history = ag.fit(model, X, y, loss=squared, epochs=30, progress=False,
                         optimizer=optim.Adam(model.parameters(), lr=0.05),
                         validation=(X, y))  # fmt: skip
    assert history.loss[-1] < history.loss[0]
    assert not history.accuracy
    assert history.val_loss[-1] == pytest.approx(ag.evaluate(model, X, y, loss=squared)[0])
    with pytest.raises(ValueError, match="named loss"):
        ag.fit(model, X, y, loss=squared, compile=True, progress=False)
    with pytest.raises(TypeError, match="must return a Value"):
        ag.fit(model, X, y, loss=lambda o, t: 1.0, progress=False)  # type: ignore[arg-type,return-value]


def test_callbacks_see_each_epoch_and_can_stop() -> None:
    X, y = moons()
    seen: list[tuple[int, dict[str, float]]] = []

    def record(epoch: int, numbers: dict[str, float]) -> None:
        seen.append((epoch, numbers))

    def stop_at_3(epoch: int, numbers: dict[str, float]) -> bool:
        return epoch < 3

    history = ag.fit(nn.MLP(2, [4, 1], seed=0), X, y, epochs=10, progress=False,
                     callbacks=[record, stop_at_3], validation=(X, y))  # fmt: skip
    assert [e for e, _ in seen] == [1, 2, 3]
    assert set(seen[0][1]) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert seen[2][1]["loss"] == history.loss[-1]
    assert history.epochs == 3
    assert history.stopped_early
    assert history.stopped_by == "callback"
    full = ag.fit(nn.MLP(2, [4, 1], seed=0), X, y, epochs=3, progress=False, callbacks=record)
    assert full.stopped_by is None
    assert not full.stopped_early
    early = ag.fit(nn.MLP(2, [4, 1], seed=0), X, y, epochs=200, progress=False,
                   early_stopping=1, optimizer=None, validation=(X[:5], y[:5]))  # fmt: skip
    assert early.stopped_by in (None, "early_stopping")
    with pytest.raises(TypeError, match="callables"):
        ag.fit(nn.MLP(2, [1]), X, y, callbacks=[3], progress=False)  # type: ignore[list-item]


def test_predict_and_evaluate_run_in_eval_mode() -> None:
    X, y = moons()
    model = nn.MLP(2, [8, 1], dropout=0.5, seed=0)
    first = ag.predict(model, X, loss="bce")
    assert all(ag.predict(model, X, loss="bce") == first for _ in range(3))
    assert ag.evaluate(model, X, y) == ag.evaluate(model, X, y)
    assert model.training  # modes put back
    assert model.dropouts[0].training


def test_notebook_progress_is_one_html_display_updated_in_place(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from autograd_lite import _progress

    shown: list[tuple[str, dict[str, str]]] = []

    class Handle:
        def update(self, bundle: dict[str, str], raw: bool) -> None:
            shown.append(("update", bundle))

    def display(bundle: dict[str, str], raw: bool, display_id: bool) -> Handle:
        shown.append(("display", bundle))
        return Handle()

    fake = types.ModuleType("IPython.display")
    fake.display = display  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython.display", fake)
    monkeypatch.setattr(_progress, "_in_notebook", lambda: True)
    X, y = moons()
    ag.fit(nn.MLP(2, [4, 1], seed=0), X, y, epochs=30, progress=True)
    assert [kind for kind, _ in shown].count("display") == 1
    final = shown[-1][1]
    assert final["text/plain"].startswith("fit 30/30 epochs  loss")
    assert '<progress value="30" max="30"' in final["text/html"]
    assert capsys.readouterr().err == ""  # nothing on stderr
