"""Bad input (README.md, "Errors"): the right exception, a message naming the op and the value."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from autograd_lite import Value


@pytest.mark.parametrize("data", ["x", "abc", None, [1.0], b"1", 1 + 2j])
def test_value_rejects_non_numbers(data: object) -> None:
    with pytest.raises(TypeError, match="real number"):
        Value(data)  # type: ignore[arg-type]


def test_value_of_a_value_points_to_detach() -> None:
    with pytest.raises(TypeError, match="detach"):
        Value(Value(1.0))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "operation",
    [
        lambda: Value(1) + "a",
        lambda: "a" + Value(1),
        lambda: Value(1) * None,
        lambda: [1] - Value(1),
        lambda: Value(1) ** "2",
        lambda: Value(1) / object(),
    ],
)
def test_unsupported_operands_raise_pythons_type_error(operation: Callable[[], object]) -> None:
    with pytest.raises(TypeError, match=r"unsupported operand|can only concatenate") as info:
        operation()
    assert "Value" in str(info.value)


@pytest.mark.parametrize(
    ("operation", "names"),
    [
        (lambda: Value(0.0).log(), ("log", "0.0")),
        (lambda: Value(-1.0).log(), ("log", "-1.0")),
        (lambda: Value(-1.0).sqrt(), ("sqrt", "-1.0")),
        (lambda: Value(-2.0) ** 0.5, ("**", "-2.0", "0.5")),
        (lambda: Value(0.0) ** -1, ("**", "0.0", "-1")),
        (lambda: Value(1.0) / 0, ("/", "1.0", "0.0")),
        (lambda: 1.0 / Value(0.0), ("/", "0.0")),
        (lambda: Value(-8.0) ** Value(1 / 3), ("**", "-8.0")),
    ],
)
def test_domain_errors_name_the_op_and_value(
    operation: Callable[[], Value], names: tuple[str, ...]
) -> None:
    with pytest.raises(ValueError, match="is undefined") as info:
        operation()
    for name in names:
        assert name in str(info.value)
    assert info.value.__cause__ is not None  # chained from the math error


def test_negative_base_with_integer_exponent_is_real() -> None:
    assert (Value(-2.0) ** 3).data == -8.0
    assert (Value(-2.0) ** Value(2.0)).data == 4.0
    assert isinstance((Value(-2.0) ** 2.0).data, float)
