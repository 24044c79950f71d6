"""The vectorising pass against PyTorch and a hand-written NumPy network, side by side.

    python benchmarks/vectorize.py            # MNIST-shaped and digits-shaped MLPs
    python benchmarks/vectorize.py --quick    # fewer epochs

Each measurement runs in a process of its own (so peak memory is that engine's alone):

- compile: ``vectorize_loss(MLP(nin, [hidden], 10), cross_entropy, row)``, seconds and the
  process's peak resident memory;
- epoch: one pass over the rows in batches of 64 (forward, backward and an Adam step) by the
  grouped program (``prog.run`` and Adam written in NumPy on θ), by PyTorch (float64,
  ``torch.set_num_threads(1)``, the same loop) and by the same network written by hand in
  NumPy (the floor), every engine on one thread (BLAS's too). The median epoch over the
  repeats is reported, as the process's CPU time (steady on a shared machine) and as wall
  time, and the CPU time per batch.

The data are synthetic rows of the shape named (the figures depend on shapes, not values).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from typing import Any

SHAPES = {
    "mnist": (784, 128, 10, 2048),
    "mnist-32": (784, 32, 10, 2048),
    "digits": (64, 32, 10, 1797),
}
BATCH = 64
LR = 1e-3


def data(nin: int, classes: int, rows: int) -> tuple[Any, Any]:
    import numpy as np

    rng = np.random.default_rng(0)
    return rng.uniform(0.0, 1.0, (rows, nin)), rng.integers(0, classes, rows)


def clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def elapsed(start: tuple[float, float]) -> tuple[float, float]:
    """(wall, CPU) seconds since ``start``: on a shared machine the CPU time of the process
    is the steadier figure (one thread: it excludes only the waiting)."""
    wall, cpu = clock()
    return wall - start[0], cpu - start[1]


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def compile_once(shape: str) -> dict[str, float]:
    from autograd_lite import nn
    from autograd_lite.compiler.vectorize import vectorize_loss
    from autograd_lite.losses import cross_entropy

    nin, hidden, classes, _ = SHAPES[shape]
    model = nn.MLP(nin, [hidden, classes], seed=0)
    params = model.parameters()
    before = peak_mb()
    start = time.perf_counter()
    program = vectorize_loss(model, cross_entropy, [0.5] * nin, params=params)
    seconds = time.perf_counter() - start
    assert program is not None
    return {"seconds": seconds, "peak_mb": peak_mb(), "peak_before_mb": before,
            "lines": program.stats["lines"], "nodes": program.stats["nodes"]}  # fmt: skip


class Adam:
    """PyTorch's Adam update on one flat vector."""

    def __init__(self, theta: Any, lr: float = LR) -> None:
        import numpy as np

        self.theta, self.lr, self.t = theta, lr, 0
        self.m, self.v = np.zeros_like(theta), np.zeros_like(theta)

    def step(self, grad: Any) -> None:
        import numpy as np

        self.t += 1
        self.m *= 0.9
        self.m += 0.1 * grad
        self.v *= 0.999
        self.v += 0.001 * grad * grad
        m_hat = self.m / (1 - 0.9**self.t)
        denominator = np.sqrt(self.v / (1 - 0.999**self.t)) + 1e-8
        self.theta -= self.lr * m_hat / denominator


def epochs_vectorized(shape: str, repeats: int) -> list[tuple[float, float]]:
    import numpy as np

    from autograd_lite import nn
    from autograd_lite.compiler.vectorize import vectorize_loss
    from autograd_lite.losses import cross_entropy

    nin, hidden, classes, rows = SHAPES[shape]
    X, y = data(nin, classes, rows)
    model = nn.MLP(nin, [hidden, classes], seed=0)
    params = model.parameters()
    program = vectorize_loss(model, cross_entropy, list(X[0]), params=params)
    assert program is not None
    theta = np.array([p.data for p in params])
    adam = Adam(theta)
    labels = y.astype(float)
    times = []
    for _ in range(repeats):
        start = clock()
        for k in range(0, rows, BATCH):
            _, _, grad = program.run(theta, X[k : k + BATCH], labels[k : k + BATCH])
            adam.step(grad / len(X[k : k + BATCH]))
        times.append(elapsed(start))
    return times


