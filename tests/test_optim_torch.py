"""AdamW, parameter groups and the learning-rate schedulers against PyTorch, step by step, to
1e-12 (skipped without torch)."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from autograd_lite import Value, optim
from autograd_lite.optim import lr_scheduler

torch = pytest.importorskip("torch", reason="PyTorch is the oracle these tests compare against")

Groups = list[tuple[int, dict[str, Any]]]  # (how many parameters, the group's overrides)


class Pair:
    """The same optimizer (and scheduler) over the same start values, ours and PyTorch's."""

    def __init__(
        self,
        name: str,
        groups: Groups,
        options: dict[str, Any],
        scheduler: tuple[str, dict[str, Any]] | None = None,
        seed: int = 0,
    ) -> None:
        self.rng = random.Random(seed)
        self.params = [[Value(self.rng.uniform(-1, 1)) for _ in range(n)] for n, _ in groups]
        self.tensors = [
            [torch.tensor(p.data, dtype=torch.float64, requires_grad=True) for p in group]
            for group in self.params
        ]
        ours_groups = [{"params": ps, **extra} for ps, (_, extra) in zip(self.params, groups)]
        torch_groups = [{"params": ts, **extra} for ts, (_, extra) in zip(self.tensors, groups)]
        self.ours = getattr(optim, name)(ours_groups, **options)
        self.theirs = getattr(torch.optim, name)(torch_groups, **options)
        self.schedulers: tuple[Any, Any] | None = None
        if scheduler is not None:
            kind, settings = scheduler
            self.schedulers = (
                getattr(lr_scheduler, kind)(self.ours, **settings),
                getattr(torch.optim.lr_scheduler, kind)(self.theirs, **settings),
            )

    def train_step(self) -> None:
        self.ours.zero_grad()
        self.theirs.zero_grad()
        for ps, ts in zip(self.params, self.tensors):
            for p, t in zip(ps, ts):
                p.grad = self.rng.uniform(-2, 2)
                t.grad = torch.tensor(p.grad, dtype=torch.float64)
        self.ours.step()
        self.theirs.step()
        self.check()

    def epoch_end(self) -> None:
        assert self.schedulers is not None
        ours, theirs = self.schedulers
        ours.step()
        theirs.step()
        assert ours.last_epoch == theirs.last_epoch
        self.check()

    def check(self) -> None:
        for ps, ts in zip(self.params, self.tensors):
            assert [p.data for p in ps] == pytest.approx([t.item() for t in ts], rel=1e-12)
        ours_lrs = [group["lr"] for group in self.ours.param_groups]
        theirs_lrs = [group["lr"] for group in self.theirs.param_groups]
        assert ours_lrs == pytest.approx(theirs_lrs, rel=1e-12, abs=1e-15)
        if self.schedulers is not None:
            ours, theirs = self.schedulers
            assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12, abs=1e-15)


ADAMW = [
    {},
    {"lr": 0.01, "betas": (0.8, 0.9), "eps": 1e-6, "weight_decay": 0.1},
    {"lr": 0.02, "weight_decay": 0.0},
    {"lr": 0.05, "amsgrad": True},
]


@pytest.mark.parametrize("options", ADAMW)
def test_adamw_matches_pytorch_for_30_steps(options: dict[str, Any]) -> None:
    pair = Pair("AdamW", [(5, {})], options)
    for _ in range(30):
        pair.train_step()


def test_adam_with_amsgrad_matches_pytorch() -> None:
    pair = Pair("Adam", [(5, {})], {"lr": 0.05, "amsgrad": True, "weight_decay": 0.01})
    for _ in range(30):
        pair.train_step()


RMSPROP = [
    {"momentum": 0.9},
    {"centered": True},
    {"lr": 0.02, "momentum": 0.5, "centered": True, "weight_decay": 0.1},
    {"lr": 0.005, "alpha": 0.3, "centered": True, "momentum": 0.2},  # lerp's weight >= 0.5
    {"lr": 0.01, "alpha": 0.9, "eps": 1e-4, "momentum": 0.99},
]


