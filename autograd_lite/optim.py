"""Optimizers with PyTorch's update rules and defaults, on lists of parameter Values.

Each reads ``p.grad`` and writes ``p.data``; ``state_dict()`` / ``load_state_dict()`` save
and restore the hyper-parameters and the per-parameter buffers (momentum, moments).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from .engine import Value

__all__ = ["SGD", "Adam", "Optimizer", "RMSprop"]


class Optimizer:
    """The shared part: parameters, ``zero_grad`` and state saving."""

    hyperparameters: tuple[str, ...] = ()
    buffers: tuple[str, ...] = ()

    def __init__(self, params: Iterable[Value], lr: float) -> None:
        self.params = list(params)
        if not self.params:
            raise ValueError("optimizer got an empty parameter list")
        if not all(isinstance(p, Value) for p in self.params):
            raise TypeError("optimizer parameters must be Values")
        if not lr > 0:
            raise ValueError(f"learning rate must be positive, got {lr!r}")
        self.lr = float(lr)
        self.state: dict[str, list[float]] = {
            name: [0.0] * len(self.params) for name in self.buffers
        }
        self.steps = 0

    def zero_grad(self) -> None:
        """Set every parameter's gradient to 0."""
        for p in self.params:
            p.grad = 0.0
            p.grad_value = None

    def step(self) -> None:
        """Update every parameter from its ``.grad``."""
        self.steps += 1
        for i, p in enumerate(self.params):
            p.data = self._update(i, p.data, p.grad)

    def _update(self, i: int, data: float, grad: float) -> float:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        return {
            "type": type(self).__name__,
            "lr": self.lr,
            "steps": self.steps,
            **{name: getattr(self, name) for name in self.hyperparameters},
            "state": {name: list(values) for name, values in self.state.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a ``state_dict()``; checked whole before anything changes."""
        if state.get("type") != type(self).__name__:
            raise ValueError(f"state is for {state.get('type')!r}, not {type(self).__name__}")
        buffers = state.get("state", {})
        for name in self.buffers:
            values = buffers.get(name)
            if not isinstance(values, list) or len(values) != len(self.params):
                raise ValueError(f"state buffer {name!r} must hold {len(self.params)} numbers")
        self.lr, self.steps = float(state["lr"]), int(state["steps"])
        for name in self.hyperparameters:
            setattr(self, name, state[name])
        self.state = {name: [float(v) for v in buffers[name]] for name in self.buffers}


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov and L2 weight decay.

    g ← grad + wd·p;  b ← μ·b + g (b = g at the first step);  g ← g + μ·b if Nesterov else b;
    p ← p - lr·g.

    >>> w = Value(1.0); w.grad = 0.5
    >>> SGD([w], lr=0.1).step(); w.data
    0.95
    """

    hyperparameters = ("momentum", "weight_decay", "nesterov")
    buffers = ("momentum_buffer",)

    def __init__(
        self,
        params: Iterable[Value],
        lr: float,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        super().__init__(params, lr)
        if nesterov and momentum <= 0:
            raise ValueError("Nesterov momentum needs momentum > 0")
        self.momentum, self.weight_decay, self.nesterov = momentum, weight_decay, nesterov

    def _update(self, i: int, data: float, grad: float) -> float:
        g = grad + self.weight_decay * data
        if self.momentum:
            buffer = self.state["momentum_buffer"]
            buffer[i] = g if self.steps == 1 else self.momentum * buffer[i] + g
            g = g + self.momentum * buffer[i] if self.nesterov else buffer[i]
        return data - self.lr * g


class Adam(Optimizer):
    """Adam with bias correction (and L2 weight decay added to the gradient, as PyTorch's Adam).

    m ← β₁m + (1-β₁)g;  v ← β₂v + (1-β₂)g²;
    p ← p - (lr / (1-β₁ᵗ)) · m / (√v / √(1-β₂ᵗ) + ε).
    """

    hyperparameters = ("betas", "eps", "weight_decay")
    buffers = ("exp_avg", "exp_avg_sq")

    def __init__(
        self,
        params: Iterable[Value],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        if not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"betas must lie in [0, 1), got {betas!r}")
        self.betas, self.eps, self.weight_decay = tuple(betas), eps, weight_decay

    def _update(self, i: int, data: float, grad: float) -> float:
        beta1, beta2 = self.betas
        g = grad + self.weight_decay * data
        m, v = self.state["exp_avg"], self.state["exp_avg_sq"]
        m[i] += (1 - beta1) * (g - m[i])  # PyTorch's lerp form of β₁m + (1-β₁)g
        v[i] = beta2 * v[i] + (1 - beta2) * g * g
        step_size = self.lr / (1 - beta1**self.steps)
        denominator = math.sqrt(v[i]) / math.sqrt(1 - beta2**self.steps) + self.eps
        return data - step_size * m[i] / denominator


class RMSprop(Optimizer):
    """RMSprop: v ← αv + (1-α)g²;  p ← p - lr·g / (√v + ε)."""

    hyperparameters = ("alpha", "eps", "weight_decay")
    buffers = ("square_avg",)

    def __init__(
        self,
        params: Iterable[Value],
        lr: float = 0.01,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        self.alpha, self.eps, self.weight_decay = alpha, eps, weight_decay

    def _update(self, i: int, data: float, grad: float) -> float:
        g = grad + self.weight_decay * data
        v = self.state["square_avg"]
        v[i] = self.alpha * v[i] + (1 - self.alpha) * g * g
        return data - self.lr * g / (math.sqrt(v[i]) + self.eps)
