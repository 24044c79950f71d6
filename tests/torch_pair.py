"""The same optimizer (and scheduler) stepped beside PyTorch's, for the tests marked
``requires_torch`` in test_optim.py and test_lr_scheduler.py."""

from __future__ import annotations

import random
from typing import Any

import pytest

from autograd_lite import Value, optim
from autograd_lite.optim import lr_scheduler

try:
    import torch
except ImportError:  # the tests that need it are marked requires_torch
    torch = None


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
