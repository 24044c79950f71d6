"""Benchmark autograd_lite against micrograd, PyTorch on scalars and bare floats.

    python benchmarks/run.py            # the full suite (several minutes)
    python benchmarks/run.py --quick    # fewer steps, sizes and repeats: under a minute

Engines run side by side, round-robin, in one process; each figure is the median (and
min) over the repeats of the time per graph node. The garbage collector is on, as users
have it; the `gc off` rows show what it costs. Compiled mode (`fit(compile=True)`, pure
Python and over NumPy columns) runs the demo step alongside the eager engines, and
`autograd-lite train` is timed on a generated 100,000-row CSV file. Output: a markdown
report on stdout, progress on stderr.
"""

from __future__ import annotations

import argparse
import gc
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import date
from typing import Any, NamedTuple

from compiled import (
    NUMPY,
    PURE_PYTHON,
    CompiledDemo,
    compile_times,
    csv_epochs,
    default_batch_size,
    fit_one_epoch_calls,
    seconds,
    whole_fit,
)
from engines import Engine, all_engines
from workloads import DemoModel, chain, demo_accuracy, demo_step, dot, graph_size, moons

from autograd_lite.tabular import HOLD_OUT


def timed(
    build: Callable[[], Any], backward: bool, engine: Engine, gc_on: bool
) -> tuple[float, float]:
    """(forward seconds, backward seconds) for one run; garbage from earlier runs cleared."""
    gc.collect()
    if not gc_on:
        gc.disable()
    try:
        start = time.perf_counter()
        root = build()
        middle = time.perf_counter()
        if backward:
            engine.backward(root)
        end = time.perf_counter()
    finally:
        gc.enable()
    del root
    return middle - start, end - middle


def measure(
    label: str,
    engines: list[Engine],
    build: Callable[[Engine], Callable[[], Any]],
    nodes: int,
    repeats: int,
    gc_on: bool = True,
) -> dict[str, dict[str, list[float]]]:
    """Round-robin over engines: per engine, per-node nanoseconds for fwd and fwd+bwd."""
    results: dict[str, dict[str, list[float]]] = {
        e.name: {"fwd": [], "fwd+bwd": []} for e in engines
    }
    for _ in range(repeats):
        for engine in engines:
            forward, backward = timed(build(engine), engine.differentiates, engine, gc_on)
            results[engine.name]["fwd"].append(forward / nodes * 1e9)
            if engine.differentiates:
                results[engine.name]["fwd+bwd"].append((forward + backward) / nodes * 1e9)
    print(f"  measured {label}", file=sys.stderr)
    return results


def fmt(samples: list[float]) -> str:
    if not samples:
        return "—"
    med = statistics.median(samples)
    text = f"{med / 1000:.2f} µs" if med >= 1000 else f"{med:.0f} ns"
    low = min(samples)
    return f"{text} (min {low / 1000:.2f} µs)" if low >= 1000 else f"{text} (min {low:.0f} ns)"


def ratio(ours: list[float], other: list[float]) -> str:
    if not ours or not other:
        return "—"
    return f"{statistics.median(other) / statistics.median(ours):.1f}×"


def table(title: str, results: dict[str, dict[str, list[float]]], ours: str) -> list[str]:
    header = "| engine | forward | forward+backward | autograd_lite is faster by |"
    lines = [f"### {title}", "", header, "|---|---|---|---|"]
    for name, r in results.items():
        speedup = (
            ""
            if name == ours or not r["fwd+bwd"]
            else ratio(results[ours]["fwd+bwd"], r["fwd+bwd"])
        )
        lines.append(f"| {name} | {fmt(r['fwd'])} | {fmt(r['fwd+bwd'])} | {speedup} |")
    return [*lines, ""]


def memory_per_node(engine: Engine, steps: int) -> float:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    root = chain(engine, steps)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del root
    return (after - before) / (3 * steps)


def demo_training(engine: Engine, nodes: int, steps: int) -> tuple[list[float], float]:
    """Time ``steps`` demo steps one by one; return (ns per node per step, final accuracy)."""
    X, y = moons()
    model = DemoModel(engine)
    samples = []
    for k in range(steps):
        gc.collect()
        start = time.perf_counter()
        demo_step(model, X, y, k)
        samples.append((time.perf_counter() - start) / nodes * 1e9)
    return samples, demo_accuracy(model, X, y)


class Stepper(NamedTuple):
    name: str
    step: Callable[[int], Any]
    accuracy: Callable[[], float]
    compile_seconds: float | None = None  # compiled steppers: their set-up compilation


def demo_steppers(engines: list[Engine], ours: Engine) -> list[Stepper]:
    """Eager autograd_lite, its compiled modes, then the other engines, each on its own model
    (all starting from the same weights)."""
    X, y = moons()
    steppers = []
    for engine in engines:
        model = DemoModel(engine)
        steppers.append(
            Stepper(
                engine.name,
                lambda k, m=model: demo_step(m, X, y, k),
                lambda m=model: demo_accuracy(m, X, y),
            )
        )
        if engine is ours:
            for label, rows in [("pure Python", PURE_PYTHON), ("NumPy", NUMPY)]:
                compiled = CompiledDemo(ours, X, y, rows)
                steppers.append(
                    Stepper(
                        f"{ours.name} compiled, {label}",
                        compiled.step,
                        compiled.accuracy,
                        compiled.compile_seconds,
                    )
                )
    return steppers


