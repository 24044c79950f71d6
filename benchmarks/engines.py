"""The engines under comparison, each behind the same small interface.

An engine supplies `leaf(x)`, `tanh(v)`, `relu(v)`, `backward(v)` and the parameters'
`grad` access, so that every workload below is written once for all engines.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Engine:
    name: str
    leaf: Callable[[float], Any]
    tanh: Callable[[Any], Any]
    relu: Callable[[Any], Any]
    backward: Callable[[Any], None]
    grad: Callable[[Any], float]
    set_data: Callable[[Any, float], None]
    zero_grad: Callable[[Any], None]
    differentiates: bool = True


def autograd_lite_engine() -> Engine:
    from autograd_lite import Value

    def set_data(v: Any, x: float) -> None:
        v.data = x

    def zero(v: Any) -> None:
        v.grad = 0.0

    return Engine(
        "autograd_lite", Value, Value.tanh, Value.relu, Value.backward,
        lambda v: v.grad, set_data, zero,
    )  # fmt: skip


def micrograd_engine() -> Engine | None:
    try:
        from micrograd.engine import Value as MicroValue
    except ImportError:
        return None

    def tanh(v: Any) -> Any:  # micrograd 0.1.0 has no tanh: added in its own closure style
        t = math.tanh(v.data)
        out = MicroValue(t, (v,), "tanh")

        def _backward() -> None:
            v.grad += (1 - t * t) * out.grad

        out._backward = _backward
        return out

    def set_data(v: Any, x: float) -> None:
        v.data = x

    def zero(v: Any) -> None:
        v.grad = 0

    return Engine(
        "micrograd 0.1.0", MicroValue, tanh, MicroValue.relu, MicroValue.backward,
        lambda v: v.grad, set_data, zero,
    )  # fmt: skip


def torch_engine() -> Engine | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)

    def leaf(x: float) -> Any:
        return torch.tensor(x, dtype=torch.float64, requires_grad=True)

    def set_data(v: Any, x: float) -> None:
        with torch.no_grad():
            v.fill_(x)

    def zero(v: Any) -> None:
        v.grad = None

    return Engine(
        f"PyTorch {torch.__version__.split('+')[0]} (0-d float64)", leaf, torch.tanh,
        torch.relu, lambda v: v.backward(), lambda v: float(v.grad), set_data, zero,
    )  # fmt: skip


def float_engine() -> Engine:
    def unsupported(v: Any) -> None:
        raise TypeError("floats do not differentiate")

    def set_data(v: Any, x: float) -> None:
        raise TypeError("floats are immutable")

    return Engine(
        "bare floats (no gradients)", float, math.tanh, lambda v: v if v > 0 else 0.0,
        unsupported, unsupported, set_data, unsupported, differentiates=False,
    )  # fmt: skip


def all_engines() -> list[Engine]:
    found = [autograd_lite_engine(), micrograd_engine(), torch_engine(), float_engine()]
    return [engine for engine in found if engine is not None]
