"""The learning-rate schedulers and fit(scheduler=...), without torch (PyTorch's numbers:
test_optim_torch.py)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

import autograd_lite as ag
from autograd_lite import Value, data, nn, optim
from autograd_lite.optim import lr_scheduler

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
