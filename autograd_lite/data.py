"""Small data sets for teaching and testing, in pure Python (no scikit-learn, no NumPy).

Every generator is seeded and returns ``(X, y)``: ``X`` a list of rows (lists of floats),
``y`` a list of labels (floats: 0.0/1.0 for two classes, 0.0, 1.0, … for more).
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "load_csv",
    "make_blobs",
    "make_circles",
    "make_moons",
    "make_xor",
    "standardize",
    "train_test_split",
]

Rows = list[list[float]]


def _check_count(n: int) -> None:
    if not isinstance(n, int) or n < 2:
        raise ValueError(f"n must be an int >= 2, got {n!r}")


def _shuffled(X: Rows, y: list[float], rng: random.Random) -> tuple[Rows, list[float]]:
    order = list(range(len(X)))
    rng.shuffle(order)
    return [X[i] for i in order], [y[i] for i in order]


def make_moons(
    n: int = 100, *, noise: float = 0.1, seed: int | None = 0
) -> tuple[Rows, list[float]]:
    """Two interleaving half circles: class 0 on top, class 1 below and shifted.

    >>> X, y = make_moons(4, noise=0.0)
    >>> len(X), sorted(y)
    (4, [0.0, 0.0, 1.0, 1.0])
    """
    _check_count(n)
    rng = random.Random(seed)
    top = n // 2
    X, y = [], []
    for i in range(n):
        if i < top:
            angle = math.pi * i / max(top - 1, 1)
            point, label = [math.cos(angle), math.sin(angle)], 0.0
        else:
            angle = math.pi * (i - top) / max(n - top - 1, 1)
            point, label = [1.0 - math.cos(angle), 0.5 - math.sin(angle)], 1.0
        X.append([c + rng.gauss(0.0, noise) for c in point])
        y.append(label)
    return _shuffled(X, y, rng)


def make_circles(
    n: int = 100, *, noise: float = 0.05, factor: float = 0.5, seed: int | None = 0
) -> tuple[Rows, list[float]]:
    """A small circle (class 1, radius ``factor``) inside a large one (class 0, radius 1)."""
    _check_count(n)
    if not 0 < factor < 1:
        raise ValueError(f"factor must be between 0 and 1, got {factor!r}")
    rng = random.Random(seed)
    X, y = [], []
    for i in range(n):
        inner = i >= n // 2
        angle = 2 * math.pi * rng.random()
        radius = factor if inner else 1.0
        X.append([radius * math.cos(angle) + rng.gauss(0.0, noise),
                  radius * math.sin(angle) + rng.gauss(0.0, noise)])  # fmt: skip
        y.append(1.0 if inner else 0.0)
    return _shuffled(X, y, rng)


def make_xor(n: int = 100, *, noise: float = 0.1, seed: int | None = 0) -> tuple[Rows, list[float]]:
    """Points around the four corners (±1, ±1); class 1 where the signs differ."""
    _check_count(n)
    rng = random.Random(seed)
    X, y = [], []
    for i in range(n):
        a, b = (1.0 if i % 2 else -1.0), (1.0 if (i // 2) % 2 else -1.0)
        X.append([a + rng.gauss(0.0, noise), b + rng.gauss(0.0, noise)])
        y.append(1.0 if a != b else 0.0)
    return _shuffled(X, y, rng)


def make_blobs(
    n: int = 100,
    *,
    centers: int | Sequence[Sequence[float]] = 3,
    std: float = 0.5,
    features: int = 2,
    seed: int | None = 0,
) -> tuple[Rows, list[float]]:
    """Gaussian blobs, one class per centre; ``centers`` a count (placed at random) or points."""
    _check_count(n)
    rng = random.Random(seed)
    if isinstance(centers, int):
        if centers < 1:
            raise ValueError(f"centers must be >= 1, got {centers}")
        points = [[rng.uniform(-5.0, 5.0) for _ in range(features)] for _ in range(centers)]
    else:
        points = [[float(c) for c in center] for center in centers]
        if not points or len({len(p) for p in points}) != 1:
            raise ValueError("centers must be a non-empty list of points of one dimension")
    X, y = [], []
    for i in range(n):
        k = i % len(points)
        X.append([c + rng.gauss(0.0, std) for c in points[k]])
        y.append(float(k))
    return _shuffled(X, y, rng)


def train_test_split(
    X: Sequence[Sequence[float]],
    y: Sequence[float],
    *,
    test_size: float = 0.25,
    seed: int | None = 0,
) -> tuple[Rows, Rows, list[float], list[float]]:
    """Shuffle, then split into ``(X_train, X_test, y_train, y_test)``.

    >>> X_train, X_test, y_train, y_test = train_test_split([[0.0]] * 8, [0.0] * 8)
    >>> len(X_train), len(X_test)
    (6, 2)
    """
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)} labels")
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be between 0 and 1, got {test_size!r}")
    n_test = round(len(X) * test_size)
    if not 0 < n_test < len(X):
        raise ValueError(f"cannot split {len(X)} rows with test_size={test_size}")
    rows, labels = _shuffled([list(map(float, r)) for r in X], [float(v) for v in y],
                             random.Random(seed))  # fmt: skip
    return rows[n_test:], rows[:n_test], labels[n_test:], labels[:n_test]


def standardize(
    X: Sequence[Sequence[float]],
    stats: tuple[list[float], list[float]] | None = None,
) -> tuple[Rows, tuple[list[float], list[float]]]:
    """Scale every column to mean 0 and standard deviation 1.

    Returns ``(scaled, (means, stds))``; pass those ``stats`` to scale new data the same
    way. Constant columns keep std 1 (nothing to divide by).

    >>> standardize([[1.0], [3.0]])
    ([[-1.0], [1.0]], ([2.0], [1.0]))
    """
    if not X:
        raise ValueError("standardize needs at least one row")
    columns = list(zip(*X, strict=True))
    if stats is None:
        means = [sum(c) / len(c) for c in columns]
        stds = [math.sqrt(sum((v - m) ** 2 for v in c) / len(c)) or 1.0
                for c, m in zip(columns, means, strict=True)]  # fmt: skip
    else:
        means, stds = stats
        if len(means) != len(columns):
            raise ValueError(f"stats are for {len(means)} columns, X has {len(columns)}")
    scaled = [[(v - m) / s for v, m, s in zip(row, means, stds, strict=True)] for row in X]
    return scaled, (means, stds)


def load_csv(path: str | Path, *, target: str | None = None) -> tuple[Rows, list[float], list[str]]:
    """Read a numeric CSV file with a header row: ``(X, y, feature_names)``.

    ``target`` names the label column (``y`` is empty when it is None). Every other column
    is a feature. Raises ``ValueError`` naming the file, line and column for an empty file,
    a header with an empty or repeated name, a missing target column, a ragged row or a cell
    that is not a finite number.
    """
    path = Path(path)
    with path.open(newline="") as file:
        reader = csv.reader(file)
        header = next(reader, None)
        if not header or not any(h.strip() for h in header):
            raise ValueError(f"{path}: the file is empty (a header row is needed)")
        header = [h.strip() for h in header]
        if "" in header:
            raise ValueError(f"{path}:1: column {header.index('') + 1} has no name in the header")
        repeated = sorted({name for name in header if header.count(name) > 1})
        if repeated:  # a repeated name would make a column impossible to tell apart by name
            raise ValueError(f"{path}:1: the header names {repeated} more than once")
        if target is not None and target not in header:
            raise ValueError(f"{path}: no column {target!r}; the columns are {header}")
        label_at = header.index(target) if target is not None else None
        X, y = [], []
        for line, row in enumerate(reader, start=2):
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise ValueError(f"{path}:{line}: {len(row)} cells, the header has {len(header)}")
            numbers = []
            for name, cell in zip(header, row, strict=True):
                try:
                    number = float(cell)
                except ValueError:
                    number = math.nan
                if not math.isfinite(number):  # "nan" and "inf" parse, but cannot be learnt from
                    raise ValueError(
                        f"{path}:{line}: column {name!r} holds {cell!r}, not a finite number"
                    )
                numbers.append(number)
            if label_at is not None:
                y.append(numbers.pop(label_at))
            X.append(numbers)
    if not X:
        raise ValueError(f"{path}: no data rows after the header")
    features = [h for i, h in enumerate(header) if i != label_at]
    return X, y, features
