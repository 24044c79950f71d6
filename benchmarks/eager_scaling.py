"""Eager mode as graphs grow: what Python's cyclic garbage collector costs, and what freezing
large graphs and pausing the collector save.

    python benchmarks/eager_scaling.py            # chains up to 1,000,000 nodes
    python benchmarks/eager_scaling.py --quick    # up to 300,000 nodes, fewer repeats

A graph of Values has no reference cycles, yet the collector walks every live node in each
full collection, and starts one whenever the heap has grown by a quarter: a graph of n nodes
is walked about 5n node-times while it is built, each walk slower as the heap outgrows the
caches. The chain x → tanh(x·w + b) is timed (forward + backward, per node) as a user's own
loop builds it, with the collector on: as shipped (`autograd_lite.collector` freezes a graph
of 100,000 nodes or more while it lives, so full collections skip it) and with that policy
off; and built and swept inside the engine's collector pause, which is what `fit`'s eager
batches and `backward(create_graph=True)` use. Then one eager `fit` epoch on the digits,
against the same training loop written by hand without the pause, with and without the
policy.
Times are this process's CPU time (`time.process_time`), which a busy shared machine disturbs
less than the wall clock. Output: markdown on stdout, progress on stderr.
"""

from __future__ import annotations

import argparse
import gc
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import date

from engines import autograd_lite_engine
from run import fmt
from workloads import chain

import autograd_lite as ag
from autograd_lite.collector import freeze_large_graphs
from autograd_lite.grad_mode import gc_paused

ENGINE = autograd_lite_engine()


@contextmanager
def without_freezing() -> Iterator[None]:
    """The collector policy off: full collections walk every live graph, as before it."""
    previous = freeze_large_graphs(None)
    try:
        yield
    finally:
        freeze_large_graphs(previous)


def chain_ns(steps: int, scope: Callable[[], AbstractContextManager[None]]) -> float:
    """Forward + backward CPU nanoseconds per node of a ``steps``-step chain, built and swept in
    ``scope``; the previous graph freed and collected first."""
    gc.collect()
    with scope():
        start = time.process_time()
        root = chain(ENGINE, steps)
        root.backward()
        elapsed = time.process_time() - start
    del root
    return elapsed / (3 * steps) * 1e9


def create_graph_ns(steps: int, repeats: int) -> list[float]:
    """``backward(create_graph=True)`` alone, per node of the chain (collector on outside)."""
    samples = []
    for _ in range(repeats):
        root = chain(ENGINE, steps)
        gc.collect()
        start = time.process_time()
        root.backward(create_graph=True)
        samples.append((time.process_time() - start) / (3 * steps) * 1e9)
        del root
    return samples


def digits_epochs(repeats: int, rows: int) -> tuple[list[float], list[float], list[float]]:
    """CPU seconds per eager epoch on ``rows`` digits, MLP(64, [32], 10), Adam, batches of 64:
    through ``ag.fit(compile=False)``, and through the same loop by hand (collector on), as
    shipped and with the freezing policy off."""
    X, y = ag.data.load_digits(scale=True)
    X, y = X[:rows], y[:rows]
    objective = ag.losses.get_objective("cross_entropy")
    through_fit: list[float] = []
    by_hand: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(repeats):
        model = ag.nn.MLP(64, [32, 10], seed=0)
        optimizer = ag.optim.Adam(model.parameters(), lr=1e-3)
        gc.collect()
        start = time.process_time()
        ag.fit(model, X, y, loss="cross_entropy", optimizer=optimizer, epochs=1, batch_size=64,
               seed=0, compile=False, progress=False)  # fmt: skip
        through_fit.append(time.process_time() - start)

        for freezing in (True, False):
            model = ag.nn.MLP(64, [32, 10], seed=0)
            optimizer = ag.optim.Adam(model.parameters(), lr=1e-3)
            gc.collect()
            with nullcontext() if freezing else without_freezing():
                start = time.process_time()
                for first in range(0, rows, 64):
                    optimizer.zero_grad()
                    batch = [model(x) for x in X[first : first + 64]]
                    loss = objective.loss(batch, y[first : first + 64])
                    loss.backward()
                    optimizer.step()
                by_hand[freezing].append(time.process_time() - start)
    return through_fit, by_hand[True], by_hand[False]


def growth(samples: dict[int, list[float]]) -> str:
    sizes = sorted(samples)
    low, high = statistics.median(samples[sizes[0]]), statistics.median(samples[sizes[-1]])
    return f"{high / low:.2f}×"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="up to 300,000 nodes")
    args = parser.parse_args()
    steps_list = [10_000, 33_334, 100_000] + ([] if args.quick else [333_334])
    scopes: dict[str, Callable[[], AbstractContextManager[None]]] = {
        "a loop of one's own, collector on": nullcontext,
        "the same, freezing policy off": without_freezing,
        "inside the engine's collector pause": gc_paused,
    }
    results: dict[str, dict[int, list[float]]] = {name: {} for name in scopes}
    deep: dict[int, list[float]] = {}
    for steps in steps_list:
        repeats = (3 if args.quick else 5) if steps < 300_000 else 3
        for _ in range(repeats):
            for name, scope in scopes.items():  # interleaved, so drift hits all alike
                results[name].setdefault(steps, []).append(chain_ns(steps, scope))
        if steps <= 100_000:
            deep[steps] = create_graph_ns(steps, repeats)
        print(f"  measured chain of {3 * steps:,} nodes", file=sys.stderr, flush=True)
    report = [
        f"## Eager mode as graphs grow ({date.today().isoformat()}, "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"{platform.machine()}, GC thresholds {gc.get_threshold()}"
        f"{', --quick' if args.quick else ''})",
        "",
        "### Chain x → tanh(x·w + b), forward + backward per node, median (min)",
        "",
        "| nodes | " + " | ".join(scopes) + " | `backward(create_graph=True)` alone |",
        "|---|" + "---|" * (len(scopes) + 1),
    ]
    for steps in steps_list:
        cells = [fmt(results[name][steps]) for name in scopes]
        cells.append(fmt(deep[steps]) if steps in deep else "—")
        report.append(f"| {3 * steps:,} | " + " | ".join(cells) + " |")
    report.append(
        f"| growth, {3 * steps_list[0]:,} → {3 * steps_list[-1]:,} | "
        + " | ".join(growth(results[name]) for name in scopes)
        + f" | {growth(deep)} (to {3 * max(deep):,}) |"
    )
    rows = 640
    through_fit, by_hand, by_hand_unfrozen = digits_epochs(2 if args.quick else 3, rows)
    print("  measured eager digits epochs", file=sys.stderr, flush=True)
    report += [
        "",
        f"### One eager epoch on the first {rows:,} digits, MLP(64, [32], 10), Adam, batches of 64",
        "",
        "| training loop | epoch, median (min) |",
        "|---|---|",
        f"| `ag.fit(..., compile=False)` (its batches inside the pause) | "
        f"{statistics.median(through_fit):.2f} s (min {min(through_fit):.2f} s) |",
        f"| the same loop by hand, collector on | "
        f"{statistics.median(by_hand):.2f} s (min {min(by_hand):.2f} s) |",
        f"| the same loop by hand, freezing policy off | "
        f"{statistics.median(by_hand_unfrozen):.2f} s (min {min(by_hand_unfrozen):.2f} s) |",
        "",
    ]
    print("\n".join(report))


if __name__ == "__main__":
    main()
