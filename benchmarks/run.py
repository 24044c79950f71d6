"""Benchmark autograd_lite against micrograd, PyTorch on scalars and bare floats.

    python benchmarks/run.py            # the full suite (a few minutes)
    python benchmarks/run.py --quick    # fewer sizes and repeats

Engines run side by side, round-robin, in one process; each figure is the median (and
min) over the repeats of the time per graph node. The garbage collector is on, as users
have it; the `gc off` rows show what it costs. Output: a markdown report on stdout.
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
from typing import Any

from engines import Engine, all_engines
from workloads import DemoModel, chain, demo_accuracy, demo_step, dot, graph_size, moons


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


def demo_training(engine: Engine, nodes: int) -> tuple[list[float], float]:
    """Time the 100 demo steps one by one; return (ns per node per step, final accuracy)."""
    X, y = moons()
    model = DemoModel(engine)
    samples = []
    for k in range(100):
        gc.collect()
        start = time.perf_counter()
        demo_step(model, X, y, k)
        samples.append((time.perf_counter() - start) / nodes * 1e9)
    return samples, demo_accuracy(model, X, y)


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
        f"{platform.python_version()}, {platform.machine()}, {gc.get_threshold()} GC thresholds)",
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

    report += [
        "### micrograd's demo training step (MLP(2, [16, 16, 1]), 100 moons points)",
        "",
        "| engine | per node per step | autograd_lite is faster by | accuracy after 100 steps |",
        "|---|---|---|---|",
    ]
    demo: dict[str, list[float]] = {}
    X, y = moons()
    nodes = graph_size(demo_step(DemoModel(engines[0]), X, y, 0))  # counted once, on our graph
    for engine in [engines[0], *others]:
        samples, accuracy = demo_training(engine, nodes)
        demo[engine.name] = samples
        print(f"  measured demo {engine.name}", file=sys.stderr)
        speedup = "" if engine.name == ours else ratio(demo[ours], samples)
        report.append(f"| {engine.name} | {fmt(samples)} | {speedup} | {accuracy:.2f} |")
    gc.disable()
    try:
        samples_off, _ = demo_training(engines[0], nodes)
        micro_off = [demo_training(e, nodes)[0] for e in others if e.name.startswith("micrograd")]
    finally:
        gc.enable()
    report.append(f"| {ours}, gc off | {fmt(samples_off)} | | |")
    for samples in micro_off:
        report.append(
            f"| micrograd 0.1.0, gc off | {fmt(samples)} | {ratio(samples_off, samples)} | |"
        )
    report += ["", f"({nodes:,} nodes per step.)", ""]

    sizes = [1_000, 10_000] if args.quick else [1_000, 10_000, 100_000]
    report += ["### Chain scaling (forward+backward per node)", "",
               "| steps (nodes = 3×) | " + " | ".join(e.name for e in [engines[0], *others]) + " |",
               "|---|" + "---|" * (1 + len(others))]  # fmt: skip
    for n in [*sizes, 333_334]:
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
