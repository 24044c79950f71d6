"""Tensor-shaped training: autograd_lite's compiled `fit` against PyTorch and a NumPy floor.

    python benchmarks/tensor_speed.py            # 5 timed epochs per run, every workload
    python benchmarks/tensor_speed.py --quick    # 2 timed epochs, a short timeout
    python benchmarks/tensor_speed.py --only digits --engines numpy,torch

Three workloads, each an MLP with one relu hidden layer, cross-entropy over 10 classes, Adam
(lr 1e-3, PyTorch's update) and batches of 64 shuffled rows:

- digits: `ag.data.load_digits(scale=True)` (1,797 rows × 64 pixels), MLP(64, [32], 10);
- mnist32 / mnist128: 2,048 synthetic rows × 784 features (seeded, uniform in [0, 1), labels
  from a random linear teacher), MLP(784, [32], 10) and MLP(784, [128], 10).

Three engines, each run in its own subprocess (so that memory is its own and one engine's
heap does not slow another), one after another:

- autograd_lite: `ag.fit(model, X, y, loss="cross_entropy", compile=True, ...)` through the
  public API only, so that the figures follow whatever `fit` does. It runs under a timeout and
  a memory cap (RLIMIT_AS): today's compiled mode can take minutes and gigabytes on the
  784-wide models; the table then says "timeout" or "memory cap".
- PyTorch: float64, `torch.set_num_threads(1)`, the same network (`ag.to_torch` of the same
  initial model), `F.cross_entropy`, `torch.optim.Adam`, the same batches in the same order.
- NumPy: the same network written by hand (forward, backward by the matrix formulas
  `dW = δᵀ·x`, Adam), the floor a hand-written tensor program reaches.

All engines start from the weights of `ag.nn.MLP(nin, [hidden, 10], seed=0)`, and shuffle
with `random.Random(0)` as `fit(seed=0)` does, so the three loss trajectories agree: the harness
asserts that PyTorch's and NumPy's epoch losses match (they run the same arithmetic) and
reports how far autograd_lite's are from them. BLAS runs on one thread everywhere.

Each run trains one epoch more than it times: the first epoch includes autograd_lite's
compilation, which is reported as the first epoch's time minus the median of the others.
Epochs are timed in the subprocess's CPU time (`time.process_time`; every engine runs on one
thread), which a busy shared machine disturbs less than the wall clock; `--clock wall` times
them by the wall clock instead. Peak memory is the subprocess's maximum resident set size
(`ru_maxrss`), with the resident size after loading the data and the library in brackets.
Output: a markdown table on stdout, progress on stderr.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from typing import Any

from compiled import seconds

WORKLOADS: dict[str, tuple[str, int, int]] = {  # name: (data, input width, hidden width)
    "digits": ("digits", 64, 32),
    "mnist32": ("synthetic", 784, 32),
    "mnist128": ("synthetic", 784, 128),
}
ENGINES = ["numpy", "torch", "autograd_lite"]
CLASSES, BATCH, LR, SEED = 10, 64, 1e-3, 0
SYNTHETIC_ROWS = 2048
MARK = "@@ "  # a worker's result lines start with this; anything else it prints is ignored
CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}
clock = CLOCKS["cpu"]  # what epochs are timed with; the worker sets it from --clock

Rows = list[list[float]]


# --- the data and the starting model, the same in every worker ---------------------


def synthetic(rows: int, features: int, seed: int = SEED) -> tuple[Rows, list[int]]:
    """``rows`` rows of uniform [0, 1) features (a stand-in for pixels); each label is the
    class a random linear teacher scores highest, so the task can be learnt."""
    import numpy as np

    rng = np.random.default_rng(seed)
    X = rng.random((rows, features))
    teacher = rng.standard_normal((features, CLASSES))
    scores = (X - 0.5) @ teacher
    return X.tolist(), [int(k) for k in scores.argmax(axis=1)]


def load(workload: str) -> tuple[Rows, list[int]]:
    source, nin, _ = WORKLOADS[workload]
    if source == "digits":
        from autograd_lite import data

        return data.load_digits(scale=True)
    return synthetic(SYNTHETIC_ROWS, nin)


def start_model(workload: str) -> Any:
    """The starting model every engine copies: ``ag.nn.MLP(nin, [hidden, 10], seed=0)``."""
    from autograd_lite import nn

    _, nin, hidden = WORKLOADS[workload]
    return nn.MLP(nin, [hidden, CLASSES], seed=SEED)


def batches(rows: int, epochs: int) -> list[list[list[int]]]:
    """Each epoch's batches of row indices, shuffled as ``fit(seed=0)`` shuffles them."""
    rng, order = random.Random(SEED), list(range(rows))
    plan = []
    for _ in range(epochs):
        rng.shuffle(order)
        plan.append([order[i : i + BATCH] for i in range(0, rows, BATCH)])
    return plan


