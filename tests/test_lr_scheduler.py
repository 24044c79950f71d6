"""The learning-rate schedulers and fit(scheduler=...), and PyTorch's schedules epoch by
epoch, saved and resumed (marked requires_torch)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from torch_pair import Pair

import autograd_lite as ag
from autograd_lite import Value, data, nn, optim
from autograd_lite.optim import lr_scheduler

try:
    import torch
except ImportError:  # the tests that need it are marked requires_torch
    torch = None

X_XOR, Y_XOR = data.make_xor(40, seed=0)


def values(*numbers: float) -> list[Value]:
    return [Value(n) for n in numbers]


def rates(scheduler: lr_scheduler.LRScheduler, epochs: int) -> list[float]:
    """The first group's rate for epochs 0..epochs-1, stepping as a training loop does."""
    found = []
    for _ in range(epochs):
        found.append(scheduler.get_last_lr()[0])
        scheduler.optimizer.step()  # type: ignore[attr-defined]
        scheduler.step()
    return found


def sgd(lr: float = 1.0) -> optim.SGD:
    return optim.SGD([Value(1.0)], lr=lr)


def test_each_scheduler_follows_its_formula() -> None:
    steps = rates(lr_scheduler.StepLR(sgd(), step_size=3, gamma=0.5), 10)
    assert steps == pytest.approx([0.5 ** (e // 3) for e in range(10)], rel=1e-15)
    decay = rates(lr_scheduler.ExponentialLR(sgd(), gamma=0.9), 10)
    assert decay == pytest.approx([0.9**e for e in range(10)], rel=1e-14)
    cosine = rates(lr_scheduler.CosineAnnealingLR(sgd(), T_max=5, eta_min=0.1), 21)
    closed = [0.1 + 0.9 * (1 + math.cos(math.pi * e / 5)) / 2 for e in range(21)]
    assert cosine == pytest.approx(closed, rel=1e-12, abs=1e-15)  # down, up, down, up
    warm = rates(lr_scheduler.LambdaLR(sgd(0.2), lambda e: min(1.0, (e + 1) / 4)), 6)
    assert warm == [0.2 * min(1.0, (e + 1) / 4) for e in range(6)]


def test_a_scheduler_records_initial_lr_and_sets_the_groups_rates() -> None:
    opt = optim.SGD([{"params": [Value(1.0)]}, {"params": [Value(2.0)], "lr": 0.01}], lr=0.1)
    scheduler = lr_scheduler.LambdaLR(opt, [lambda e: 0.5, lambda e: 2.0])
    assert [group["initial_lr"] for group in opt.param_groups] == [0.1, 0.01]
    assert scheduler.base_lrs == [0.1, 0.01]
    assert scheduler.last_epoch == 0
    assert [group["lr"] for group in opt.param_groups] == [0.05, 0.02]
    last = scheduler.get_last_lr()
    last.append(9.0)  # a copy: the scheduler's own list is not changed
    assert scheduler.get_last_lr() == [0.05, 0.02]
    lr_scheduler.StepLR(opt, step_size=1)  # a second scheduler keeps the first initial_lr
    assert [group["initial_lr"] for group in opt.param_groups] == [0.1, 0.01]


def test_stepping_the_scheduler_before_the_optimizer_warns() -> None:
    opt = sgd()
    scheduler = lr_scheduler.StepLR(opt, step_size=1)
    with pytest.warns(UserWarning, match=r"before optimizer\.step"):
        scheduler.step()
    opt.step()
    scheduler.step()  # no second warning: only the first step is checked, as in PyTorch
    in_order = lr_scheduler.ExponentialLR(sgd(), gamma=0.5)
    in_order.optimizer.step()  # type: ignore[attr-defined]
    in_order.step()  # filterwarnings = error: a warning here would fail


BAD_SCHEDULERS: dict[str, tuple[Any, type[Exception], str]] = {
    "not an optimizer": (lambda: lr_scheduler.StepLR([Value(1.0)], 2), TypeError,  # type: ignore[arg-type]
                         "not an optimizer"),
    "step size": (lambda: lr_scheduler.StepLR(sgd(), 0), ValueError, "step_size"),
    "gamma": (lambda: lr_scheduler.ExponentialLR(sgd(), -0.5), ValueError, "gamma"),
    "T_max": (lambda: lr_scheduler.CosineAnnealingLR(sgd(), 2.5), ValueError, "T_max"),  # type: ignore[arg-type]
    "eta_min": (lambda: lr_scheduler.CosineAnnealingLR(sgd(), 5, math.inf), ValueError,
                "eta_min"),
    "lambdas": (lambda: lr_scheduler.LambdaLR(sgd(), [abs, abs]), ValueError, "expected 1"),
    "lambda": (lambda: lr_scheduler.LambdaLR(sgd(), 0.5), TypeError, "function"),  # type: ignore[arg-type]
    "last epoch": (lambda: lr_scheduler.StepLR(sgd(), 2, last_epoch=-2), ValueError, ">= -1"),
    "resume": (lambda: lr_scheduler.StepLR(sgd(), 2, last_epoch=4), ValueError, "initial_lr"),
}  # fmt: skip


@pytest.mark.parametrize("case", BAD_SCHEDULERS.values(), ids=list(BAD_SCHEDULERS))
def test_bad_scheduler_settings_are_refused(case: tuple[Any, type[Exception], str]) -> None:
    build, error, message = case
    with pytest.raises(error, match=message):
        build()


def test_a_group_added_after_the_scheduler_is_reported() -> None:
    opt = sgd()
    scheduler = lr_scheduler.ExponentialLR(opt, gamma=0.5)
    opt.add_param_group({"params": [Value(2.0)]})
    opt.step()
    with pytest.raises(ValueError, match="2 parameter groups"):
        scheduler.step()


SCHEDULES: list[tuple[Any, dict[str, Any]]] = [
    (lr_scheduler.StepLR, {"step_size": 2, "gamma": 0.5}),
    (lr_scheduler.ExponentialLR, {"gamma": 0.8}),
    (lr_scheduler.CosineAnnealingLR, {"T_max": 3, "eta_min": 0.01}),
    (lr_scheduler.LambdaLR, {"lr_lambda": lambda e: 1 / (1 + e)}),
]


@pytest.mark.parametrize(("kind", "settings"), SCHEDULES, ids=lambda x: getattr(x, "__name__", ""))
@pytest.mark.parametrize("scheduler_first", [True, False])
def test_saved_optimizer_and_scheduler_continue_identically(
    kind: Any, settings: dict[str, Any], scheduler_first: bool
) -> None:
    def run(restore: bool) -> tuple[list[float], list[float]]:
        params = values(0.5, -0.5)
        opt = optim.AdamW([{"params": params[:1]}, {"params": params[1:], "lr": 0.02}], lr=0.1)
        scheduler = kind(opt, **settings)
        for epoch in range(8):
            if restore and epoch == 4:
                saved = json.loads(json.dumps([opt.state_dict(), scheduler.state_dict()]))
                opt = optim.AdamW([{"params": params[:1]}, {"params": params[1:]}], lr=0.5)
                scheduler = kind(opt, **settings)
                loads = [(opt, saved[0]), (scheduler, saved[1])]
                for thing, state in loads[::-1] if scheduler_first else loads:
                    thing.load_state_dict(state)
            for _ in range(2):
                for p in params:
                    p.grad = math.cos(p.data)
                opt.step()
            scheduler.step()
        return [p.data for p in params], scheduler.get_last_lr()

    assert run(restore=True) == run(restore=False)


def test_a_bad_scheduler_state_leaves_the_scheduler_untouched() -> None:
    opt = sgd()
    scheduler = lr_scheduler.StepLR(opt, step_size=2)
    opt.step()
    scheduler.step()
    good = scheduler.state_dict()
    gamma_gone = {key: value for key, value in good.items() if key != "gamma"}
    for bad, message in [
        ({**good, "type": "ExponentialLR"}, "not StepLR"),
        ({**good, "base_lrs": [1.0, 2.0]}, "base_lrs must be a list of 1"),
        ({**good, "last_lr": ["x"]}, "last_lr"),
        ({**good, "last_epoch": -1}, "last_epoch"),
        ({**good, "step_size": 0}, "step_size"),
        (gamma_gone, "lacks gamma"),
    ]:
        with pytest.raises(ValueError, match=message):
            scheduler.load_state_dict(bad)
        assert scheduler.state_dict() == good
        assert opt.param_groups[0]["lr"] == good["last_lr"][0]
    with pytest.raises(TypeError, match="dict"):
        scheduler.load_state_dict([])  # type: ignore[arg-type]


def small_model() -> nn.MLP:
    return nn.MLP(2, [4, 1], seed=0)


@pytest.mark.parametrize("compile", [False, True])
def test_fit_steps_the_scheduler_once_per_epoch_after_the_epochs_updates(compile: bool) -> None:
    once, scheduled = small_model(), small_model()
    ag.fit(
        once,
        X_XOR,
        Y_XOR,
        loss="bce",
        optimizer=optim.SGD(once.parameters(), lr=0.1),
        epochs=1,
        batch_size=8,
        progress=False,
        compile=compile,
        seed=0,  # the same shuffles in both runs
    )
    opt = optim.SGD(scheduled.parameters(), lr=0.1)
    scheduler = lr_scheduler.StepLR(opt, step_size=1, gamma=0.0)  # rate 0 after epoch 1
    history = ag.fit(
        scheduled,
        X_XOR,
        Y_XOR,
        loss="bce",
        optimizer=opt,
        scheduler=scheduler,
        epochs=4,
        batch_size=8,
        progress=False,
        compile=compile,
        seed=0,  # the same shuffles in both runs
    )
    assert scheduled.state_dict() == once.state_dict()  # epoch 1 at 0.1 (five steps), then 0
    assert opt.steps == 20
    assert scheduler.last_epoch == history.epochs == 4
    assert history.loss[1:] == pytest.approx([history.loss[1]] * 3, rel=1e-14)  # sums reordered


def test_fit_with_early_stopping_steps_the_scheduler_for_each_epoch_run() -> None:
    model = small_model()
    opt = optim.Adam(model.parameters(), lr=0.05)
    scheduler = lr_scheduler.LambdaLR(opt, lambda epoch: 1.0 if epoch < 3 else 0.0)
    history = ag.fit(
        model,
        X_XOR,
        Y_XOR,
        loss="bce",
        optimizer=opt,
        scheduler=scheduler,
        validation=(X_XOR, Y_XOR),
        epochs=50,
        early_stopping=1,
        progress=False,
    )
    assert history.stopped_early  # rate 0 from epoch 4: no better validation loss
    assert history.epochs == 4
    assert scheduler.last_epoch == history.epochs


def test_fit_refuses_a_scheduler_of_another_optimizer() -> None:
    model = small_model()
    before = model.state_dict()
    mine = optim.SGD(model.parameters(), lr=0.1)
    other = optim.SGD(small_model().parameters(), lr=0.1)
    scheduler = lr_scheduler.StepLR(other, step_size=1)
    for optimizer in [mine, None]:  # another optimizer's scheduler; a scheduler but no optimizer
        with pytest.raises(ValueError, match="built on the optimizer passed"):
            ag.fit(model, X_XOR, Y_XOR, loss="bce", optimizer=optimizer, scheduler=scheduler)
    with pytest.raises(TypeError, match="lr_scheduler"):
        ag.fit(
            model,
            X_XOR,
            Y_XOR,
            loss="bce",
            optimizer=mine,
            scheduler=mine,  # type: ignore[arg-type]
            progress=False,
        )
    assert model.state_dict() == before
    assert other.param_groups[0]["lr"] == 0.1


def test_the_scheduler_module_is_optim_lr_scheduler() -> None:
    assert ag.optim.lr_scheduler is lr_scheduler
    assert ag.optim.lr_scheduler.StepLR is lr_scheduler.StepLR
    assert isinstance(ag.optim.lr_scheduler.LambdaLR(sgd(), abs), lr_scheduler.LRScheduler)


def test_the_old_import_path_still_works_with_a_deprecation_warning() -> None:
    with pytest.warns(DeprecationWarning, match=r"import StepLR from autograd_lite\.optim\."):
        from autograd_lite.lr_scheduler import StepLR
    assert StepLR is lr_scheduler.StepLR
    import autograd_lite.lr_scheduler as old

    with pytest.warns(DeprecationWarning, match="import LambdaLR from"):
        moved = old.LambdaLR
    assert moved is lr_scheduler.LambdaLR
    assert set(dir(old)) == set(lr_scheduler.__all__)
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        old.nothing  # noqa: B018


SCHEDULERS: list[tuple[str, dict[str, Any]]] = [
    ("StepLR", {"step_size": 3}),
    ("StepLR", {"step_size": 2, "gamma": 0.5}),
    ("ExponentialLR", {"gamma": 0.9}),
    ("CosineAnnealingLR", {"T_max": 5}),
    ("CosineAnnealingLR", {"T_max": 4, "eta_min": 0.001}),  # 16 epochs: four half-periods
    ("LambdaLR", {"lr_lambda": lambda epoch: 0.95**epoch}),
    ("LambdaLR", {"lr_lambda": [lambda e: min(1.0, (e + 1) / 4), lambda e: 1 / (1 + e)]}),
]


SCHEDULED: list[tuple[str, dict[str, Any]]] = [
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("Adam", {"lr": 0.05}),
    ("AdamW", {"lr": 0.05}),
    ("RMSprop", {"lr": 0.01}),
]


def scheduler_ids(case: tuple[str, dict[str, Any]]) -> str:
    kind, settings = case
    shown = {k: v for k, v in settings.items() if k != "lr_lambda"}
    return kind + ("-list" if isinstance(settings.get("lr_lambda"), list) else "") + str(shown)


@pytest.mark.requires_torch
@pytest.mark.parametrize("scheduler", SCHEDULERS, ids=scheduler_ids)
@pytest.mark.parametrize("optimizer", SCHEDULED, ids=lambda case: case[0])
def test_schedulers_match_pytorch_epoch_by_epoch(
    scheduler: tuple[str, dict[str, Any]], optimizer: tuple[str, dict[str, Any]]
) -> None:
    name, options = optimizer
    pair = Pair(name, [(3, {}), (2, {"lr": options["lr"] / 10})], options, scheduler)
    pair.check()  # the constructor's step
    for _ in range(16):
        for _ in range(3):  # three batches per epoch
            pair.train_step()
        pair.epoch_end()


@pytest.mark.requires_torch
@pytest.mark.parametrize("scheduler", SCHEDULERS, ids=scheduler_ids)
def test_saved_optimizer_and_scheduler_continue_like_pytorch(
    scheduler: tuple[str, dict[str, Any]],
) -> None:
    """Stop after 7 epochs, rebuild ours from JSON'd state dicts, go on beside PyTorch."""
    kind, settings = scheduler
    pair = Pair("AdamW", [(3, {}), (2, {"lr": 0.005})], {"lr": 0.05}, scheduler)
    for epoch in range(14):
        if epoch == 7:
            assert pair.schedulers is not None
            saved = json.loads(
                json.dumps([pair.ours.state_dict(), pair.schedulers[0].state_dict()])
            )
            params = pair.params
            fresh = optim.AdamW([{"params": params[0]}, {"params": params[1], "lr": 0.7}], lr=0.9)
            fresh_scheduler = getattr(lr_scheduler, kind)(fresh, **settings)
            fresh_scheduler.load_state_dict(saved[1])
            fresh.load_state_dict(saved[0])
            pair.ours, pair.schedulers = fresh, (fresh_scheduler, pair.schedulers[1])
            pair.check()
        for _ in range(2):
            pair.train_step()
        pair.epoch_end()


RESUMED = [
    ("StepLR", {"step_size": 2, "gamma": 0.5}),
    ("ExponentialLR", {"gamma": 0.5}),
    ("CosineAnnealingLR", {"T_max": 10}),
    ("LambdaLR", {"lr_lambda": lambda e: 1 / (e + 1)}),
]


@pytest.mark.requires_torch
@pytest.mark.parametrize(("kind", "settings"), RESUMED, ids=[case[0] for case in RESUMED])
def test_a_scheduler_built_with_last_epoch_matches_pytorch(
    kind: str, settings: dict[str, Any]
) -> None:
    """last_epoch=3 with initial_lr in the groups: PyTorch's resume path, its quirks included."""
    ours = optim.SGD([{"params": [Value(1.0)], "lr": 0.2, "initial_lr": 0.4}])
    theirs = torch.optim.SGD(
        [{"params": [torch.zeros((), dtype=torch.float64)], "lr": 0.2, "initial_lr": 0.4}]
    )
    mine = getattr(lr_scheduler, kind)(ours, **settings, last_epoch=3)
    oracle = getattr(torch.optim.lr_scheduler, kind)(theirs, **settings, last_epoch=3)
    for _ in range(8):
        assert mine.last_epoch == oracle.last_epoch
        assert mine.get_last_lr() == pytest.approx(oracle.get_last_lr(), rel=1e-12)
        ours.step()
        theirs.step()
        mine.step()
        oracle.step()
