"""Check the engine's derivatives against central finite differences.

Central differences: ∂f/∂xᵢ ≈ (f(x + ε·eᵢ) - f(x - ε·eᵢ)) / 2ε, with error O(ε²) from
truncation and O(ulp·|f|/ε) from rounding; ε = 1e-6 balances the two in double
precision. A derivative passes when ``|analytic - numeric| <= atol + rtol·|numeric|``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from .engine import Value, gradients
from .grad_mode import no_grad

__all__ = ["GradcheckError", "gradcheck", "gradgradcheck"]

ScalarFunction = Callable[..., "Value | float"]


class GradcheckError(AssertionError):
    """An analytic derivative disagrees with finite differences (the message says where)."""


def _scalar_output(f: ScalarFunction, point: Sequence[Value]) -> Value:
    out = f(*point)
    if isinstance(out, (int, float)):
        return Value(out, requires_grad=False)
    if not isinstance(out, Value):
        raise TypeError(f"f must return a Value or a number, got {type(out).__name__}")
    return out


def _central_differences(
    g: Callable[[list[float]], list[float]], point: Sequence[float], eps: float
) -> list[list[float]]:
    """numeric[i][j] ≈ ∂gⱼ/∂xᵢ for a function g from n numbers to m numbers."""
    rows = []
    for i in range(len(point)):
        up, down = list(point), list(point)
        up[i] += eps
        down[i] -= eps
        rows.append([(a - b) / (2 * eps) for a, b in zip(g(up), g(down), strict=True)])
    return rows


def _value_at(f: ScalarFunction, point: list[float]) -> list[float]:
    with no_grad():
        return [_scalar_output(f, [Value(x) for x in point]).data]


def _gradient_at(f: ScalarFunction, point: list[float]) -> list[float]:
    xs = [Value(x) for x in point]
    return [g.data for g in gradients(_scalar_output(f, xs), xs)]


def _check_close(
    kind: str,
    analytic: list[list[float]],
    numeric: list[list[float]],
    point: Sequence[float],
    atol: float,
    rtol: float,
) -> bool:
    mismatches = [
        f"  {kind}[{i}]{'' if len(row) == 1 else f'[{j}]'}: analytic {a!r}, numeric {n!r}"
        for i, (row, numeric_row) in enumerate(zip(analytic, numeric, strict=True))
        for j, (a, n) in enumerate(zip(row, numeric_row, strict=True))
        if not abs(a - n) <= atol + rtol * abs(n)  # also fails on NaN
    ]
    if mismatches:
        raise GradcheckError(
            f"{len(mismatches)} {kind} mismatch(es) at point {tuple(point)!r}:\n"
            + "\n".join(mismatches)
        )
    return True


def _as_point(inputs: Sequence[float]) -> list[float]:
    point = [float(x) for x in inputs]
    if not all(math.isfinite(x) for x in point):
        raise ValueError(f"gradcheck needs finite inputs, got {tuple(point)!r}")
    return point


def gradcheck(
    f: ScalarFunction,
    inputs: Sequence[float],
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
) -> bool:
    """Check every first derivative of ``f`` at ``inputs`` against central differences.

    Args:
        f: Called with one fresh ``Value`` per input; returns a ``Value`` (or a number).
        inputs: The point, finite numbers.
        eps: The step of the central differences.
        atol: The absolute tolerance.
        rtol: The relative tolerance: ``|analytic - numeric| <= atol + rtol·|numeric|``.

    Returns:
        True when every derivative agrees.

    Raises:
        GradcheckError: Listing each input whose analytic and numeric derivatives differ,
            with both values and the point.
        ValueError: If an input is not finite.

    >>> gradcheck(lambda x, y: (x * y).tanh(), [0.5, -1.5])
    True
    """
    point = _as_point(inputs)
    analytic = [[g] for g in _gradient_at(f, point)]
    numeric = _central_differences(lambda p: _value_at(f, p), point, eps)
    return _check_close("input", analytic, numeric, point, atol, rtol)


def gradgradcheck(
    f: ScalarFunction,
    inputs: Sequence[float],
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
) -> bool:
    """Check every second derivative of ``f`` at ``inputs`` (the Hessian).

    The analytic Hessian comes from differentiating the engine's differentiable
    gradient; the numeric one from central differences of the engine's first
    derivatives.

    Args:
        f: Called with one fresh ``Value`` per input; returns a ``Value`` (or a number).
        inputs: The point, finite numbers.
        eps: The step of the central differences.
        atol: The absolute tolerance.
        rtol: The relative tolerance: ``|analytic - numeric| <= atol + rtol·|numeric|``.

    Returns:
        True when every second derivative agrees.

    Raises:
        GradcheckError: Listing each entry of the Hessian that differs.
        ValueError: If an input is not finite.

    >>> gradgradcheck(lambda x, y: x * x * y.sin(), [0.5, -1.5])
    True
    """
    point = _as_point(inputs)
    xs = [Value(x) for x in point]
    first = gradients(_scalar_output(f, xs), xs, create_graph=True)
    analytic = [[h.data for h in gradients(g, xs)] for g in first]
    numeric = _central_differences(lambda p: _gradient_at(f, p), point, eps)
    return _check_close("hessian", analytic, numeric, point, atol, rtol)