@pytest.mark.parametrize("options", RMSPROP)
def test_rmsprop_with_momentum_and_centering_matches_pytorch_step_by_step(
    options: dict[str, Any],
) -> None:
    pair = Pair("RMSprop", [(5, {})], options)
    for _ in range(30):
        pair.train_step()  # the weights, compared after every step
        ours, theirs = pair.ours.state_dict()["state"], pair.theirs.state_dict()["state"]
        assert ours.keys() == theirs.keys()
        for index, buffers in ours.items():
            assert buffers.keys() == theirs[index].keys()  # the same buffers, no more
            for key, value in buffers.items():
                expected = float(theirs[index][key])
                assert value == pytest.approx(expected, rel=1e-12, abs=1e-300), key


def test_rmsprop_has_pytorchs_settings_and_defaults() -> None:
    ours = optim.RMSprop([Value(1.0)]).param_groups[0]
    theirs = torch.optim.RMSprop([torch.tensor(1.0, requires_grad=True)]).param_groups[0]
    assert {key: theirs[key] for key in ours if key != "params"} == {
        key: value for key, value in ours.items() if key != "params"
    }
    assert {"momentum", "centered"} <= ours.keys()


GROUPS: list[tuple[str, Groups, dict[str, Any]]] = [
    ("SGD", [(3, {}), (2, {"lr": 0.01, "momentum": 0.5}), (2, {"nesterov": True})],
     {"lr": 0.1, "momentum": 0.9}),
    ("SGD", [(2, {"weight_decay": 0.1}), (3, {"lr": 0.3})], {"lr": 0.05}),
    ("Adam", [(3, {"betas": (0.5, 0.6)}), (2, {"lr": 0.1, "weight_decay": 0.2, "amsgrad": True})],
     {"lr": 0.01}),
    ("AdamW", [(3, {"weight_decay": 0.0}), (2, {"lr": 0.1, "eps": 1e-4}), (1, {})],
     {"weight_decay": 0.05}),
    ("RMSprop", [(3, {"alpha": 0.5}), (2, {"lr": 0.001, "weight_decay": 0.1})], {}),
    ("RMSprop", [(3, {"centered": True}), (2, {"momentum": 0.8})], {"lr": 0.01}),
]  # fmt: skip


@pytest.mark.parametrize(("name", "groups", "options"), GROUPS)
def test_parameter_groups_match_pytorch(name: str, groups: Groups, options: dict[str, Any]) -> None:
    pair = Pair(name, groups, options)
    for _ in range(25):
        pair.train_step()
    ours, theirs = pair.ours.state_dict(), pair.theirs.state_dict()
    for mine, reference in zip(ours["param_groups"], theirs["param_groups"], strict=True):
        assert mine["params"] == reference["params"]  # PyTorch's numbering across groups
        for key, value in mine.items():  # every hyper-parameter is PyTorch's, with its value
            expected = reference[key]
            assert value == (list(expected) if isinstance(expected, tuple) else expected), key
    for index, buffers in ours["state"].items():
        for key, value in buffers.items():
            assert value == pytest.approx(float(theirs["state"][index][key]), rel=1e-12), key


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


def test_state_dicts_have_pytorchs_layout() -> None:
    pair = Pair("Adam", [(2, {}), (1, {"lr": 0.5})], {"lr": 0.1}, ("StepLR", {"step_size": 2}))
    pair.train_step()
    pair.epoch_end()
    ours, theirs = pair.ours.state_dict(), pair.theirs.state_dict()
    assert set(ours) - {"type", "steps"} == set(theirs)
    assert set(ours["state"]) == set(theirs["state"])
    assert all(set(ours["state"][i]) == set(theirs["state"][i]) for i in ours["state"])
    for mine, reference in zip(ours["param_groups"], theirs["param_groups"], strict=True):
        assert set(mine) <= set(reference)
        assert mine["initial_lr"] == reference["initial_lr"]
    assert pair.schedulers is not None
    ours_scheduler, theirs_scheduler = (s.state_dict() for s in pair.schedulers)
    for key in ("last_epoch", "base_lrs", "step_size", "gamma"):
        assert ours_scheduler[key] == theirs_scheduler[key], key
    assert ours_scheduler["last_lr"] == theirs_scheduler["_last_lr"]
    assert ours_scheduler["step_count"] == theirs_scheduler["_step_count"]


RESUMED = [
    ("StepLR", {"step_size": 2, "gamma": 0.5}),
    ("ExponentialLR", {"gamma": 0.5}),
    ("CosineAnnealingLR", {"T_max": 10}),
    ("LambdaLR", {"lr_lambda": lambda e: 1 / (e + 1)}),
]


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
