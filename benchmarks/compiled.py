"""Compiled mode under the same workloads: the demo step through ``fit``'s compiled path,
the compilation itself, and ``autograd-lite train`` on a large CSV file.

Pure-Python compiled mode is forced by raising ``autograd_lite._compiled_loss.ARRAY_MIN_ROWS``
out of reach; NumPy mode is the library's own default (batches of 64 rows or more run as columns).
"""

from __future__ import annotations

import contextlib
import csv
import gc
import io
import math
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from engines import Engine
from workloads import DemoModel

from autograd_lite import _compiled_loss, cli, nn, optim, tabular, train
from autograd_lite.losses import get_objective

PURE_PYTHON = 10**9  # ARRAY_MIN_ROWS that no batch reaches: every row runs on floats
NUMPY = _compiled_loss.ARRAY_MIN_ROWS  # the library's default


@contextlib.contextmanager
def array_min_rows(rows: int) -> Iterator[None]:
    """Run the block with ``autograd_lite._compiled_loss.ARRAY_MIN_ROWS = rows``; for
    ``PURE_PYTHON``, ``fit`` also runs the scalar programs (``RUNNER = _CompiledLoss``), not
    the grouped NumPy program it runs by default."""
    saved = _compiled_loss.ARRAY_MIN_ROWS, _compiled_loss.RUNNER
    _compiled_loss.ARRAY_MIN_ROWS = rows
    if rows == PURE_PYTHON:
        _compiled_loss.RUNNER = _compiled_loss._CompiledLoss
    try:
        yield
    finally:
        _compiled_loss.ARRAY_MIN_ROWS, _compiled_loss.RUNNER = saved


def demo_mlp(engine: Engine) -> nn.MLP:
    """``nn.MLP(2, [16, 16, 1])`` starting from the same weights as the eager ``DemoModel``."""
    model = nn.MLP(2, [16, 16, 1])
    start = DemoModel(engine).parameters()  # same order: per neuron its weights, then its bias
    for p, q in zip(model.parameters(), start, strict=True):
        p.data = q.data
    return model


class CompiledDemo:
    """micrograd's demo step as ``fit(..., compile=True, epochs=1, batch_size=None)`` runs it:
    the hinge loss's per-example loss and gradient compiled once, then per step ``fit``'s
    loop body (zero_grad, the compiled batch, the optimizer step). The regularisation
    1e-4·Σp² is SGD's weight_decay=2e-4; the learning rate follows micrograd's schedule."""

    def __init__(self, engine: Engine, X: list[list[float]], y: list[float], rows: int) -> None:
        self.X, self.y, self.rows = X, y, rows
        self.rng = random.Random(0)
        self.model = demo_mlp(engine)
        self.optimizer = optim.SGD(self.model.parameters(), lr=1.0, weight_decay=2e-4)
        start = time.perf_counter()
        self.compiled = _compiled_loss._CompiledLoss(self.model, get_objective("hinge"))
        for label in sorted(set(y)):  # compiled here, outside the timed steps
            self.compiled.program(X[0], label)
        self.compile_seconds = time.perf_counter() - start

    def step(self, k: int) -> None:
        self.optimizer.lr = 1.0 - 0.9 * k / 100
        with array_min_rows(self.rows):
            order = list(range(len(self.X)))  # fit's one batch: all the rows, shuffled
            self.rng.shuffle(order)
            self.optimizer.zero_grad()
            self.compiled.batch([self.X[i] for i in order], [self.y[i] for i in order])
            self.optimizer.step()

    def accuracy(self) -> float:
        labels = train.predict(self.model, self.X, loss="hinge")
        return sum(a == b for a, b in zip(labels, self.y, strict=True)) / len(self.y)


def whole_fit(
    engine: Engine, X: list[list[float]], y: list[float], rows: int, epochs: int
) -> float:
    """Seconds per epoch of one ``fit(..., compile=True, batch_size=None)`` call of ``epochs``
    full-batch epochs (constant lr): its one compilation and its per-epoch bookkeeping in."""
    model = demo_mlp(engine)
    optimizer = optim.SGD(model.parameters(), lr=0.5, weight_decay=2e-4)
    gc.collect()
    with array_min_rows(rows):
        start = time.perf_counter()
        train.fit(model, X, y, loss="hinge", optimizer=optimizer, epochs=epochs,
                  batch_size=None, progress=False, compile=True)  # fmt: skip
        return (time.perf_counter() - start) / epochs


def compile_times(
    engine: Engine, X: list[list[float]], y: list[float], repeats: int
) -> list[float]:
    """Seconds to compile what ``fit`` compiles for the demo (the per-example loss and its
    gradient, one program per label), each time on a fresh ``_CompiledLoss``."""
    model = demo_mlp(engine)
    objective = get_objective("hinge")
    samples = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        compiled = _compiled_loss._CompiledLoss(model, objective)
        for label in sorted(set(y)):
            compiled.program(X[0], label)
        samples.append(time.perf_counter() - start)
    return samples


