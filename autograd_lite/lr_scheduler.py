"""Deprecated: the learning-rate schedulers are :mod:`autograd_lite.optim.lr_scheduler`.

``from autograd_lite.lr_scheduler import StepLR`` keeps working for one release and warns with
a ``DeprecationWarning``; import ``from autograd_lite.optim.lr_scheduler import StepLR``
(PyTorch's path) instead. This module will then be removed.
"""

from __future__ import annotations

import warnings
from typing import Any

from .optim import lr_scheduler as _moved

__all__ = list(_moved.__all__)


def __getattr__(name: str) -> Any:
    """Each name of :mod:`autograd_lite.optim.lr_scheduler`, with a warning where it is used."""
    if name.startswith("_") or not hasattr(_moved, name):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(
        f"autograd_lite.lr_scheduler is deprecated: import {name} from "
        "autograd_lite.optim.lr_scheduler",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(_moved, name)


def __dir__() -> list[str]:
    return sorted(__all__)
