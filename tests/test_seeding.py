"""The one seed rule: ag.manual_seed seeds every default random source, and seed=None
draws from the global generator."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

import autograd_lite as ag
from autograd_lite import data, nn, seeding, tabular, train


def seeded_run() -> tuple[Any, ...]:
    X, y = data.make_moons(20)
    X_train, _, y_train, _ = data.train_test_split(X, y)
    model = nn.MLP(2, [4, 1])
    ag.fit(model, X_train, y_train, loss="bce", epochs=2, batch_size=4, progress=False)
    blobs = data.make_blobs(6), data.make_circles(6), data.make_xor(6)
    return X, X_train, model.state_dict(), nn.Linear(2, 2).state_dict(), blobs


def test_manual_seed_seeds_every_default_random_source() -> None:
    ag.manual_seed(123)
    first = seeded_run()
    ag.manual_seed(123)
    assert seeded_run() == first
    ag.manual_seed(124)
    second = seeded_run()
    for a, b in zip(first, second, strict=True):
        assert a != b
    with pytest.raises(TypeError, match="manual_seed takes an int"):
        ag.manual_seed("0")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="seed must be an int, a random"):
        data.make_moons(10, seed=True)


def test_seed_none_draws_from_the_global_generator_an_int_does_not() -> None:
    ag.manual_seed(0)
    a, b = nn.MLP(2, [3, 1]), nn.MLP(2, [3, 1])
    assert a.state_dict() != b.state_dict()  # successive models differ
    ag.manual_seed(0)
    assert nn.MLP(2, [3, 1]).state_dict() == a.state_dict()
    state = seeding._global.getstate()
    nn.MLP(2, [3, 1], seed=7)
    data.make_moons(10, seed=7)
    assert seeding._global.getstate() == state  # an explicit seed leaves the global alone


def test_the_package_has_one_default_for_seed() -> None:
    """Every public callable taking ``seed`` defaults it to None (the global generator)."""
    found = []
    for module in (nn, data, train, tabular):
        for name in getattr(module, "__all__", dir(module)):
            obj = getattr(module, name)
            if callable(obj) and getattr(obj, "__module__", "").startswith("autograd_lite"):
                function = obj.__init__ if inspect.isclass(obj) else obj
                parameter = inspect.signature(function).parameters.get("seed")
                if parameter is not None:
                    found.append(name)
                    assert parameter.default is None, f"{module.__name__}.{name}"
    assert {"MLP", "Layer", "Neuron", "Linear", "make_moons", "train_test_split", "fit",
            "prepare"} <= set(found)  # fmt: skip
