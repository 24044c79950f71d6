"""The small data sets, splitting, scaling and CSV loading."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from autograd_lite import data


@pytest.mark.parametrize(
    "make", [data.make_moons, data.make_circles, data.make_xor, data.make_blobs]
)
def test_generators_are_seeded_and_well_formed(make: Callable[..., Any]) -> None:
    X, y = make(60, seed=3)
    assert (len(X), len(y)) == (60, 60)
    assert all(len(row) == 2 and all(isinstance(v, float) for v in row) for row in X)
    assert make(60, seed=3) == (X, y)
    assert make(60, seed=4) != (X, y)
    assert len(set(y)) >= 2


def test_moons_are_two_balanced_half_circles() -> None:
    X, y = data.make_moons(100, noise=0.0)
    assert y.count(0.0) == y.count(1.0) == 50
    tops = [row for row, label in zip(X, y, strict=True) if label == 0.0]
    assert all(abs(a * a + b * b - 1.0) < 1e-12 for a, b in tops)


def test_split_and_standardize() -> None:
    X, y = data.make_blobs(40, centers=[[0.0, 0.0], [5.0, 5.0]], seed=0)
    X_train, X_test, y_train, y_test = data.train_test_split(X, y, test_size=0.25, seed=0)
    assert (len(X_train), len(X_test), len(y_train), len(y_test)) == (30, 10, 30, 10)
    assert sorted(map(tuple, X_train + X_test)) == sorted(map(tuple, X))
    scaled, stats = data.standardize(X_train)
    for column in zip(*scaled, strict=True):
        assert sum(column) / len(column) == pytest.approx(0.0, abs=1e-12)
        assert sum(v * v for v in column) / len(column) == pytest.approx(1.0)
    again, _ = data.standardize(X_test, stats)
    assert len(again) == 10
    with pytest.raises(ValueError, match="rows"):
        data.train_test_split(X, y[:-1])


@pytest.mark.parametrize("size", [1e200, 1.7e308, 1e-200, 1e-300])
def test_standardize_columns_of_any_finite_size(size: float) -> None:
    X = [[size, 1.0], [-size, 2.0], [size, 3.0], [size / 2, 4.0]]
    scaled, (means, stds) = data.standardize(X)
    assert all(math.isfinite(v) for v in [*means, *stds, *(v for row in scaled for v in row)])
    assert means[0] == pytest.approx(0.375 * size, rel=1e-12)
    for column in zip(*scaled, strict=True):
        assert sum(column) / len(column) == pytest.approx(0.0, abs=1e-12)
        assert sum(v * v for v in column) / len(column) == pytest.approx(1.0)
    again, _ = data.standardize([[1.7e308, 0.0], [-1.7e308, 0.0]], (means, stds))
    assert len(again) == 2  # new rows far outside the training range scale to inf, not an error


def test_standardize_is_unchanged_bit_for_bit_on_ordinary_columns() -> None:
    X = [[0.1 * i + 3.0, (-1.0) ** i * i * 7.5] for i in range(13)]
    columns = list(zip(*X, strict=True))
    means = [sum(c) / len(c) for c in columns]
    stds = [
        math.sqrt(sum((v - m) ** 2 for v in c) / len(c))
        for c, m in zip(columns, means, strict=True)
    ]
    assert data.standardize(X)[1] == (means, stds)


def test_load_csv(tmp_path: Path) -> None:
    path = tmp_path / "points.csv"
    path.write_text("a,label,b\n1,0,2.5\n3,1,4\n\n")
    X, y, features = data.load_csv(path, target="label")
    assert (X, y, features) == ([[1.0, 2.5], [3.0, 4.0]], [0.0, 1.0], ["a", "b"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("a,b\n", "no data rows"),
        ("a,b\n1,x\n", r"points.csv:2: column 'b' holds 'x'"),
        ("a,b\n1,nan\n", r"points.csv:2: column 'b' holds 'nan', not a finite number"),
        ("a,b\n1,2\n-inf,3\n", r"points.csv:3: column 'a' holds '-inf'"),
        ("a,b\n1\n", "1 cells"),
        ("a,c\n1,2\n", "no column 'b'"),
        ("a,b,a\n1,2,3\n", r"points.csv:1: the header names \['a'\] more than once"),
        ("a, b ,b\n1,2,3\n", r"names \['b'\] more than once"),
        ("a,,b\n1,2,3\n", "points.csv:1: column 2 has no name"),
        ("a,b,\n1,2,3\n", "column 3 has no name"),
    ],
)
def test_load_csv_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "points.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        data.load_csv(path, target="b")


def test_digits_shape_classes_and_values() -> None:
    X, y = data.load_digits()
    assert (len(X), len(y)) == (1797, 1797)
    assert all(len(row) == 64 for row in X)
    assert all(type(v) is float and v == int(v) and 0 <= v <= 16 for row in X for v in row)
    assert all(type(label) is int for label in y)
    assert sorted(set(y)) == list(range(10))
    counts = [y.count(digit) for digit in range(10)]
    assert counts == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    assert sum(map(sum, X)) == 561_718  # every pixel of every image, as in the original file
    assert X[0][:16] == [0, 0, 5, 13, 9, 1, 0, 0, 0, 0, 13, 15, 10, 15, 5, 0]  # a zero's top
    assert y[:10] == list(range(10))
    assert max(map(max, X)) == 16.0


def test_digits_scaled_into_the_unit_interval() -> None:
    X, y = data.load_digits()
    scaled, same_y = data.load_digits(scale=True)
    assert same_y == y
    assert all(0.0 <= v <= 1.0 for row in scaled for v in row)
    assert all(s == v / 16 for row, srow in zip(X, scaled, strict=True)
               for v, s in zip(row, srow, strict=True))  # fmt: skip


def test_digits_train() -> None:
    """A small network learns a slice of the digits: the loss falls, accuracy beats chance."""
    from autograd_lite import nn, optim, train

    X, y = data.load_digits(scale=True)
    X, y = X[:60], y[:60]
    model = nn.MLP(64, [16, 10], seed=0)
    history = train.fit(model, X, y, loss="cross_entropy", epochs=5, batch_size=10, seed=0,
                        optimizer=optim.Adam(model.parameters(), lr=0.05), progress=False,
                        compile=False)  # fmt: skip
    assert history.loss[-1] < 0.25 * history.loss[0]
    assert history.accuracy[-1] > 0.8


def test_the_wheel_ships_the_digits(wheel_files: set[str]) -> None:
    assert f"autograd_lite/{data.DIGITS_FILE}" in wheel_files
