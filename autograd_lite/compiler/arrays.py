"""Array forms: generated code run over NumPy columns, one row per element.

The code :func:`~autograd_lite.compiler.writer.write` produces uses Python's operators and
calls of primitives by name. NumPy arrays have the operators; the calls are bound to each
primitive's array form from the op table (``Primitive.array``), which follows the float
rule branch for branch (``sigmoid`` keeps its two stable branches), so results agree to
rounding. NumPy is optional: without it, or for a primitive with no array form, there is
no array version and compiled code runs row by row.

>>> from autograd_lite import ops
>>> np = numpy()
>>> np is None or float(array_form(ops.PRIMITIVES["atan"], np)(np.ones(2))[0]) == 0.7853981633974483
True
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ..ops import Primitive

__all__ = ["array_form", "array_functions", "numpy"]


@functools.cache
def numpy() -> Any:
    """The ``numpy`` module, or None where it is not installed."""
    try:
        import numpy
    except ImportError:
        return None
    return numpy


def array_form(op: Primitive, np: Any) -> Callable[..., Any]:
    """``op`` as a function of NumPy arrays, from its entry in the op table.

    Raises:
        ValueError: ``op`` has no array form.
    """
    if op.array is None:
        raise ValueError(f"primitive {op.name!r} has no array form")
    if isinstance(op.array, str):
        return getattr(np, op.array)  # type: ignore[no-any-return]
    return functools.partial(op.array, np)


def array_functions(functions: dict[str, Primitive]) -> dict[str, Callable[..., Any]] | None:
    """The globals generated code calls, bound to array forms: None without NumPy or when
    a primitive among them has no array form."""
    np = numpy()
    if np is None or any(op.array is None for op in functions.values()):
        return None
    return {name: array_form(op, np) for name, op in functions.items()}