# --- the engines: each returns (per-epoch seconds, per-epoch mean training loss) --------


def run_autograd_lite(workload: str, X: Rows, y: list[int], epochs: int) -> dict[str, Any]:
    import autograd_lite as ag

    model = start_model(workload)
    stamps: list[float] = []

    def stamp(epoch: int, numbers: dict[str, float]) -> None:
        stamps.append(clock())
        report({"event": "epoch", "epoch": epoch, "loss": numbers["loss"]})

    start = clock()
    history = ag.fit(
        model, X, y, loss="cross_entropy", optimizer=ag.optim.Adam(model.parameters(), lr=LR),
        epochs=epochs, batch_size=BATCH, seed=SEED, compile=True, progress=False,
        callbacks=stamp,
    )  # fmt: skip
    times = [b - a for a, b in zip([start, *stamps], stamps, strict=False)]
    return {"times": times, "losses": list(history.loss)}


def run_torch(workload: str, X: Rows, y: list[int], epochs: int) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F  # noqa: N812

    from autograd_lite import to_torch

    torch.set_num_threads(1)
    module = to_torch(start_model(workload))
    optimizer = torch.optim.Adam(module.parameters(), lr=LR)
    inputs = torch.tensor(X, dtype=torch.float64)
    labels = torch.tensor(y, dtype=torch.long)
    times, losses = [], []
    for plan in batches(len(X), epochs):
        start = clock()
        total = 0.0
        for batch in plan:
            index = torch.tensor(batch)
            optimizer.zero_grad()
            loss = F.cross_entropy(module(inputs[index]), labels[index])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        times.append(clock() - start)
        losses.append(total / len(X))
        report({"event": "epoch", "epoch": len(times), "loss": losses[-1]})
    return {"times": times, "losses": losses}


def run_numpy(workload: str, X: Rows, y: list[int], epochs: int) -> dict[str, Any]:
    import numpy as np

    model = start_model(workload)
    params = []  # W0, b0, W1, b1: W[i][j] is output i's weight for input j
    for layer in model.layers:
        params.append(np.array([[w.data for w in n.w] for n in layer.neurons]))
        params.append(np.array([n.b.data for n in layer.neurons]))
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    inputs, labels = np.array(X), np.array(y)
    times, losses, step = [], [], 0
    for plan in batches(len(X), epochs):
        start = clock()
        total = 0.0
        for batch in plan:
            x, t = inputs[batch], labels[batch]
            W0, b0, W1, b1 = params
            pre = x @ W0.T + b0  # forward
            h = np.maximum(pre, 0.0)
            z = h @ W1.T + b1
            z = z - z.max(axis=1, keepdims=True)
            log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
            rows = np.arange(len(batch))
            total -= log_p[rows, t].sum()
            dz = np.exp(log_p)  # backward: δ of the logits is (softmax - one-hot) / n
            dz[rows, t] -= 1.0
            dz /= len(batch)
            dh = (dz @ W1) * (pre > 0)
            grads = [dh.T @ x, dh.sum(axis=0), dz.T @ h, dz.sum(axis=0)]
            step += 1  # Adam, as torch.optim.Adam computes it
            correction1, root2 = 1 - beta1**step, (1 - beta2**step) ** 0.5
            for p, g, m_p, v_p in zip(params, grads, m, v, strict=True):
                m_p *= beta1
                m_p += (1 - beta1) * g
                v_p *= beta2
                v_p += (1 - beta2) * g * g
                p -= (LR / correction1) * m_p / (np.sqrt(v_p) / root2 + eps)
        times.append(clock() - start)
        losses.append(total / len(X))
        report({"event": "epoch", "epoch": len(times), "loss": losses[-1]})
    return {"times": times, "losses": losses}


