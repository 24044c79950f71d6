"""Small data sets for teaching and testing, in pure Python (no scikit-learn, no NumPy).

Every generator takes ``seed=`` (an int, or None, the default: the library's global generator,
which ``ag.manual_seed`` resets; see :mod:`autograd_lite.seeding`) and returns ``(X, y)``:
``X`` a list of rows (lists of floats), ``y`` a list of labels (floats: 0.0/1.0 for two
classes, 0.0, 1.0, … for more). :func:`load_digits` reads a real data set that ships with the
package: the same ``(X, y)``, its labels the digits as ints.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .seeding import generator

__all__ = [
    "Table",
    "load_csv",
    "load_digits",
    "make_blobs",
    "make_circles",
    "make_moons",
    "make_xor",
    "read_table",
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
    n: int = 100, *, noise: float = 0.1, seed: int | None = None
) -> tuple[Rows, list[float]]:
    """Two interleaving half circles: class 0 on top, class 1 below and shifted.

    Args:
        n: How many points, at least 2 (half in each class).
        noise: The standard deviation of the Gaussian noise added to each coordinate.
        seed: Seeds the noise; None draws from the global generator (``ag.manual_seed``).

    Returns:
        ``(X, y)``: the points as ``[x0, x1]`` lists and their labels 0.0 or 1.0.

    Raises:
        ValueError: If ``n`` is not an int >= 2.

    >>> X, y = make_moons(4, noise=0.0)
    >>> len(X), sorted(y)
    (4, [0.0, 0.0, 1.0, 1.0])
    """
    _check_count(n)
    rng = generator(seed)
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
    n: int = 100, *, noise: float = 0.05, factor: float = 0.5, seed: int | None = None
) -> tuple[Rows, list[float]]:
    """A small circle (class 1, radius ``factor``) inside a large one (class 0, radius 1).

    Args:
        n: How many points, at least 2 (half on each circle).
        noise: The standard deviation of the Gaussian noise added to each coordinate.
        factor: The inner circle's radius, relative to the outer one's.
        seed: Seeds the noise; None draws from the global generator (``ag.manual_seed``).

    Returns:
        ``(X, y)``: the points as ``[x0, x1]`` lists and their labels 0.0 or 1.0.

    Raises:
        ValueError: If ``n`` is not an int >= 2, or ``factor`` is not between 0 and 1.
    """
    _check_count(n)
    if not 0 < factor < 1:
        raise ValueError(f"factor must be between 0 and 1, got {factor!r}")
    rng = generator(seed)
    X, y = [], []
    for i in range(n):
        inner = i >= n // 2
        angle = 2 * math.pi * rng.random()
        radius = factor if inner else 1.0
        X.append([radius * math.cos(angle) + rng.gauss(0.0, noise),
                  radius * math.sin(angle) + rng.gauss(0.0, noise)])  # fmt: skip
        y.append(1.0 if inner else 0.0)
    return _shuffled(X, y, rng)


def make_xor(
    n: int = 100, *, noise: float = 0.1, seed: int | None = None
) -> tuple[Rows, list[float]]:
    """Points around the four corners (±1, ±1); class 1 where the signs differ.

    Args:
        n: How many points, at least 2.
        noise: The standard deviation of the Gaussian noise added to each coordinate.
        seed: Seeds the noise; None draws from the global generator (``ag.manual_seed``).

    Returns:
        ``(X, y)``: the points as ``[x0, x1]`` lists and their labels 0.0 or 1.0.

    Raises:
        ValueError: If ``n`` is not an int >= 2.
    """
    _check_count(n)
    rng = generator(seed)
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
    seed: int | None = None,
) -> tuple[Rows, list[float]]:
    """Gaussian blobs, one class per centre; ``centers`` a count (placed at random) or points.

    Args:
        n: How many points, at least 2, spread over the classes.
        centers: How many classes (their centres drawn at random), or the centres themselves.
        std: The standard deviation of each blob.
        features: The points' dimension when ``centers`` is a count.
        seed: Seeds the noise; None draws from the global generator (``ag.manual_seed``).

    Returns:
        ``(X, y)``: the points and their class labels 0.0, 1.0, ….

    Raises:
        ValueError: If ``n`` is not an int >= 2, or ``centers`` is neither a count >= 1 nor a
            non-empty list of points of one dimension.
    """
    _check_count(n)
    rng = generator(seed)
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


DIGITS_FILE = "datasets/digits.csv.gz"
"""Where the digits live inside the package: one row per image, its 64 pixels then its digit."""


def load_digits(*, scale: bool = False) -> tuple[Rows, list[int]]:
    """The 8×8 handwritten digits: 1,797 images, 64 pixels each (0 to 16), digits 0 to 9.

    Each row is one image, read row by row from the top left: a pixel counts the dark dots of
    a 4×4 block of the 32×32 scan, so it is a whole number from 0 to 16. About 180 images
    of each digit. With ``scale=True`` the pixels are divided by 16, into [0, 1], the range
    a network trains well on. The rows come in the file's order (not shuffled); use
    :func:`train_test_split` for a validation set.

    The data: "Optical Recognition of Handwritten Digits" (the test part, 1,797 images of 13
    writers) by E. Alpaydin and C. Kaynak, from the UCI Machine Learning Repository
    (https://archive.ics.uci.edu/dataset/80), under the Creative Commons Attribution 4.0 licence
    (CC BY 4.0). Read without third-party code from a compressed CSV file in the package.

    Args:
        scale: divide every pixel by 16, so that it lies in [0, 1].

    Returns:
        ``(X, y)``: 1,797 rows of 64 floats, and the digit each one shows (an int, 0 to 9).

    >>> X, y = load_digits(scale=True)
    >>> len(X), len(X[0]), sorted(set(y)) == list(range(10)), max(map(max, X))
    (1797, 64, True, 1.0)
    """
    text = gzip.decompress(resources.files(__package__).joinpath(DIGITS_FILE).read_bytes())
    divide = 16.0 if scale else 1.0
    X: Rows = []
    y: list[int] = []
    for line in text.decode("ascii").split():
        *pixels, digit = map(int, line.split(","))
        X.append([p / divide for p in pixels])
        y.append(digit)
    return X, y


def train_test_split(
    X: Sequence[Sequence[float]],
    y: Sequence[float],
    *,
    test_size: float = 0.25,
    seed: int | None = None,
) -> tuple[Rows, Rows, list[float], list[float]]:
    """Shuffle, then split into ``(X_train, X_test, y_train, y_test)``.

    Args:
        X: The rows.
        y: One label per row.
        test_size: The fraction of rows for the test set, between 0 and 1.
        seed: Seeds the shuffle; None draws from the global generator.

    Returns:
        ``(X_train, X_test, y_train, y_test)``.

    Raises:
        ValueError: If ``X`` and ``y`` differ in length, or ``test_size`` leaves one side empty.

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
                             generator(seed))  # fmt: skip
    return rows[n_test:], rows[:n_test], labels[n_test:], labels[:n_test]


