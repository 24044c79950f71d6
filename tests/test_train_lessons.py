"""fit's lesson features (issue 13): dropout under compile="auto", clipping, gradient norms,
callable and chosen losses, callbacks, eval mode in predict/evaluate, the notebook bar."""

from __future__ import annotations

import sys
import types
import warnings
from typing import Any

import pytest

import autograd_lite as ag
from autograd_lite import Value, data, nn, optim


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