RUNNERS: dict[str, Callable[[str, Rows, list[int], int], dict[str, Any]]] = {
    "numpy": run_numpy,
    "torch": run_torch,
    "autograd_lite": run_autograd_lite,
}


# --- the worker (one engine, one workload, in its own process) ---------------------


def report(record: dict[str, Any]) -> None:
    print(MARK + json.dumps(record), flush=True)


def resident_mb() -> float:
    """The resident set size now, in MB (Linux's /proc; the peak where that is missing)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return peak_mb()


def peak_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes there, KB here


def worker(
    engine: str, workload: str, epochs: int, memory_cap_gb: float | None, clock_name: str
) -> None:
    global clock
    clock = CLOCKS[clock_name]
    if memory_cap_gb is not None:
        cap = int(memory_cap_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    import autograd_lite  # noqa: F401  (in the baseline: every engine loads it for the model)

    X, y = load(workload)
    gc.collect()
    report({"event": "ready", "baseline_mb": resident_mb()})
    try:
        result = RUNNERS[engine](workload, X, y, epochs)
    except MemoryError:
        report({"event": "failed", "why": "memory cap", "peak_mb": peak_mb()})
        return
    report({"event": "done", **result, "peak_mb": peak_mb()})


# --- the parent: run every (workload, engine), then tabulate -----------------------


def run_worker(
    engine: str,
    workload: str,
    epochs: int,
    timeout: float,
    memory_cap_gb: float | None,
    clock_name: str,
) -> dict[str, Any]:
    """Run one worker; its records merged: ``done`` with its figures, or ``failed`` with why."""
    command = [sys.executable, __file__, "--worker", engine, workload, "--epochs", str(epochs)]
    command += ["--clock", clock_name]
    if memory_cap_gb is not None and engine == "autograd_lite":
        command += ["--memory-cap", str(memory_cap_gb)]
    threads = dict.fromkeys(["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"], "1")
    env = {**os.environ, **threads}
    print(f"  {workload} / {engine} ...", file=sys.stderr, flush=True)
    start = time.perf_counter()
    try:
        done = subprocess.run(  # noqa: S603  (this Python, this file)
            command, capture_output=True, text=True, timeout=timeout, env=env, check=False
        )
        output, failure = done.stdout, None if done.returncode == 0 else f"exit {done.returncode}"
        if failure and "MemoryError" in done.stderr:
            failure = "memory cap"
    except subprocess.TimeoutExpired as expired:
        out = expired.stdout or b""
        output = out.decode() if isinstance(out, bytes) else out
        failure = f"timeout ({timeout:.0f} s)"
    records = [json.loads(line[len(MARK) :]) for line in output.splitlines()
               if line.startswith(MARK)]  # fmt: skip
    merged: dict[str, Any] = {"epochs_seen": [r["loss"] for r in records if r["event"] == "epoch"]}
    for record in records:
        merged.update(record)
    if failure is not None and merged.get("event") != "failed":
        merged.update({"event": "failed", "why": failure})
    elapsed = time.perf_counter() - start
    print(f"    {merged.get('why', 'done')} in {elapsed:.1f} s", file=sys.stderr, flush=True)
    return merged


def check_trajectories(workload: str, results: dict[str, dict[str, Any]]) -> list[str]:
    """Assert that PyTorch and NumPy agree epoch by epoch; say how far autograd_lite is."""
    notes = []
    reference = results.get("torch", {}).get("losses") or results.get("numpy", {}).get("losses")
    numpy_losses = results.get("numpy", {}).get("losses")
    torch_losses = results.get("torch", {}).get("losses")
    if numpy_losses and torch_losses:
        gap = max(abs(a - b) / abs(b) for a, b in zip(numpy_losses, torch_losses, strict=True))
        assert gap < 1e-6, f"{workload}: NumPy and PyTorch losses differ by {gap:.1e} (relative)"
        notes.append(f"NumPy vs PyTorch epoch losses: within {gap:.0e} (relative)")
    ours = results.get("autograd_lite", {}).get("losses")
    if ours and reference:
        gap = max(abs(a - b) / abs(b) for a, b in zip(ours, reference, strict=False))
        notes.append(f"autograd_lite vs {'PyTorch' if torch_losses else 'NumPy'}: {gap:.0e}")
    return notes


def table(
    workload: str, results: dict[str, dict[str, Any]], rows: int, notes: list[str]
) -> list[str]:
    _, nin, hidden = WORKLOADS[workload]
    title = "digits" if workload == "digits" else f"{rows:,} synthetic rows × {nin}"
    lines = [
        f"### {title}, MLP({nin}, [{hidden}], {CLASSES}), Adam, batches of {BATCH}",
        "",
        "| engine | epoch, median (min) | epoch ÷ PyTorch's | epoch ÷ NumPy's | compile | "
        "peak RSS (after loading) | last epoch's loss |",
        "|---|---|---|---|---|---|---|",
    ]
    medians = {
        name: statistics.median(r["times"][1:])
        for name, r in results.items()
        if r.get("event") == "done" and len(r["times"]) > 1
    }
    for name, r in results.items():
        memory = f"{r['peak_mb']:,.0f} MB" if "peak_mb" in r else "—"
        if "baseline_mb" in r:
            memory += f" ({r['baseline_mb']:,.0f} MB)"
        if r.get("event") != "done":
            seen = f"; {len(r['epochs_seen'])} epoch(s) done" if r.get("epochs_seen") else ""
            lines.append(f"| {name} | {r.get('why', 'failed')}{seen} | | | | {memory} | |")
            continue
        steady = r["times"][1:]
        mine = medians[name]
        ratios = [f"{mine / medians[o]:.1f}×" if o in medians and o != name else ""
                  for o in ("torch", "numpy")]  # fmt: skip
        compiled = r["times"][0] - mine
        shown_compile = seconds([compiled]) if name == "autograd_lite" else "—"
        lines.append(
            f"| {name} | {seconds(steady)} | {' | '.join(ratios)} | {shown_compile} | "
            f"{memory} | {r['losses'][-1]:.4f} |"
        )
    return [*lines, "", *(f"- {note}" for note in notes), ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 timed epochs, 120 s timeout")
    parser.add_argument("--epochs", type=int, help="timed epochs (default 5, --quick 2)")
    parser.add_argument("--only", help="workloads, comma-separated: " + ",".join(WORKLOADS))
    parser.add_argument("--engines", default=",".join(ENGINES), help="engines, comma-separated")
    parser.add_argument(
        "--timeout", type=float, help="seconds per autograd_lite run (default 900, --quick 120)"
    )
    parser.add_argument(
        "--memory-cap", type=float, help="GB of address space for autograd_lite (default 4)"
    )
    parser.add_argument(
        "--clock", choices=sorted(CLOCKS), default="cpu", help="time epochs by CPU or wall time"
    )
    parser.add_argument("--worker", nargs=2, metavar=("ENGINE", "WORKLOAD"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    timed = args.epochs or (2 if args.quick else 5)
    if args.worker:
        worker(*args.worker, timed, args.memory_cap, args.clock)
        return
    workloads = args.only.split(",") if args.only else list(WORKLOADS)
    engines = args.engines.split(",")
    timeout = args.timeout or (120.0 if args.quick else 900.0)
    cap = args.memory_cap or 4.0
    report_lines = [
        f"## Tensor-shaped training ({date.today().isoformat()}, {platform.python_implementation()}"
        f" {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores"
        f"{', --quick' if args.quick else ''})",
        "",
        f"`python benchmarks/tensor_speed.py{' --quick' if args.quick else ''}`: each engine in "
        f"its own process, one after another; {timed} timed epochs ({args.clock} time) after a "
        f"first one "
        f"(autograd_lite's compile = first epoch − median epoch); autograd_lite capped at "
        f"{timeout:.0f} s and {cap:g} GB.",
        "",
    ]
    for workload in workloads:
        results = {}
        for engine in engines:
            limit = timeout if engine == "autograd_lite" else max(timeout, 600.0)
            results[engine] = run_worker(engine, workload, timed + 1, limit, cap, args.clock)
        notes = check_trajectories(workload, results)
        rows = 1797 if workload == "digits" else SYNTHETIC_ROWS
        report_lines += table(workload, results, rows, notes)
    print("\n".join(report_lines))


if __name__ == "__main__":
    main()
