"""The running example of the tutorials: L = (a*b + c)*f, every value labelled."""

from __future__ import annotations

from autograd_lite import Value


def labelled_example() -> dict[str, Value]:
    """a, b, c, f, e = a*b, d = e + c and L = d*f by name; backward() is not called."""
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    c, f = Value(10.0, label="c"), Value(-2.0, label="f")
    e = a * b
    e.label = "e"
    d = e + c
    d.label = "d"
    L = d * f
    L.label = "L"
    return {"a": a, "b": b, "c": c, "f": f, "e": e, "d": d, "L": L}
