"""The workloads: each builds a graph (the forward pass) and returns its root."""

from __future__ import annotations

import itertools
import random
from typing import Any

from engines import Engine


def chain(engine: Engine, steps: int) -> Any:
    """x -> tanh(x*w + b), `steps` times: 3 nodes a step."""
    w, b = engine.leaf(0.5), engine.leaf(0.1)
    h = engine.leaf(0.3)
    tanh = engine.tanh
    for _ in range(steps):
        h = tanh(h * w + b)
    return h


def dot(engine: Engine, pairs: int, seed: int = 0) -> Any:
    """sum of x_i * w_i over `pairs` pairs: about 2 nodes a pair."""
    rng = random.Random(seed)
    xs = [engine.leaf(rng.uniform(-1, 1)) for _ in range(pairs)]
    ws = [engine.leaf(rng.uniform(-1, 1)) for _ in range(pairs)]
    total = xs[0] * ws[0]
    for x, w in zip(xs[1:], ws[1:], strict=True):
        total = total + x * w
    return total


def moons(n: int = 100, noise: float = 0.1, seed: int = 1) -> tuple[list[list[float]], list[float]]:
    """Two interleaving half circles, labels ±1 (as in micrograd's demo)."""
    from autograd_lite.data import make_moons

    X, y = make_moons(n, noise=noise, seed=seed)
    return X, [2.0 * label - 1.0 for label in y]


class DemoModel:
    """micrograd's demo network, MLP(2, [16, 16, 1]) with relu, written once for all engines."""

    def __init__(self, engine: Engine, seed: int = 1337) -> None:
        rng = random.Random(seed)
        self.engine = engine
        self.layers = []
        sizes = [2, 16, 16, 1]
        for nin, nout in itertools.pairwise(sizes):
            neurons = [
                ([engine.leaf(rng.uniform(-1, 1)) for _ in range(nin)], engine.leaf(0.0))
                for _ in range(nout)
            ]
            self.layers.append(neurons)

    def parameters(self) -> list[Any]:
        return [p for layer in self.layers for w, b in layer for p in [*w, b]]

    def __call__(self, x: list[Any]) -> Any:
        for k, layer in enumerate(self.layers):
            last = k == len(self.layers) - 1
            outs = []
            for w, b in layer:
                act = b
                for wi, xi in zip(w, x, strict=True):
                    act = act + wi * xi
                outs.append(act if last else self.engine.relu(act))
            x = outs
        return x[0]


def demo_loss(model: DemoModel, X: list[list[float]], y: list[float]) -> Any:
    """SVM max-margin loss averaged, plus 1e-4 * sum(p*p): micrograd's demo."""
    relu = model.engine.relu
    losses = [relu(1 - yi * model(xi)) for xi, yi in zip(X, y, strict=True)]
    data_loss = sum(losses[1:], losses[0]) * (1.0 / len(losses))
    params = model.parameters()
    reg = sum((p * p for p in params[1:]), params[0] * params[0])
    return data_loss + 1e-4 * reg


def demo_step(model: DemoModel, X: list[list[float]], y: list[float], k: int) -> Any:
    """One full-batch step: forward, zero grads, backward, SGD with micrograd's schedule."""
    engine = model.engine
    loss = demo_loss(model, X, y)
    params = model.parameters()
    for p in params:
        engine.zero_grad(p)
    engine.backward(loss)
    lr = 1.0 - 0.9 * k / 100
    for p in params:
        engine.set_data(p, float(p.data) - lr * engine.grad(p))
    return loss


def demo_accuracy(model: DemoModel, X: list[list[float]], y: list[float]) -> float:
    scores = [float(model(xi).data) for xi in X]
    return sum((s > 0) == (yi > 0) for s, yi in zip(scores, y, strict=True)) / len(y)


def graph_size(root: Any) -> int:
    """Nodes in an autograd_lite graph (leaves included)."""
    seen = {root}
    stack = [root]
    while stack:
        for child in stack.pop().inputs:
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return len(seen)