def epochs_torch(shape: str, repeats: int) -> list[tuple[float, float]]:
    import torch

    torch.set_num_threads(1)
    nin, hidden, classes, rows = SHAPES[shape]
    Xn, yn = data(nin, classes, rows)
    X, y = torch.tensor(Xn, dtype=torch.float64), torch.tensor(yn)
    model = torch.nn.Sequential(
        torch.nn.Linear(nin, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, classes)
    ).double()
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    times = []
    for _ in range(repeats):
        start = clock()
        for k in range(0, rows, BATCH):
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(X[k : k + BATCH]), y[k : k + BATCH])
            loss.backward()
            optimizer.step()
        times.append(elapsed(start))
    return times


def epochs_numpy(shape: str, repeats: int) -> list[tuple[float, float]]:
    """The same network written by hand in NumPy: the floor."""
    import numpy as np

    nin, hidden, classes, rows = SHAPES[shape]
    X, y = data(nin, classes, rows)
    rng = np.random.default_rng(1)
    shapes = [(hidden, nin), (hidden,), (classes, hidden), (classes,)]
    sizes = [int(np.prod(s)) for s in shapes]
    theta = rng.uniform(-0.05, 0.05, sum(sizes))
    offsets = np.cumsum([0, *sizes])
    W0, b0, W1, b1 = (theta[a:b].reshape(s) for a, b, s in zip(offsets, offsets[1:], shapes))
    adam = Adam(theta)
    grad = np.zeros_like(theta)
    dW0, db0, dW1, db1 = (grad[a:b].reshape(s) for a, b, s in zip(offsets, offsets[1:], shapes))
    times = []
    for _ in range(repeats):
        start = clock()
        for k in range(0, rows, BATCH):
            x, t = X[k : k + BATCH], y[k : k + BATCH]
            n = len(x)
            z0 = x @ W0.T + b0
            h0 = np.maximum(z0, 0.0)
            z1 = h0 @ W1.T + b1
            shifted = z1 - z1.max(1, keepdims=True)
            e = np.exp(shifted)
            p = e / e.sum(1, keepdims=True)
            d1 = p
            d1[np.arange(n), t] -= 1.0
            d1 /= n
            dW1[...] = d1.T @ h0
            db1[...] = d1.sum(0)
            d0 = (d1 @ W1) * (z0 > 0)
            dW0[...] = d0.T @ x
            db0[...] = d0.sum(0)
            adam.step(grad)
        times.append(elapsed(start))
    return times


def child(what: str, shape: str, repeats: int) -> dict[str, Any]:
    if what == "compile":
        return compile_once(shape)
    run = {"vectorized": epochs_vectorized, "torch": epochs_torch, "numpy": epochs_numpy}[what]
    times = run(shape, repeats + 1)[1:]  # the first epoch warms caches up
    wall, cpu = zip(*times, strict=True)
    return {"wall": statistics.median(wall), "cpu": statistics.median(cpu), "min_cpu": min(cpu)}


def in_process(what: str, shape: str, repeats: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", what, shape, str(repeats)]
    one_thread = {
        name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    }
    environment = {**os.environ, **one_thread}  # every engine on one thread, as PyTorch is
    output = subprocess.run(command, capture_output=True, text=True, check=True, env=environment)  # noqa: S603
    return json.loads(output.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        what, shape, repeats = args.child
        print(json.dumps(child(what, shape, int(repeats))))
        return
    repeats = 3 if args.quick else 7
    print(
        "| network | rows | compile | peak memory | grouped epoch | PyTorch f64, 1 thread "
        "| hand-written NumPy |"
    )
    print("|---|---|---|---|---|---|---|")
    for shape, (nin, hidden, classes, rows) in SHAPES.items():
        built = in_process("compile", shape, repeats)
        epochs = {e: in_process(e, shape, repeats) for e in ("vectorized", "torch", "numpy")}
        batches = -(-rows // BATCH)
        cells = [
            f"{epochs[e]['cpu'] * 1e3:.1f} ms CPU, {epochs[e]['wall'] * 1e3:.1f} ms wall "
            f"({epochs[e]['cpu'] / batches * 1e6:.0f} µs/batch)"
            for e in ("vectorized", "torch", "numpy")
        ]
        print(
            f"| MLP({nin}, [{hidden}], {classes}) | {rows} | {built['seconds']:.2f} s "
            f"| {built['peak_mb']:.0f} MB | {' | '.join(cells)} |"
        )


if __name__ == "__main__":
    main()