def demo_round_robin(steppers: list[Stepper], nodes: int, steps: int) -> dict[str, list[float]]:
    """Step k of every stepper, then step k+1 of every one...: ns per node per step."""
    samples: dict[str, list[float]] = {s.name: [] for s in steppers}
    for k in range(steps):
        for stepper in steppers:
            gc.collect()
            start = time.perf_counter()
            stepper.step(k)
            samples[stepper.name].append((time.perf_counter() - start) / nodes * 1e9)
    print("  measured demo (round-robin)", file=sys.stderr)
    return samples


def per_step(samples: list[float], nodes: int) -> str:
    med, low = statistics.median(samples) * nodes / 1e6, min(samples) * nodes / 1e6
    return f"{med:.1f} ms (min {low:.1f} ms)" if med >= 10 else f"{med:.2f} ms (min {low:.2f} ms)"


def demo_section(engines: list[Engine], others: list[Engine], quick: bool) -> list[str]:
    ours = engines[0]
    steps = 5 if quick else 100
    X, y = moons()
    nodes = graph_size(demo_step(DemoModel(ours), X, y, 0))  # counted once, on our graph
    micro = next((e.name for e in others if e.name.startswith("micrograd")), None)
    torch = next((e.name for e in others if e.name.startswith("PyTorch")), None)
    steppers = demo_steppers([ours, *others], ours)
    first_compile = next(s.compile_seconds for s in steppers if s.compile_seconds is not None)
    samples = demo_round_robin(steppers, nodes, steps)
    compared = [name for name in (micro, torch) if name is not None]
    report = [
        "### micrograd's demo training step (MLP(2, [16, 16, 1]), 100 moons points)",
        "",
        "Full batch, hinge loss, SGD with micrograd's learning-rate schedule; the engines "
        "take step k in turn (round-robin). The compiled rows are `fit(..., compile=True, "
        "epochs=1, batch_size=None)`'s step after compilation: `fit`'s loop body (zero_grad, "
        "the compiled batch, SGD with weight_decay=2e-4 for micrograd's 1e-4·Σp²) on a model "
        "compiled once. Per-node figures divide by the eager step's node count.",
        "",
        "| engine | per step | per node | " + " | ".join(f"× {n}" for n in compared)
        + f" | accuracy after {steps} steps |",
        "|---|---|---|" + "---|" * len(compared) + "---|",
    ]  # fmt: skip
    for stepper in steppers:
        mine = samples[stepper.name]
        ratios = " | ".join(
            "" if name == stepper.name else ratio(mine, samples[name]) for name in compared
        )
        report.append(
            f"| {stepper.name} | {per_step(mine, nodes)} | {fmt(mine)} | {ratios} | "
            f"{stepper.accuracy():.2f} |"
        )
    gc.disable()
    try:
        samples_off, _ = demo_training(ours, nodes, steps)
        micro_off = [demo_training(e, nodes, steps)[0] for e in others if e.name == micro]
    finally:
        gc.enable()
    print("  measured demo gc off", file=sys.stderr)
    blank = " |" * (len(compared) - 1)
    against = ratio(samples_off, micro_off[0]) if micro_off else ""
    report.append(
        f"| {ours.name}, gc off | {per_step(samples_off, nodes)} | {fmt(samples_off)} | "
        f"{against} |{blank} |"
    )
    for off in micro_off:
        report.append(f"| {micro}, gc off | {per_step(off, nodes)} | {fmt(off)} | |{blank} |")
    epochs = 10 if quick else 100
    for label, rows in [("pure Python", PURE_PYTHON), ("NumPy", NUMPY)]:
        per_epoch = [whole_fit(ours, X, y, rows, epochs) / nodes * 1e9]
        ratios = " | ".join(ratio(per_epoch, samples[name]) for name in compared)
        report.append(
            f"| one `fit(..., compile=True, epochs={epochs}, batch_size=None)` call ÷ {epochs}"
            f", {label} (its compilation included) | {per_step(per_epoch, nodes)} | "
            f"{fmt(per_epoch)} | {ratios} | |"
        )
    print("  measured demo through fit", file=sys.stderr)
    report += ["", f"({nodes:,} nodes per step. The gc-off rows ran after the others, "
               "alone; their × column is against micrograd with gc off.)", ""]  # fmt: skip

    repeats = 5 if quick else 20
    direct = compile_times(ours, X, y, repeats)
    steady = {
        label: statistics.median(samples[f"{ours.name} compiled, {label}"]) * nodes / 1e9
        for label in ("pure Python", "NumPy")
    }
    report += [
        "### Compiling the demo model's per-example loss and gradient",
        "",
        f"| what is timed | median (min) of {repeats} |",
        "|---|---|",
        f"| the first compilation in the process (setting up the pure-Python compiled demo "
        f"above) | {seconds([first_compile])} |",
        f"| `_CompiledLoss(model, hinge).program(row, label)` for labels -1 and 1 (what `fit` "
        f"compiles here), a fresh one each time | {seconds(direct)} |",
    ]
    for label, rows in [("pure Python", PURE_PYTHON), ("NumPy", NUMPY)]:
        calls = fit_one_epoch_calls(ours, X, y, rows, repeats)
        over = [c - steady[label] for c in calls]
        report.append(
            f"| a `fit(..., compile=True, epochs=1, batch_size=None)` call minus a steady "
            f"step, {label}, a new model each call | {seconds(over)} |"
        )
    print("  measured compilation", file=sys.stderr)
    return [*report, ""]