def standardize(
    X: Sequence[Sequence[float]],
    stats: tuple[list[float], list[float]] | None = None,
) -> tuple[Rows, tuple[list[float], list[float]]]:
    """Scale every column to mean 0 and standard deviation 1.

    Returns ``(scaled, (means, stds))``; pass those ``stats`` to scale new data the same
    way. Constant columns keep std 1 (nothing to divide by). Any finite column works, 1e200
    or 1e-200 alike: each is summed in units of a power of two near its largest value, so
    nothing overflows or underflows, and ordinary columns get the very same bits as plain
    sums would give. A new row far outside the training range may scale to ±inf.

    Args:
        X: The rows to scale.
        stats: ``(means, stds)`` from an earlier call, to scale new rows the same way; None
            computes them from ``X``.

    Returns:
        ``(scaled, (means, stds))``.

    >>> standardize([[1.0], [3.0]])
    ([[-1.0], [1.0]], ([2.0], [1.0]))
    """
    if not X:
        raise ValueError("standardize needs at least one row")
    columns = list(zip(*X, strict=True))
    if stats is None:
        means, stds = map(list, zip(*map(_mean_and_std, columns), strict=True))
    else:
        means, stds = stats
        if len(means) != len(columns):
            raise ValueError(f"stats are for {len(means)} columns, X has {len(columns)}")
    scaled = [[(v - m) / s for v, m, s in zip(row, means, stds, strict=True)] for row in X]
    for j, (column, m, s) in enumerate(zip(columns, means, stds, strict=True)):
        if not math.isfinite(max(map(abs, column)) + abs(m)):  # v - m may overflow: split it
            for row, v in zip(scaled, column, strict=True):
                row[j] = v / s - m / s
    return scaled, (means, stds)


def _mean_and_std(column: Sequence[float]) -> tuple[float, float]:
    """A column's mean and (population) standard deviation, 1.0 for a constant column.

    Worked out on the column divided by 2**e, where 2**e is just above its largest |value|:
    the scaled values lie in [-1, 1], so neither the sum nor the squares can overflow or
    underflow, and scaling by a power of two is exact, so the result is what the plain sums
    give wherever those do not overflow.
    """
    largest = max(map(abs, column))
    if largest == 0.0:
        return 0.0, 1.0
    e = math.frexp(largest)[1]
    units = [math.ldexp(v, -e) for v in column]
    mean = sum(units) / len(units)
    spread = math.sqrt(sum((v - mean) ** 2 for v in units) / len(units))
    return math.ldexp(mean, e), math.ldexp(spread, e) or 1.0


