"""One place per primitive: every consumer reads the op table, and `atan` proves it.

A primitive of the table needs a `Value` method, an array form and a test domain, and every
list of primitives (the explorer's functions, the command's help, the README) is the table's.
`atan` is one table entry plus one `Value` method; the tests below follow it through
every part of the package.
"""

from __future__ import annotations

import math
import operator
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import autograd_lite as ag
from autograd_lite import Value, nn, ops
from autograd_lite.compiler.arrays import array_form
from autograd_lite.compiler.compiled import trace_gradient
from autograd_lite.explorer import FUNCTIONS, parse_expression
from tests.cli_runner import run

ROOT = Path(__file__).resolve().parent.parent
OPERATORS: dict[str, Callable[..., Value]] = {
    "+": Value.__add__,
    "-": Value.__sub__,
    "*": Value.__mul__,
    "/": Value.__truediv__,
    "**": Value.__pow__,
    "neg": Value.__neg__,
}
"""How a user reaches each operator of the table on Values."""
TABLE_FUNCTIONS = [op.function for op in ops.PRIMITIVES.values() if op.function is not None]


def value_method(op: ops.Primitive) -> Callable[..., Value] | None:
    """The ``Value`` method that applies ``op``: ``x.atan()``, ``abs(x)``, ``x + y``."""
    if op.function is None:
        return OPERATORS.get(op.name)
    return getattr(Value, op.function, None) or getattr(Value, f"__{op.function}__", None)


def points(op: ops.Primitive) -> list[tuple[float, ...]]:
    """Inputs inside each interval of the op's test domain: its ends and its middle."""
    columns = [[x for lo, hi in domain for x in (lo, (lo + hi) / 2, hi)] for domain in op.domains]
    return list(zip(*(c[: min(map(len, columns))] for c in columns), strict=True))


@pytest.mark.parametrize("op", ops.PRIMITIVES.values(), ids=lambda op: op.name)
def test_every_primitive_has_a_value_method_an_array_form_and_a_test_domain(
    op: ops.Primitive,
) -> None:
    method = value_method(op)
    assert method is not None, f"{op.name}: give Value a method that applies it"
    for args in points(op):
        out = method(*(Value(x) for x in args))
        assert out.op is op, f"{op.name}: the Value method records another primitive"
        assert math.isfinite(op.forward(*args)), f"{op.name}: its test domain leaves it"
    assert op.array is not None, f"{op.name}: give it an array form (array=...)"
    assert op.domains
    assert all(domain for domain in op.domains)


@pytest.mark.parametrize(
    "op",
    [*ops.PRIMITIVES.values(), *ops.MATH.values(), *ops.CONDITIONS.values(), ops.WHERE],
    ids=lambda op: op.name,
)
def test_array_forms_compute_what_the_forward_rules_compute(op: ops.Primitive) -> None:
    np = pytest.importorskip("numpy")
    rows = points(op) if op.recorded else [(-1.5, 2.0), (0.0, 0.0), (3.0, -0.5)]
    if op is ops.WHERE:
        rows = [(True, 1.0, 2.0), (False, 1.0, 2.0)]
    elif op.name in ("&", "|"):
        rows = [(a, b) for a in (True, False) for b in (True, False)]
    columns = [np.array(column) for column in zip(*rows, strict=True)]
    assert list(array_form(op, np)(*columns)) == pytest.approx(
        [op.forward(*row) for row in rows], rel=1e-12, abs=1e-300
    )


def test_where_and_the_conditions_are_table_entries_with_zero_partials() -> None:
    for op in ops.CONDITIONS.values():
        assert op.partials == (0.0, 0.0)
        assert not op.recorded
    assert ops.WHERE.arity == 3
    partials = [rule(True, 2.0, 3.0, 2.0, ops.FLOAT_MATH) for rule in ops.WHERE.partials]  # type: ignore[operator]
    assert partials == [0.0, 1.0, 0.0]  # none to the condition; all to the branch taken


def test_the_lists_of_functions_are_the_tables(capsys: pytest.CaptureFixture[str]) -> None:
    assert list(FUNCTIONS) == TABLE_FUNCTIONS
    assert "atan" in FUNCTIONS
    code, stdout, _ = run(["explore", "--help"], capsys)
    assert code == 0
    assert " ".join(TABLE_FUNCTIONS) in " ".join(stdout.split())  # the command's help
    readme = (ROOT / "README.md").read_text()
    lists = re.findall(r"`((?:[a-z]+ ){5,}[a-z]+)`", readme.replace("\n", " "))
    assert len(lists) >= 2, "README lists the functions where Value and the explorer are shown"
    assert all(found.split() == TABLE_FUNCTIONS for found in lists), lists


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: ops.Primitive("f", abs, (1.0,), array=3), "array"),  # type: ignore[arg-type]
        (lambda: ops.Primitive("f", operator.add, (1.0, 1.0), function="f"), "one input"),
        (lambda: ops.Primitive("f", abs, (1.0,), function="not a name"), "function names"),
        (lambda: ops.Primitive("f", lambda a, b, c: a, (1.0, 1.0, 1.0)), "one or two inputs"),
    ],
)
def test_a_primitive_that_does_not_fit_is_refused_when_made(
    make: Callable[[], Any], message: str
) -> None:
    with pytest.raises((TypeError, ValueError), match=message):
        make()