def fit_one_epoch_calls(
    engine: Engine, X: list[list[float]], y: list[float], rows: int, repeats: int
) -> list[float]:
    """Seconds per ``fit(..., compile=True, epochs=1, batch_size=None)`` call on a new model
    each time: its compilation (fit reuses what it compiled only for the same model), then
    its one step."""
    samples = []
    with array_min_rows(rows):
        for _ in range(repeats):
            model = demo_mlp(engine)
            optimizer = optim.SGD(model.parameters(), lr=0.5, weight_decay=2e-4)
            gc.collect()
            start = time.perf_counter()
            train.fit(model, X, y, loss="hinge", optimizer=optimizer, epochs=1,
                      batch_size=None, progress=False, compile=True)  # fmt: skip
            samples.append(time.perf_counter() - start)
    return samples


def write_csv(path: Path, rows: int, seed: int = 0) -> None:
    """``rows`` rows of 4 Gaussian features and a 0/1 label from a nonlinear rule
    (deterministic for a seed)."""
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["x1", "x2", "x3", "x4", "label"])
        for _ in range(rows):
            x = [rng.gauss(0.0, 1.0) for _ in range(4)]
            score = x[0] * x[1] + math.sin(2.0 * x[2]) - 0.5 * x[3] + rng.gauss(0.0, 0.3)
            writer.writerow([f"{v:.6f}" for v in x] + [1 if score > 0 else 0])


def default_batch_size(training_rows: int) -> int:
    """``autograd-lite train``'s default --batch-size (auto) for a table of this size."""
    return tabular.batch_size_for(training_rows)


def train_cli(path: Path, out: Path, batch_size: int | None, rows: int) -> dict[str, Any]:
    """One ``autograd-lite train FILE --target label --hidden 16,16 --epochs 1 --quiet`` run,
    in process, timed in parts: CSV loading and set-up (``tabular.prepare``), the ``fit``
    call (compile, the epoch, scoring the held-out rows), and within it the scoring."""
    times: dict[str, float] = {"prepare": 0.0, "fit": 0.0, "validation": 0.0}

    def timing(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                times[name] += time.perf_counter() - start

        return timed

    grouped = _compiled_loss._GroupedLoss
    saved = tabular.prepare, tabular.TrainingRun.fit, _compiled_loss._CompiledLoss.evaluate
    saved_scores = grouped.scores  # what fit in arrays scores the held-out rows with
    tabular.prepare = timing("prepare", saved[0])  # type: ignore[assignment]
    tabular.TrainingRun.fit = timing("fit", saved[1])  # type: ignore[method-assign]
    _compiled_loss._CompiledLoss.evaluate = timing("validation", saved[2])  # type: ignore[method-assign]
    grouped.scores = timing("validation", saved_scores)  # type: ignore[method-assign]
    argv = ["train", str(path), "--target", "label", "--hidden", "16,16", "--epochs", "1"]
    argv += ["--quiet", "--out", str(out)]
    if batch_size is not None:
        argv += ["--batch-size", str(batch_size)]
    printed = io.StringIO()
    gc.collect()
    try:
        with array_min_rows(rows), contextlib.redirect_stdout(printed):
            start = time.perf_counter()
            cli.main(argv)
            times["total"] = time.perf_counter() - start
    finally:
        tabular.prepare, tabular.TrainingRun.fit, _compiled_loss._CompiledLoss.evaluate = saved
        grouped.scores = saved_scores  # type: ignore[method-assign]
    final = [line for line in printed.getvalue().splitlines() if line.startswith("final:")]
    return {**times, "final": final[0] if final else ""}


def csv_epochs(
    rows: int, batch_sizes: list[int | None], repeats: int
) -> tuple[dict[tuple[str, int | None], list[dict[str, Any]]], float]:
    """Every (mode, batch size) ``repeats`` times round-robin on one generated CSV file;
    returns the runs and the seconds it took to write the file."""
    modes = {"pure Python": PURE_PYTHON, "NumPy": NUMPY}
    runs: dict[tuple[str, int | None], list[dict[str, Any]]] = {
        (mode, size): [] for size in batch_sizes for mode in modes
    }
    with tempfile.TemporaryDirectory(prefix="autograd_lite_bench_") as folder:
        path = Path(folder) / f"table_{rows}.csv"
        start = time.perf_counter()
        write_csv(path, rows)
        written = time.perf_counter() - start
        for _ in range(repeats):
            for mode, size in runs:
                runs[mode, size].append(
                    train_cli(path, Path(folder) / "model.json", size, modes[mode])
                )
    return runs, written


def seconds(samples: list[float]) -> str:
    """Median (min) of a list of seconds, in ms below a second."""
    med, low = statistics.median(samples), min(samples)
    if len(samples) == 1:
        return f"{med * 1e3:.1f} ms" if med < 1 else f"{med:.2f} s"
    if med < 1:
        return f"{med * 1e3:.1f} ms (min {low * 1e3:.1f} ms)"
    return f"{med:.2f} s (min {low:.2f} s)"
