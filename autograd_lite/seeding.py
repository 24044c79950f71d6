"""The library's one rule for randomness: ``seed=None`` means the global generator.

Everything random in autograd_lite takes ``seed=`` (weight initialisation, the data sets,
``train_test_split``, ``fit``'s shuffling). An int makes that call reproducible on its own;
``None``, the default everywhere, draws from one global generator, which starts from seed 0
when the package is imported (as PyTorch's does from its own fixed seed) and which
:func:`manual_seed` resets. So a script gives the same numbers run after run, and two models
built one after the other still start from different weights.

>>> import autograd_lite as ag
>>> ag.manual_seed(1); a = ag.data.make_moons(4)
>>> ag.manual_seed(1); b = ag.data.make_moons(4)
>>> a == b
True
"""

from __future__ import annotations

import operator
import random

__all__ = ["INITIAL_SEED", "generator", "manual_seed"]

INITIAL_SEED = 0
"""The seed the global generator starts from when autograd_lite is imported."""

_global = random.Random(INITIAL_SEED)


def manual_seed(seed: int) -> None:
    """Reset the global generator: every later ``seed=None`` call follows from ``seed``.

    Args:
        seed: The seed.
    """
    _global.seed(_integer(seed, "manual_seed takes an int"))


def generator(seed: int | random.Random | None) -> random.Random:
    """The generator a ``seed=`` argument stands for.

    An int gives ``random.Random(seed)``; a ``random.Random`` is used as it is (to share one
    stream between calls); ``None`` gives a new generator seeded by one draw from the global
    generator, so each call moves the global state on by the same single step whatever it
    goes on to draw.

    Args:
        seed: An int, a ``random.Random``, or None.

    Returns:
        The generator to draw from.
    """
    if isinstance(seed, random.Random):
        return seed
    if seed is None:
        return random.Random(_global.getrandbits(64))
    return random.Random(_integer(seed, "seed must be an int, a random.Random or None"))


def _integer(seed: object, message: str) -> int:
    """``seed`` as an int (NumPy integers too), else ``TypeError`` with ``message``."""
    if isinstance(seed, bool):
        raise TypeError(f"{message}, got {seed!r}")
    try:
        return operator.index(seed)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{message}, got {seed!r}") from None