@dataclass(frozen=True)
class Table:
    """A CSV file as text: its header, its data rows with their line numbers.

    ``header`` holds the header cells as written (a UTF-8 BOM removed), ``names`` the same
    stripped of spaces: distinct and non-empty. ``rows`` skips blank lines; every row has one
    cell per name.
    """

    path: Path
    header: list[str]
    names: list[str]
    rows: list[tuple[int, list[str]]]

    def numbers(self, columns: Sequence[str]) -> Rows:
        """The named columns of every row as floats; ``ValueError`` with file:line for a cell
        that is not a finite number.

        Args:
            columns: The names of the columns to read, in the order wanted.

        Returns:
            One list of floats per row.
        """
        at = [self.names.index(name) for name in columns]
        table = []
        for line, cells in self.rows:
            row = []
            for name, i in zip(columns, at, strict=True):
                try:
                    number = float(cells[i])
                except ValueError:
                    number = math.nan
                if not math.isfinite(number):  # "nan" and "inf" parse, but cannot be learnt from
                    raise ValueError(
                        f"{self.path}:{line}: column {name!r} holds {_cell(cells[i])}, "
                        "not a finite number"
                    )
                row.append(number)
            table.append(row)
        return table


def _cell(text: str) -> str:
    return repr(text) if len(text) <= 40 else repr(text[:40]) + f"... ({len(text)} characters)"


def read_table(path: str | Path) -> Table:
    """Read a CSV file (UTF-8, with or without a BOM) with a header row, keeping every cell's text.

    Raises ``ValueError`` naming the file (and line) for text that is not UTF-8, a quote that
    is never closed, a cell over ``csv.field_size_limit()`` characters, an empty file, a header
    with an empty or repeated name, or a row with another number of cells than the header.

    Args:
        path: The CSV file.

    Returns:
        The file as a :class:`Table`.

    Raises:
        ValueError: Naming the file (and line) for any of the problems above.
    """
    path = Path(path)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")  # Excel's "CSV UTF-8" starts with a BOM
    except UnicodeDecodeError as error:
        offset = error.start + (3 if raw.startswith(b"\xef\xbb\xbf") else 0)
        line = raw[:offset].count(b"\n") + 1
        raise ValueError(
            f"{path}:{line}: not UTF-8 text (byte {raw[offset]:#04x} at offset {offset}); "
            "save the file as UTF-8"
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[tuple[int, list[str]]] = []
    while True:
        line = reader.line_num + 1  # where the next record starts
        try:
            record = next(reader, None)
        except csv.Error as error:
            raise ValueError(f"{path}:{line}: {_csv_problem(error)}") from None
        if record is None:
            break
        if record and any(cell.strip() for cell in record):
            records.append((line, record))
    if not records or records[0][0] != 1:
        raise ValueError(f"{path}: the file is empty (a header row is needed)")
    header = records.pop(0)[1]
    names = [h.strip() for h in header]
    if "" in names:
        raise ValueError(f"{path}:1: column {names.index('') + 1} has no name in the header")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:  # a repeated name would make a column impossible to tell apart by name
        raise ValueError(f"{path}:1: the header names {repeated} more than once")
    for line, cells in records:
        if len(cells) != len(names):
            raise ValueError(f"{path}:{line}: {len(cells)} cells, the header has {len(names)}")
    return Table(path, header, names, records)


def _csv_problem(error: csv.Error) -> str:
    message = str(error)
    if "field larger than field limit" in message:
        return f"a cell is longer than {csv.field_size_limit()} characters"
    if "unexpected end of data" in message:
        return "a quoted cell is never closed (its opening quote runs to the end of the file)"
    return f"not valid CSV ({message})"


def load_csv(path: str | Path, *, target: str | None = None) -> tuple[Rows, list[float], list[str]]:
    """Read a numeric CSV file with a header row: ``(X, y, feature_names)``.

    ``target`` names the label column (``y`` is empty when it is None). Every other column
    is a feature. Raises ``ValueError`` naming the file, line and column for an empty file,
    a header with an empty or repeated name, a missing target column, a ragged row, a cell
    that is not a finite number, or any problem :func:`read_table` reports.

    Args:
        path: The CSV file.
        target: The label column's name, or None for no labels.

    Returns:
        ``(X, y, feature_names)``.

    Raises:
        ValueError: Naming the file, line and column for any of the problems above.
    """
    table = read_table(path)
    header = table.names
    if target is not None and target not in header:
        raise ValueError(f"{table.path}: no column {target!r}; the columns are {header}")
    if not table.rows:
        raise ValueError(f"{table.path}: no data rows after the header")
    X = table.numbers(header)
    y = []
    if target is not None:
        label_at = header.index(target)
        y = [row.pop(label_at) for row in X]
    features = [h for h in header if h != target]
    return X, y, features