def csv_section(quick: bool) -> list[str]:
    rows = 20_000 if quick else 100_000
    default = default_batch_size(rows - round(rows * HOLD_OUT))
    sizes: list[int | None] = [None, 32, 1024]
    runs, written = csv_epochs(rows, sizes, repeats=1 if quick else 2)
    print("  measured autograd-lite train", file=sys.stderr)
    held_out = round(rows * HOLD_OUT)
    report = [
        f"### `autograd-lite train` on {rows:,} rows × 4 features, one epoch",
        "",
        f"`autograd-lite train FILE --target label --hidden 16,16 --epochs 1 --quiet` run in "
        f"process (`autograd_lite.cli.main`) on a generated CSV file (4 Gaussian features, a "
        f"0/1 label from a nonlinear rule: bce loss; written in {written:.1f} s). The epoch is "
        f"the `fit` call: compilation, {rows - held_out:,} training rows, and scoring the "
        f"{held_out:,} held-out rows (shown apart as well). Median (min) over the repeats.",
        "",
        "| compiled mode | --batch-size | epoch (the `fit` call) | of which scoring held-out "
        "rows | reading the CSV and setting up | whole command | its last line |",
        "|---|---|---|---|---|---|---|",
    ]
    for (mode, size), samples in runs.items():
        shown = f"auto (default): {default}" if size is None else str(size)
        parts = [seconds([r[key] for r in samples]) for key in ("fit", "validation", "prepare",
                                                                 "total")]  # fmt: skip
        report.append(f"| {mode} | {shown} | {' | '.join(parts)} | {samples[-1]['final']} |")
    return [*report, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer sizes and repeats")
    args = parser.parse_args()
    sys.setrecursionlimit(1_000_000)  # micrograd's topological sort recurses
    repeats = 3 if args.quick else 7
    engines = all_engines()
    ours = engines[0].name
    others = [e for e in engines if e.differentiates and e.name != ours]
    report = [
        f"## Benchmark ({date.today().isoformat()}, {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.machine()}, {gc.get_threshold()} GC thresholds"
        f"{', --quick' if args.quick else ''})",
        "",
        "Time per graph node, median of the repeats (min in brackets), engines round-robin "
        "in one process, garbage collector on unless marked.",
        "",
    ]

    steps = 10_000
    results = measure("chain", engines, lambda e: lambda: chain(e, steps), 3 * steps, repeats)
    report += table(f"Chain x → tanh(x·w + b), {3 * steps:,} nodes", results, ours)
    no_gc = measure("chain gc off", engines[:2], lambda e: lambda: chain(e, steps), 3 * steps,
                    repeats, gc_on=False)  # fmt: skip
    report += table(f"Chain, {3 * steps:,} nodes, gc off", no_gc, ours)

    pairs = 10_000
    results = measure("dot", engines, lambda e: lambda: dot(e, pairs), 2 * pairs, repeats)
    report += table(f"Dot product of {pairs:,} pairs, {2 * pairs:,} nodes", results, ours)

    report += demo_section(engines, others, args.quick)
    report += csv_section(args.quick)

    sizes = [1_000, 10_000] if args.quick else [1_000, 10_000, 100_000, 333_334]
    report += ["### Chain scaling (forward+backward per node)", "",
               "| steps (nodes = 3×) | " + " | ".join(e.name for e in [engines[0], *others]) + " |",
               "|---|" + "---|" * (1 + len(others))]  # fmt: skip
    for n in sizes:
        row = [f"| {n:,} |"]
        for engine in [engines[0], *others]:
            if n > 100_000 and engine.name != ours:
                row.append(" — |")
                continue
            runs = max(1, repeats // (3 if n > 10_000 else 1))
            r = measure(f"chain {n}", [engine], lambda e, n=n: lambda: chain(e, n), 3 * n, runs)
            row.append(f" {fmt(r[engine.name]['fwd+bwd'])} |")
        report.append("".join(row))
    report.append("")

    report += ["### Memory per graph node (tracemalloc, 30,000-node chain)", "",
               "| engine | bytes per node |", "|---|---|"]  # fmt: skip
    for engine in [engines[0], *[e for e in others if e.name.startswith("micrograd")]]:
        report.append(f"| {engine.name} | {memory_per_node(engine, 10_000):.0f} |")
    report.append("")
    print("\n".join(report))


if __name__ == "__main__":
    main()
