"""Functional transforms: ``grad``, ``value_and_grad`` and ``hessian`` of Python functions.

``f`` receives one ``Value`` per argument (a list of Values for an argument given as a
list of numbers) and returns a ``Value`` (or a number). At the top level the transforms
take numbers and give numbers. Inside another transform they give ``Value`` s instead,
recorded in the graph, so they nest to any order: ``grad(grad(grad(f)))(x)`` is f'''(x).

Nesting is free of perturbation confusion: each transform differentiates with respect
to a *fresh* node for each argument, never an outer variable that ``f`` may also close
over, so ``grad(lambda x: x * grad(lambda y: x * y)(1.0))(1.0)`` is 2, not 3.

A transform is a :class:`Transform` object that remembers ``f`` and ``argnums``, so
``ag.compile`` can differentiate the traced program itself: ``ag.compile(ag.grad(f))``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .engine import Value, gradients
from .grad_mode import enable_grad

__all__ = ["Transform", "grad", "hessian", "value_and_grad"]

Function = Callable[..., Any]
ArgNums = int | Sequence[int]


class _Depth(threading.local):
    value = 0  # how many transforms are evaluating their `f` in this thread


_depth = _Depth()


@contextmanager
def inside_transform() -> Iterator[None]:
    """Transforms called in here give Values, recorded in the graph (they are nested)."""
    _depth.value += 1
    try:
        yield
    finally:
        _depth.value -= 1


def positions(argnums: ArgNums, count: int) -> tuple[int, ...]:
    """``argnums`` checked against ``count`` arguments, as non-negative positions.

    Args:
        argnums: One position or a tuple of them; negative ones count from the end.
        count: How many arguments there are.

    Returns:
        The positions as a tuple of non-negative ints.

    Raises:
        TypeError: If ``argnums`` is not an int or a non-empty tuple of ints.
        ValueError: If a position is out of range or repeated.

    >>> positions((0, -1), 3)
    (0, 2)
    """
    chosen = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if not chosen or not all(isinstance(i, int) for i in chosen):
        raise TypeError(f"argnums must be an int or a non-empty tuple of ints, got {argnums!r}")
    for i in chosen:
        if not -count <= i < count:
            raise ValueError(f"argnums {i} is out of range for {count} argument(s)")
    result = tuple(i % count for i in chosen)
    if len(set(result)) != len(result):
        raise ValueError(f"argnums {argnums!r} names an argument twice")
    return result


def _variable(arg: object) -> Value:
    """A fresh node to differentiate with respect to, equal to ``arg``."""
    if isinstance(arg, Value):
        # Connected to the outer variable (so outer transforms see through it), yet a
        # different node from it (so closures over `arg` are not differentiated here).
        return arg * 1.0 if arg.requires_grad else Value(arg.data)  # * 1 keeps -0.0
    if isinstance(arg, (int, float)) and not isinstance(arg, bool):
        return Value(arg)
    raise TypeError(
        "arguments to differentiate must be numbers or flat lists of numbers, "
        f"got {type(arg).__name__}"
    )


def _variables(arg: object) -> Value | list[Value]:
    if isinstance(arg, (list, tuple)):
        if not arg:
            raise ValueError("an argument to differentiate is an empty list")
        return [_variable(item) for item in arg]
    return _variable(arg)


def _flat(variable: Value | list[Value]) -> list[Value]:
    return variable if isinstance(variable, list) else [variable]


def _evaluate(
    f: Function, args: Sequence[object], chosen: tuple[int, ...]
) -> tuple[Value, list[Value | list[Value]], bool]:
    """Call f with fresh variables at ``chosen``: (output, variables, nested?)."""
    nested = _depth.value > 0 or any(
        isinstance(a, Value)
        or (isinstance(a, (list, tuple)) and any(isinstance(v, Value) for v in a))
        for a in args
    )
    variables = [_variables(args[i]) for i in chosen]
    call_args = list(args)
    for i, variable in zip(chosen, variables, strict=True):
        call_args[i] = variable
    with inside_transform():
        out = f(*call_args)
    if isinstance(out, (int, float)):
        out = Value(out, requires_grad=False)  # a constant function: every slope is 0
    if not isinstance(out, Value):
        raise TypeError(f"f must return a single Value or number, got {type(out).__name__}")
    return out, variables, nested


def _slopes(out: Value, variables: list[Value | list[Value]], nested: bool) -> list[Any]:
    """∂out/∂variable for each variable, shaped like it (a number or a list)."""
    flat = [v for variable in variables for v in _flat(variable)]
    found = iter(_result(gradients(out, flat, create_graph=nested), nested))
    return [
        [next(found) for _ in variable] if isinstance(variable, list) else next(found)
        for variable in variables
    ]


def _result(values: list[Value], nested: bool) -> list[Any]:
    return values if nested else [v.data for v in values]


@dataclass(frozen=True)
class Transform:
    """``f`` transformed: called eagerly here, differentiated as a program by ``ag.compile``.

    ``kind`` is ``"value_and_grad"``, ``"grad"`` or ``"hessian"``.
    """

    kind: str
    f: Function
    argnums: ArgNums = 0

    def __call__(self, *args: Any) -> Any:
        with enable_grad():
            if self.kind == "hessian":
                out, variables, nested = _evaluate(self.f, args, tuple(range(len(args))))
                flat = [_variable_of(v) for v in variables]
                first = gradients(out, flat, create_graph=True)
                return [_result(gradients(g, flat, create_graph=nested), nested) for g in first]
            chosen = positions(self.argnums, len(args))
            out, variables, nested = _evaluate(self.f, args, chosen)
            slopes = _slopes(out, variables, nested)
        slope = slopes[0] if isinstance(self.argnums, int) else tuple(slopes)
        if self.kind == "grad":
            return slope
        return (out if nested else out.data), slope


def _variable_of(variable: Value | list[Value]) -> Value:
    if isinstance(variable, list):
        raise TypeError("hessian takes numbers, not lists")
    return variable


def value_and_grad(f: Function, argnums: ArgNums = 0) -> Transform:
    """``f`` → a function returning ``(f(*args), ∂f/∂args[argnums])``.

    ``argnums`` an int gives one derivative; a tuple gives a tuple of them. An argument
    given as a list of numbers gets a list of partial derivatives.

    Args:
        f: A function of numbers (or lists of numbers) returning a scalar ``Value``.
        argnums: The position (or tuple of positions) of the arguments to differentiate by.

    Returns:
        A :class:`Transform`: called like ``f``, it returns ``(value, gradient)``.

    >>> value_and_grad(lambda x, y: x * y + y, argnums=(0, 1))(2.0, 3.0)
    (9.0, (3.0, 3.0))
    >>> value_and_grad(lambda w, x: w[0] * x + w[1])([2.0, 1.0], 3.0)
    (7.0, [3.0, 1.0])
    """
    return Transform("value_and_grad", f, argnums)


def grad(f: Function, argnums: ArgNums = 0) -> Transform:
    """``f`` → its derivative, as a function of the same arguments.

    Args:
        f: A function of numbers (or lists of numbers) returning a scalar ``Value``.
        argnums: The position (or tuple of positions) of the arguments to differentiate by.

    Returns:
        A :class:`Transform`: called like ``f``, it returns the gradient.

    >>> grad(lambda x: x ** 3)(2.0)            # 3x²
    12.0
    >>> grad(grad(grad(lambda x: x ** 3)))(2.0)  # 6
    6.0
    """
    return Transform("grad", f, argnums)


def hessian(f: Function) -> Transform:
    """``f`` of n numbers → its n×n matrix of second derivatives, as nested lists.

    Args:
        f: A function of n numbers returning a scalar ``Value``.

    Returns:
        A :class:`Transform`: called like ``f``, it returns the n×n Hessian.

    >>> hessian(lambda x, y: x * x * y)(3.0, 2.0)    # [[2y, 2x], [2x, 0]]
    [[4.0, 6.0], [6.0, 0.0]]
    """
    return Transform("hessian", f)
