"""The op table in PyTorch, to replay random expressions there.

pytest imports every module under tests/ for doctests, so without torch this module is
skipped (with the reason) instead of failing the collection.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import pytest

from autograd_lite.testing import Expression

torch = pytest.importorskip("torch", reason="PyTorch is the oracle here; install torch==2.13.0")

TORCH_OPS: dict[str, Callable[..., Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "**": torch.pow,
    "neg": operator.neg,
    "abs": torch.abs,
    "exp": torch.exp,
    "log": torch.log,
    "sqrt": torch.sqrt,
    "sin": torch.sin,
    "cos": torch.cos,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "softplus": torch.nn.functional.softplus,
    "relu": torch.relu,
    "atan": torch.atan,
}


def replay(expr: Expression, *leaves: torch.Tensor) -> torch.Tensor:
    """The expression evaluated on tensors."""
    values = list(leaves)
    for name, positions in expr.steps:
        values.append(TORCH_OPS[name](*(values[i] for i in positions)))
    return values[-1]


def float64(x: float, requires_grad: bool = False) -> torch.Tensor:
    return torch.tensor(x, dtype=torch.float64, requires_grad=requires_grad)
