"""The ``autograd-lite`` command (also ``python -m autograd_lite``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import data, losses, optim
from .nn import MLP


def demo(epochs: int, seed: int) -> float:
    """Train micrograd's demo network on two moons; print progress; return validation accuracy."""
    X, y01 = data.make_moons(200, noise=0.1, seed=seed)
    y = [2.0 * v - 1.0 for v in y01]  # hinge loss wants labels ±1
    X_train, X_val, y_train, y_val = data.train_test_split(X, y, test_size=0.25, seed=seed)
    model = MLP(2, [16, 16, 1], seed=seed)
    params = model.parameters()
    optimizer = optim.SGD(params, lr=0.1, momentum=0.9)

    def accuracy(rows: list[list[float]], labels: list[float]) -> float:
        hits = sum((model(x).data > 0) == (t > 0) for x, t in zip(rows, labels, strict=True))  # type: ignore[union-attr]
        return hits / len(labels)

    print(f"Training MLP(2, [16, 16, 1]) ({len(params)} parameters) on {len(X_train)} points")
    for epoch in range(1, epochs + 1):
        scores = [model(x) for x in X_train]
        loss = losses.hinge_loss(scores, y_train) + 1e-4 * sum(p * p for p in params)  # type: ignore[arg-type]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if epoch == 1 or epoch % 10 == 0 or epoch == epochs:
            train = accuracy(X_train, y_train)
            print(f"epoch {epoch:3d}  loss {loss.data:.4f}  train accuracy {train:.2f}")
    val = accuracy(X_val, y_val)
    print(f"final: train accuracy {accuracy(X_train, y_train):.2f}, validation accuracy {val:.2f}")
    return val


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="autograd-lite", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo_parser = commands.add_parser("demo", help="train a small network on two moons")
    demo_parser.add_argument(
        "--epochs", type=int, default=100, help="training epochs (default 100)"
    )
    demo_parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")
    demo(args.epochs, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