# --- atan, through every part of the package ------------------------------------------


@pytest.mark.parametrize("x", [-3.0, -0.5, 0.0, 1.0, 20.0])
def test_atan_eager_and_every_order_of_gradient(x: float) -> None:
    v = Value(x)
    y = v.atan()
    y.backward()
    assert y.data == math.atan(x)
    assert v.grad == pytest.approx(1.0 / (1.0 + x * x), rel=1e-15)
    q = 1.0 + x * x  # the derivatives of atan: 1/q, -2x/q², (6x² - 2)/q³
    first = ag.grad(lambda t: t.atan())
    second, third = ag.grad(first), ag.grad(ag.grad(first))
    assert first(x) == pytest.approx(1.0 / q, rel=1e-12)
    assert second(x) == pytest.approx(-2.0 * x / q**2, rel=1e-12, abs=1e-300)
    assert third(x) == pytest.approx((6.0 * x * x - 2.0) / q**3, rel=1e-12)


def test_atan_passes_gradcheck_and_gradgradcheck() -> None:
    def f(a: Value, b: Value) -> Value:
        return (a * b).atan() * a.atan()

    assert ag.gradcheck(f, [0.7, -1.3])
    assert ag.gradgradcheck(f, [0.7, -1.3])


def test_atan_compiles_on_floats_and_over_numpy_columns() -> None:
    def f(a: Value, b: Value) -> Value:
        return (a * b).atan() + a.atan() * b

    step = ag.compile(ag.value_and_grad(f, argnums=(0, 1)))
    for a, b in [(0.3, -2.0), (-1.5, 0.25), (0.0, 4.0)]:
        assert step(a, b) == ag.value_and_grad(f, argnums=(0, 1))(a, b)
    assert "atan(" in step.source
    np = pytest.importorskip("numpy")
    w = Value(0.5)
    program = trace_gradient(lambda x: (w * x).atan(), [2.0], [w])
    columns = program.array_function()
    assert columns is not None, "atan has an array form: compiled code runs it over columns"
    xs = np.array([-2.0, 0.5, 3.0])
    value, (slope,) = columns([0.5], xs)
    for i, x in enumerate(xs.tolist()):
        expected_value, (expected_slope,) = program.run([0.5], x)
        assert value[i] == pytest.approx(expected_value, rel=1e-15)
        assert slope[i] == pytest.approx(expected_slope, rel=1e-15)


class Atan(nn.Module, name="tests.Atan"):
    """atan on each input: a custom activation module built on the new method."""

    def __call__(self, x: Any) -> Any:
        return [v.atan() for v in x]

    def config(self) -> dict[str, Any]:
        return {}


@pytest.mark.parametrize("rows", [20, 80])  # 80: batches over NumPy columns
def test_atan_trains_with_fit_compiled_as_eagerly(rows: int) -> None:
    X = [[math.sin(i), math.cos(3 * i)] for i in range(rows)]
    y = [0.5 * a - b for a, b in X]

    def train(compiled: bool) -> tuple[list[float], list[float]]:
        model = nn.Sequential(nn.Linear(2, 3, seed=0), Atan(), nn.Linear(3, 1, seed=1))
        history = ag.fit(model, X, y, loss="mse", epochs=3, batch_size=rows, seed=0,
                         progress=False, compile=compiled)  # fmt: skip
        return history.loss, [p.data for p in model.parameters()]

    (eager_loss, eager_weights), (loss, weights) = train(False), train(True)
    assert loss == pytest.approx(eager_loss, rel=1e-9)
    assert weights == pytest.approx(eager_weights, rel=1e-9)
    assert loss[-1] < loss[0]


def test_atan_in_the_explorer_and_draw_dot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = parse_expression("atan(x) * 2", {"x": 1.0})
    assert root.data == 2 * math.atan(1.0)
    assert root.inputs[0].op is ops.PRIMITIVES["atan"]
    pytest.importorskip("graphviz")
    assert "atan" in ag.draw_dot(root).source
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot renders the explorer's page")
    out = tmp_path / "atan.html"
    code, _, stderr = run(["explore", "atan(x)", "x=1", "--out", str(out)], capsys)
    assert code == 0, stderr
    assert "atan" in out.read_text(encoding="utf-8")
