"""The playground's configuration: its keys, their defaults and ranges, and the check that every
setting is in range before anything changes.

>>> config = checked({"hidden": [3], "learning_rate": 0.1})
>>> config["hidden"], config["dataset"]
([3], 'circle')
>>> checked({"hidden": [9]})
Traceback (most recent call last):
...
ValueError: hidden: each layer has 1 to 8 neurons, got [9]
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ..nn import INITS
from .datasets import DATASETS

__all__ = ["DEFAULTS", "FEATURES", "LIMITS", "checked"]

FEATURES = ("x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)")
"""The input features the network may be given, computed from a point ``(x1, x2)``."""

DEFAULTS: dict[str, Any] = {
    "dataset": "circle",
    "points": 200,
    "noise": 0.1,
    "validation_split": 0.3,
    "batch_size": 10,
    "features": ["x1", "x2"],
    "hidden": [4, 4],
    "activation": "tanh",
    "init": "xavier",
    "dropout": 0.0,
    "learning_rate": 0.03,
    "optimizer": "adam",
    "regularization": None,
    "regularization_rate": 0.001,
    "early_stopping": None,
    "seed": 0,
}
"""The set-up the page opens with: a small tanh network learning the circle with Adam."""

LIMITS: dict[str, tuple[float, float]] = {
    "points": (10, 500),
    "noise": (0.0, 0.5),
    "validation_split": (0.1, 0.9),
    "batch_size": (1, 500),
    "dropout": (0.0, 0.9),
    "learning_rate": (1e-6, 10.0),
    "regularization_rate": (0.0, 1.0),
    "early_stopping": (1, 1000),
    "seed": (0, 2**31 - 1),
}
"""The range of each numeric setting (inclusive)."""

_CHOICES: dict[str, tuple[Any, ...]] = {
    "dataset": DATASETS,
    "activation": ("relu", "tanh", "sigmoid", "linear"),
    "init": tuple(sorted(INITS)),
    "optimizer": ("sgd", "momentum", "adam"),
    "regularization": (None, "l1", "l2"),
}
_INTEGERS = {"points", "batch_size", "early_stopping", "seed"}
_NULLABLE = {"early_stopping"}


def _setting_number(key: str, value: object) -> float | int | None:
    if value is None and key in _NULLABLE:
        return None
    low, high = LIMITS[key]
    integer = key in _INTEGERS
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        kind = "a whole number" if integer else "a number"
        raise ValueError(f"{key}: expected {kind} from {low:g} to {high:g}, got {value!r:.40}")
    if not (math.isfinite(value) and low <= value <= high):
        raise ValueError(f"{key}: must be from {low:g} to {high:g}, got {value!r}")
    return int(value) if integer else float(value)


def _hidden(value: object) -> list[int]:
    if not isinstance(value, list) or len(value) > 6:
        raise ValueError(f"hidden: expected a list of 0 to 6 layer widths, got {value!r:.40}")
    if any(isinstance(w, bool) or not isinstance(w, int) or not 1 <= w <= 8 for w in value):
        raise ValueError(f"hidden: each layer has 1 to 8 neurons, got {value!r:.40}")
    return list(value)


def _features(value: object) -> list[str]:
    if not isinstance(value, list) or not value:
        raise ValueError(f"features: expected a non-empty list from {', '.join(FEATURES)}")
    if any(f not in FEATURES for f in value) or len(set(value)) != len(value):
        raise ValueError(f"features: each one of {', '.join(FEATURES)}, once; got {value!r:.60}")
    return [f for f in FEATURES if f in value]  # one order, whatever order they were given in


def checked(changes: object, base: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``base`` (default :data:`DEFAULTS`) with ``changes`` applied, every setting checked.

    Raises:
        ValueError: one line naming the first bad key: unknown, of the wrong type or out of
            range. Nothing is changed then.
    """
    if not isinstance(changes, Mapping):
        raise ValueError("a configuration is a JSON object")
    config = dict(DEFAULTS if base is None else base)
    for key, value in changes.items():
        if key not in DEFAULTS:
            raise ValueError(f"unknown setting {str(key)[:40]!r}; known: {', '.join(DEFAULTS)}")
        if key in _CHOICES:
            if value not in _CHOICES[key] or isinstance(value, bool):
                shown = ", ".join("null" if c is None else c for c in _CHOICES[key])
                raise ValueError(f"{key}: choose from {shown}; got {value!r:.40}")
            config[key] = value
        elif key == "hidden":
            config[key] = _hidden(value)
        elif key == "features":
            config[key] = _features(value)
        else:
            config[key] = _setting_number(key, value)
    return config
