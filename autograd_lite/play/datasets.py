"""The playground's data sets: those of :mod:`autograd_lite.data` and a few more, in pure Python.

Every generator takes ``(n, noise, seed)`` and returns ``(X, y)`` as :mod:`~autograd_lite.data`
does: ``X`` a list of ``[x1, x2]`` rows, ``y`` labels (0.0/1.0, or 0.0, 1.0, 2.0 for
``blobs3``) or, for the regression sets ``plane`` and ``multi_gaussian``, numbers.

>>> X, y = make_dataset("spiral", 6, 0.0, seed=0)
>>> len(X), sorted(set(y))
(6, [0.0, 1.0])
"""

from __future__ import annotations

import math

from .. import data
from ..data import Rows
from ..seeding import generator

__all__ = [
    "DATASETS",
    "MAX_CSV_ROWS",
    "TASKS",
    "make_dataset",
    "make_multi_gaussian",
    "make_plane",
    "make_spiral",
    "make_two_gaussians",
    "parse_points",
    "task_of",
]


TASKS = {
    "circle": "binary",
    "xor": "binary",
    "gaussian": "binary",
    "spiral": "binary",
    "moons": "binary",
    "plane": "regression",
    "multi_gaussian": "regression",
    "blobs3": "classes",
}
"""Each data set's task: ``binary`` (bce), ``classes`` (cross_entropy) or ``regression`` (mse)."""

DATASETS = (*TASKS, "csv")
"""The data sets by name, in the order the page lists them; ``csv`` is one's own points
(:func:`parse_points`), once given."""


def make_spiral(n: int, noise: float, seed: int) -> tuple[Rows, list[float]]:
    """Two interleaved spirals, one class each, within about ±1.

    >>> X, y = make_spiral(4, 0.0, seed=1)
    >>> [round(abs(v), 3) <= 1.0 for row in X for v in row]
    [True, True, True, True, True, True, True, True]
    """
    rng = generator(seed)
    X, y = [], []
    for i in range(n):
        label = i % 2
        t = (i // 2) / max(n // 2, 1)
        radius, angle = t, 1.75 * t * 2 * math.pi + label * math.pi
        X.append([radius * math.sin(angle) + rng.gauss(0.0, noise),
                  radius * math.cos(angle) + rng.gauss(0.0, noise)])  # fmt: skip
        y.append(float(label))
    return X, y


def make_two_gaussians(n: int, noise: float, seed: int) -> tuple[Rows, list[float]]:
    """Two Gaussian clouds, class 0 around (-0.5, -0.5) and class 1 around (0.5, 0.5)."""
    spread = 0.2 + noise
    return data.make_blobs(n, centers=[[-0.5, -0.5], [0.5, 0.5]], std=spread, seed=seed)


def make_plane(n: int, noise: float, seed: int) -> tuple[Rows, list[float]]:
    """Regression on a tilted plane, ``y = (x1 + x2) / 2`` plus noise, inputs in [-1, 1]."""
    rng = generator(seed)
    X = [[rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0)] for _ in range(n)]
    return X, [(a + b) / 2 + rng.gauss(0.0, noise) for a, b in X]


def make_multi_gaussian(n: int, noise: float, seed: int) -> tuple[Rows, list[float]]:
    """Regression on bumps: a positive and a negative Gaussian bump, plus noise."""
    rng = generator(seed)
    X = [[rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0)] for _ in range(n)]
    bumps = [(0.5, 0.5, 1.0), (-0.5, -0.5, -1.0), (0.5, -0.5, 0.5), (-0.5, 0.5, -0.5)]
    y = [
        math.fsum(h * math.exp(-((a - cx) ** 2 + (b - cy) ** 2) / 0.18) for cx, cy, h in bumps)
        + rng.gauss(0.0, noise)
        for a, b in X
    ]
    return X, y


def make_dataset(name: str, n: int, noise: float, seed: int) -> tuple[Rows, list[float]]:
    """The data set ``name`` (one of :data:`DATASETS`): ``n`` points, Gaussian ``noise``."""
    if name == "circle":
        return data.make_circles(n, noise=noise, factor=0.5, seed=seed)
    if name == "xor":
        X, y = data.make_xor(n, noise=noise, seed=seed)
        return [[a / 1.5, b / 1.5] for a, b in X], y
    if name == "moons":
        X, y = data.make_moons(n, noise=noise, seed=seed)
        return [[a - 0.5, b - 0.25] for a, b in X], y
    if name == "blobs3":
        centers = [[0.0, 0.7], [-0.6, -0.4], [0.6, -0.4]]
        return data.make_blobs(n, centers=centers, std=0.15 + noise, seed=seed)
    makers = {
        "spiral": make_spiral,
        "gaussian": make_two_gaussians,
        "plane": make_plane,
        "multi_gaussian": make_multi_gaussian,
    }
    if name not in makers:
        raise ValueError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")
    return makers[name](n, noise, seed)


MAX_CSV_ROWS = 500
"""The most rows a CSV of one's own may have."""


def _row(cells: list[str], number: int) -> list[float] | None:
    """A row's three numbers; None for a header (the first row, not numbers)."""
    if len(cells) != 3:
        raise ValueError(f"CSV row {number}: expected 3 columns (x1, x2, label), got {len(cells)}")
    try:
        values = [float(cell) for cell in cells]
    except ValueError:
        if number == 1:
            return None
        raise ValueError(f"CSV row {number}: not numbers: {', '.join(cells)[:60]}") from None
    if not all(map(math.isfinite, values)):
        raise ValueError(f"CSV row {number}: the numbers must be finite")
    return values


def parse_points(text: str) -> tuple[Rows, list[float]]:
    """Points of one's own from CSV text: columns ``x1, x2, label`` (a header row is
    optional), 2 to :data:`MAX_CSV_ROWS` rows. Each input column is scaled by its largest
    absolute value into [-1, 1], the plane the page shows.

    >>> parse_points("x1,x2,y\\n2,0,1\\n-4,1,0\\n")
    ([[0.5, 0.0], [-1.0, 1.0]], [1.0, 0.0])
    """
    import csv

    rows = [
        row
        for number, cells in enumerate(csv.reader(text.splitlines()), start=1)
        if cells and (row := _row(cells, number)) is not None
    ]
    if not 2 <= len(rows) <= MAX_CSV_ROWS:
        raise ValueError(f"a CSV of one's own needs 2 to {MAX_CSV_ROWS} rows, got {len(rows)}")
    scales = [max(abs(row[i]) for row in rows) or 1.0 for i in (0, 1)]
    return [[row[0] / scales[0], row[1] / scales[1]] for row in rows], [row[2] for row in rows]


def task_of(y: list[float]) -> str:
    """The task labels ask for: 0/1 ``binary``, 0/1/2 ``classes``, else ``regression``.

    >>> task_of([0.0, 1.0]), task_of([0.0, 2.0, 1.0]), task_of([0.5, 1.0])
    ('binary', 'classes', 'regression')
    """
    if set(y) <= {0.0, 1.0}:
        return "binary"
    return "classes" if set(y) <= {0.0, 1.0, 2.0} else "regression"
