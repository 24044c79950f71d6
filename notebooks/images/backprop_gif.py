"""Make backprop.gif, the README's animation of the backward pass: the frames of
``draw_dot(L, step=k)`` for the running example ``L = (a*b + c)*f``, as
``ag.animate_backward`` writes them (Graphviz's dot and Pillow).

Run from the repository: python notebooks/images/backprop_gif.py
"""

from __future__ import annotations

from pathlib import Path


def main() -> None:
    import autograd_lite as ag
    from autograd_lite.explorer import parse_expression

    values = {"a": 2.0, "b": -3.0, "c": 10.0, "f": -2.0}
    L = parse_expression("(a*b + c) * f", values)
    path = Path(__file__).resolve().parent / "backprop.gif"
    print(ag.animate_backward(L, path, dpi=60, duration=1500))


if __name__ == "__main__":
    main()
