"""Matplotlib pictures of training: the loss curve and a 2-D decision boundary.

Importable without matplotlib; each function imports it when called
(``pip install 'autograd_lite[demo]'``). Each draws on ``ax`` when given (a notebook's axes)
and otherwise returns a new ``Figure`` (no pyplot, so no display is needed to save it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .engine import Value, no_grad
from .train import History

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_decision_boundary", "plot_history"]


def _figure(ax: Axes | None, size: tuple[float, float]) -> tuple[Figure | Any, Axes]:
    if ax is not None:
        return ax.figure, ax
    try:
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError("plots need matplotlib: pip install 'autograd_lite[demo]'") from error
    figure = Figure(figsize=size, layout="constrained")
    return figure, figure.add_subplot()


def plot_history(history: History, ax: Axes | None = None) -> Figure | Any:
    """Loss per epoch (training, and validation when there was some), accuracy on a twin axis."""
    figure, ax = _figure(ax, (6.0, 4.0))
    epochs = range(1, history.epochs + 1)
    ax.plot(epochs, history.loss, label="training loss", color="tab:blue")
    if history.val_loss:
        ax.plot(epochs, history.val_loss, label="validation loss", color="tab:orange")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    lines, labels = ax.get_legend_handles_labels()
    if history.accuracy:
        right = ax.twinx()
        right.plot(epochs, history.accuracy, "--", label="training accuracy", color="tab:blue")
        if history.val_accuracy:
            right.plot(epochs, history.val_accuracy, "--", label="validation accuracy",
                       color="tab:orange")  # fmt: skip
        right.set_ylabel("accuracy")
        right.set_ylim(0.0, 1.05)
        more_lines, more_labels = right.get_legend_handles_labels()
        lines, labels = lines + more_lines, labels + more_labels
    ax.legend(lines, labels, loc="center right")
    ax.set_title("training")
    return figure


def plot_decision_boundary(
    model: Callable[[Sequence[float]], Value | list[Value]],
    X: Sequence[Sequence[float]],
    y: Sequence[float],
    ax: Axes | None = None,
    resolution: int = 50,
) -> Figure | Any:
    """The model's score over the plane (its sign is the class) with the points on top.

    For a model with one output (a score or logit: positive means the higher class).
    """
    figure, ax = _figure(ax, (5.0, 5.0))
    xs, ys = [row[0] for row in X], [row[1] for row in X]
    pad = 0.5
    x0, x1, y0, y1 = min(xs) - pad, max(xs) + pad, min(ys) - pad, max(ys) + pad
    grid_x = [x0 + (x1 - x0) * i / (resolution - 1) for i in range(resolution)]
    grid_y = [y0 + (y1 - y0) * j / (resolution - 1) for j in range(resolution)]
    with no_grad():
        scores = [[_score(model([gx, gy])) for gx in grid_x] for gy in grid_y]
    ax.contourf(grid_x, grid_y, [[float(s > 0) for s in row] for row in scores],
                levels=[-0.5, 0.5, 1.5], colors=["#f4b6b6", "#b6cdf4"], alpha=0.7)  # fmt: skip
    ax.contour(grid_x, grid_y, scores, levels=[0.0], colors="black", linewidths=1.0)
    high = max(y)
    ax.scatter(xs, ys, c=["tab:blue" if t == high else "tab:red" for t in y], s=18,
               edgecolors="white", linewidths=0.5)  # fmt: skip
    ax.set_title("decision boundary")
    ax.set_aspect("equal")
    return figure


def _score(output: Value | list[Value]) -> float:
    if isinstance(output, list):
        raise ValueError("plot_decision_boundary needs a model with one output")
    return output.data
