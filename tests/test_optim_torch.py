"""AdamW and parameter groups against PyTorch, step by step, to 1e-12 (skipped without torch)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from autograd_lite import Value, optim

torch = pytest.importorskip("torch", reason="PyTorch is the oracle these tests compare against")

Groups = list[tuple[int, dict[str, Any]]]  # (how many parameters, the group's overrides)


class Pair:
    """The same optimizer over the same start values, ours and PyTorch's."""

    def __init__(
        self,
        name: str,
        groups: Groups,
        options: dict[str, Any],
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

    def check(self) -> None:
        for ps, ts in zip(self.params, self.tensors):
            assert [p.data for p in ps] == pytest.approx([t.item() for t in ts], rel=1e-12)
        ours_lrs = [group["lr"] for group in self.ours.param_groups]
        theirs_lrs = [group["lr"] for group in self.theirs.param_groups]
        assert ours_lrs == pytest.approx(theirs_lrs, rel=1e-12, abs=1e-15)


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


GROUPS: list[tuple[str, Groups, dict[str, Any]]] = [
    ("SGD", [(3, {}), (2, {"lr": 0.01, "momentum": 0.5}), (2, {"nesterov": True})],
     {"lr": 0.1, "momentum": 0.9}),
    ("SGD", [(2, {"weight_decay": 0.1}), (3, {"lr": 0.3})], {"lr": 0.05}),
    ("Adam", [(3, {"betas": (0.5, 0.6)}), (2, {"lr": 0.1, "weight_decay": 0.2, "amsgrad": True})],
     {"lr": 0.01}),
    ("AdamW", [(3, {"weight_decay": 0.0}), (2, {"lr": 0.1, "eps": 1e-4}), (1, {})],
     {"weight_decay": 0.05}),
    ("RMSprop", [(3, {"alpha": 0.5}), (2, {"lr": 0.001, "weight_decay": 0.1})], {}),
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
