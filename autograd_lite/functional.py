"""Functional transforms: ``grad``, ``value_and_grad`` and ``hessian`` of Python functions.

``f`` receives one ``Value`` per argument and returns a ``Value`` (or a number). At the
top level the transforms take numbers and give numbers. Inside another transform they
give ``Value`` s instead, recorded in the graph, so they nest to any order:
``grad(grad(grad(f)))(x)`` is f'''(x).

Nesting is free of perturbation confusion: each transform differentiates with respect
to a *fresh* node for each argument, never an outer variable that ``f`` may also close
over, so ``grad(lambda x: x * grad(lambda y: x * y)(1.0))(1.0)`` is 2, not 3.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from .engine import Value, enable_grad, gradients

__all__ = ["grad", "hessian", "value_and_grad"]

Function = Callable[..., "Value | float"]
ArgNums = int | Sequence[int]


class _Depth(threading.local):
    value = 0  # how many transforms are evaluating their `f` in this thread


_depth = _Depth()


def _positions(argnums: ArgNums, count: int) -> tuple[int, ...]:
    positions = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if not positions or not all(isinstance(i, int) for i in positions):
        raise TypeError(f"argnums must be an int or a non-empty tuple of ints, got {argnums!r}")
    for i in positions:
        if not -count <= i < count:
            raise ValueError(f"argnums {i} is out of range for {count} argument(s)")
    return tuple(i % count for i in positions)


def _variable(arg: object) -> Value:
    """A fresh node to differentiate with respect to, equal to ``arg``."""
    if isinstance(arg, Value):
        # Connected to the outer variable (so outer transforms see through it), yet a
        # different node from it (so closures over `arg` are not differentiated here).
        return arg + 0.0 if arg.requires_grad else Value(arg.data)
    if isinstance(arg, (int, float)):
        return Value(arg)
    raise TypeError(f"arguments to differentiate must be numbers, got {type(arg).__name__}")


def _evaluate(
    f: Function, args: Sequence[object], positions: tuple[int, ...]
) -> tuple[Value, list[Value], bool]:
    """Call f with fresh variables at ``positions``: (output, variables, nested?)."""
    nested = _depth.value > 0 or any(isinstance(a, Value) for a in args)
    variables = [_variable(args[i]) for i in positions]
    call_args = list(args)
    for i, variable in zip(positions, variables, strict=True):
        call_args[i] = variable
    _depth.value += 1
    try:
        out = f(*call_args)
    finally:
        _depth.value -= 1
    if isinstance(out, (int, float)):
        out = Value(out, requires_grad=False)  # a constant function: every slope is 0
    if not isinstance(out, Value):
        raise TypeError(f"f must return a single Value or number, got {type(out).__name__}")
    return out, variables, nested


def _result(values: list[Value], nested: bool) -> list[Any]:
    return values if nested else [v.data for v in values]


def value_and_grad(f: Function, argnums: ArgNums = 0) -> Callable[..., tuple[Any, Any]]:
    """``f`` → a function returning ``(f(*args), ∂f/∂args[argnums])``.

    ``argnums`` an int gives one derivative; a tuple gives a tuple of them.

    >>> value_and_grad(lambda x, y: x * y + y, argnums=(0, 1))(2.0, 3.0)
    (9.0, (3.0, 3.0))
    """

    def transformed(*args: object) -> tuple[Any, Any]:
        positions = _positions(argnums, len(args))
        with enable_grad():
            out, variables, nested = _evaluate(f, args, positions)
            slopes = _result(gradients(out, variables, create_graph=nested), nested)
        value = out if nested else out.data
        return value, slopes[0] if isinstance(argnums, int) else tuple(slopes)

    return transformed


def grad(f: Function, argnums: ArgNums = 0) -> Callable[..., Any]:
    """``f`` → its derivative, as a function of the same arguments.

    >>> grad(lambda x: x ** 3)(2.0)            # 3x²
    12.0
    >>> grad(grad(grad(lambda x: x ** 3)))(2.0)  # 6
    6.0
    """
    with_value = value_and_grad(f, argnums)
    return lambda *args: with_value(*args)[1]


def hessian(f: Function) -> Callable[..., list[list[Any]]]:
    """``f`` of n numbers → its n×n matrix of second derivatives, as nested lists.

    >>> hessian(lambda x, y: x * x * y)(3.0, 2.0)    # [[2y, 2x], [2x, 0]]
    [[4.0, 6.0], [6.0, 0.0]]
    """

    def transformed(*args: object) -> list[list[Any]]:
        positions = tuple(range(len(args)))
        with enable_grad():
            out, variables, nested = _evaluate(f, args, positions)
            first = gradients(out, variables, create_graph=True)
            return [_result(gradients(g, variables, create_graph=nested), nested) for g in first]

    return transformed
