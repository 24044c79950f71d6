"""Matplotlib pictures of training: the loss curve, per-layer gradient norms, 2-D data and
decision boundaries, each class in the same colour everywhere (:data:`CLASS_COLORS`).

Importable without matplotlib; each function imports it when called
(``pip install 'autograd_lite[demo]'``). :func:`animate_training` turns the snapshots that a
:class:`TrainingSnapshots` callback records during ``fit`` into an animated GIF (Pillow:
``pip install 'autograd_lite[gif]'``). Each draws on ``ax`` when given (a notebook's axes)
and otherwise returns a new ``Figure`` (no pyplot, so no display is needed to save it).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._files import writable_target
from ._gif import pillow, save_gif
from .engine import Value
from .grad_mode import no_grad
from .nn import Module
from .train import History, _evaluating

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "CLASS_COLORS",
    "TrainingSnapshots",
    "animate_training",
    "class_color",
    "class_index",
    "plot_data",
    "plot_decision_boundary",
    "plot_gradient_norms",
    "plot_history",
]


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
    """Loss per epoch (training, and validation when there was some), accuracy on a twin axis.

    Args:
        history: What ``fit`` returned.
        ax: The Matplotlib axes to draw on; None makes a new figure.

    Returns:
        The Matplotlib figure (that of ``ax`` when given).
    """
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


CLASS_COLORS = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple",
                "tab:brown", "tab:pink", "tab:gray", "tab:olive", "tab:cyan"]  # fmt: skip
"""The colour of each class, by class index, in every plot (matplotlib's own cycle):
class 0 (or -1, for hinge labels) is blue, class 1 orange, class 2 green, …"""


def class_index(label: float) -> int:
    """Where a label's colour is in :data:`CLASS_COLORS`: -1 (a hinge label) → 0, k → k.

    Args:
        label: A class label.

    Returns:
        The index.
    """
    return 0 if label == -1 else int(label)


def class_color(label: float) -> str:
    """The colour of the class ``label`` in every plot (see :data:`CLASS_COLORS`).

    Args:
        label: A class label.

    Returns:
        A Matplotlib colour name.

    >>> class_color(0.0), class_color(1.0), class_color(-1.0)
    ('tab:blue', 'tab:orange', 'tab:blue')
    """
    return CLASS_COLORS[class_index(label) % len(CLASS_COLORS)]


def plot_data(
    X: Sequence[Sequence[float]],
    y: Sequence[float],
    ax: Axes | None = None,
    *,
    validation: tuple[Sequence[Sequence[float]], Sequence[float]] | None = None,
    feature_names: tuple[str, str] = ("x₁", "x₂"),
) -> Figure | Any:
    """2-D points coloured by class (:func:`class_color`), validation points as hollow
    triangles, with axis labels and a legend.

    Args:
        X: The 2-D points.
        y: Their labels.
        ax: The Matplotlib axes to draw on; None makes a new figure.
        validation: ``(X_val, y_val)``, drawn as hollow triangles, or None.
        feature_names: The axes' labels.

    Returns:
        The Matplotlib figure (that of ``ax`` when given).
    """
    figure, ax = _figure(ax, _size_for([*X, *(validation[0] if validation else [])]))
    _points(ax, X, y, validation)
    ax.set_xlabel(feature_names[0])
    ax.set_ylabel(feature_names[1])
    return figure


def plot_decision_boundary(
    model: Callable[[Sequence[float]], Value | list[Value]],
    X: Sequence[Sequence[float]],
    y: Sequence[float],
    ax: Axes | None = None,
    resolution: int = 80,
    *,
    validation: tuple[Sequence[Sequence[float]], Sequence[float]] | None = None,
    feature_names: tuple[str, str] = ("x₁", "x₂"),
) -> Figure | Any:
    """The class the model predicts over the plane, shaded, its boundaries drawn, and the
    points on top: training points as dots, ``validation=(X_val, y_val)`` as hollow triangles.

    A model with one output gives a score (its sign is the class: positive means label 1,
    negative label 0 or -1); a model with k outputs gives class scores (the largest wins).
    Colours follow :data:`CLASS_COLORS` in every plot; axes are labelled with
    ``feature_names``, and a legend names the classes and the splits. The model runs in eval
    mode (no dropout). The plot covers the points with a small margin.

    Args:
        model: A model of two inputs.
        X: The training points.
        y: Their labels.
        ax: The Matplotlib axes to draw on; None makes a new figure.
        resolution: How many grid cells along each axis.
        validation: ``(X_val, y_val)``, drawn as hollow triangles, or None.
        feature_names: The axes' labels.

    Returns:
        The Matplotlib figure (that of ``ax`` when given).
    """
    everything = [*X, *(validation[0] if validation else [])]
    figure, ax = _figure(ax, _size_for(everything))
    x0, x1, y0, y1 = _extent(everything)
    grid_x = [x0 + (x1 - x0) * i / (resolution - 1) for i in range(resolution)]
    grid_y = [y0 + (y1 - y0) * j / (resolution - 1) for j in range(resolution)]
    low = -1.0 if any(t == -1 for t in y) else 0.0
    with no_grad(), _evaluating(model):
        outputs = [[model([gx, gy]) for gx in grid_x] for gy in grid_y]
    classes = [[_predicted(o, low) for o in row] for row in outputs]
    labels = sorted({*map(float, y), *(map(float, validation[1]) if validation else [])})
    labels = sorted({*labels, *(c for row in classes for c in row)})
    indices = [[float(class_index(c)) for c in row] for row in classes]
    top = max(class_index(label) for label in labels)
    levels = [k - 0.5 for k in range(top + 2)]
    colors = [CLASS_COLORS[k % len(CLASS_COLORS)] for k in range(top + 1)]
    ax.contourf(grid_x, grid_y, indices, levels=levels, colors=colors, alpha=0.25)
    for k in sorted({k for row in indices for k in row})[1:]:  # each class's edge, once
        inside = [[float(v == k) for v in row] for row in indices]
        ax.contour(grid_x, grid_y, inside, levels=[0.5], colors="black", linewidths=1.0)
    _points(ax, X, y, validation)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel(feature_names[0])
    ax.set_ylabel(feature_names[1])
    ax.set_title("decision boundary")
    return figure


def plot_gradient_norms(history: History, ax: Axes | None = None) -> Figure | Any:
    """Each layer's gradient norm per epoch (``fit(..., track_gradients=True)``), one line per
    layer on a log scale: lines falling away layer by layer show vanishing gradients, lines
    shooting up exploding ones.

    Args:
        history: What ``fit(..., track_gradients=True)`` returned.
        ax: The Matplotlib axes to draw on; None makes a new figure.

    Returns:
        The Matplotlib figure (that of ``ax`` when given).

    Raises:
        ValueError: If no gradient norms were recorded.
    """
    if not history.gradient_norms:
        raise ValueError("no gradient norms recorded: train with fit(..., track_gradients=True)")
    figure, ax = _figure(ax, (6.0, 4.0))
    for name, norms in history.gradient_norms.items():
        ax.plot(range(1, len(norms) + 1), norms, label=name)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("gradient norm (L2)")
    ax.legend(title="layer")
    ax.set_title("gradient norm per layer")
    return figure


def _predicted(output: Value | list[Value], low: float) -> float:
    if isinstance(output, list):
        return float(max(range(len(output)), key=lambda k: output[k].data))
    return 1.0 if output.data > 0 else low


def _extent(points: Sequence[Sequence[float]]) -> tuple[float, float, float, float]:
    """The points' bounding box, widened by 5% of its size on each side."""
    xs, ys = [row[0] for row in points], [row[1] for row in points]
    dx = (max(xs) - min(xs)) * 0.05 or 0.5
    dy = (max(ys) - min(ys)) * 0.05 or 0.5
    return min(xs) - dx, max(xs) + dx, min(ys) - dy, max(ys) + dy


def _size_for(points: Sequence[Sequence[float]]) -> tuple[float, float]:
    """A figure size whose plot area has about the data's aspect ratio (no empty margins)."""
    x0, x1, y0, y1 = _extent(points)
    ratio = min(max((y1 - y0) / (x1 - x0), 0.4), 1.5)
    return 6.0, 1.0 + 5.0 * ratio


def _points(
    ax: Axes,
    X: Sequence[Sequence[float]],
    y: Sequence[float],
    validation: tuple[Sequence[Sequence[float]], Sequence[float]] | None,
) -> None:
    """The points coloured by class, and a legend of classes and splits."""
    from matplotlib.lines import Line2D

    splits = [("training", X, y, "o")]
    if validation is not None:
        splits.append(("validation", validation[0], validation[1], "^"))
    for _name, rows, labels, marker in splits:
        colors = [class_color(t) for t in labels]
        hollow = marker == "^"
        ax.scatter([r[0] for r in rows], [r[1] for r in rows], marker=marker, s=22,
                   c="none" if hollow else colors, edgecolors=colors if hollow else "white",
                   linewidths=1.2 if hollow else 0.5)  # fmt: skip
    present = sorted({float(t) for _, _, labels, _ in splits for t in labels})
    handles = [
        Line2D([], [], marker="s", linestyle="", color=class_color(t), label=f"class {t:g}")
        for t in present
    ]
    if validation is not None:
        handles += [
            Line2D([], [], marker="o", linestyle="", color="gray", label="training"),
            Line2D(
                [],
                [],
                marker="^",
                linestyle="",
                color="gray",
                markerfacecolor="none",
                label="validation",
            ),
        ]
    ax.legend(handles=handles, loc="best", fontsize="small", framealpha=0.8)


class TrainingSnapshots:
    """A ``fit`` callback that records the training loss every epoch and the model's weights
    (``state_dict()``) before training and every ``every`` epochs, for :func:`animate_training`.

    >>> from autograd_lite import fit, nn
    >>> model = nn.MLP(2, [4, 1], seed=0)
    >>> snapshots = TrainingSnapshots(model, every=5)
    >>> _ = fit(model, [[0.0, 1.0], [1.0, 0.0]], [0.0, 1.0], epochs=10, progress=False,
    ...         callbacks=snapshots)
    >>> snapshots.epochs, len(snapshots.loss)
    ([0, 5, 10], 10)
    """

    def __init__(self, model: Module, every: int = 1) -> None:
        if not isinstance(model, Module):
            raise TypeError(f"TrainingSnapshots records a Module, got {type(model).__name__}")
        if not isinstance(every, int) or isinstance(every, bool) or every < 1:
            raise ValueError(f"every must be a positive int, got {every!r}")
        self.model, self.every = model, every
        self.epochs: list[int] = [0]
        """The epochs whose weights are kept (0: before training)."""
        self.states: list[dict[str, float]] = [model.state_dict()]
        self.loss: list[float] = []
        """The training loss of every epoch, from 1."""

    def __call__(self, epoch: int, numbers: dict[str, float]) -> None:
        self.loss.append(numbers["loss"])
        if epoch % self.every == 0:
            self.epochs.append(epoch)
            self.states.append(self.model.state_dict())


def animate_training(
    model: Module,
    X: Sequence[Sequence[float]],
    y: Sequence[float],
    snapshots: TrainingSnapshots,
    path: str | Path = "training.gif",
    *,
    resolution: int = 40,
    duration: int = 300,
    dpi: int = 60,
) -> Path:
    """Write an animated GIF of training: per snapshot, the decision boundary of ``model`` with
    those weights (:func:`plot_decision_boundary` over the 2-D points ``X``, ``y``) beside the
    loss curve up to that epoch; return the path. Record the snapshots by passing a
    :class:`TrainingSnapshots` for this model to ``fit(..., callbacks=snapshots)``. The model
    ends with the weights it had. Needs matplotlib and Pillow (``autograd_lite[demo,gif]``).
    """
    pillow()  # say what is missing before any work
    if snapshots.model is not model:
        raise ValueError("the snapshots were recorded for another model")
    writable_target(Path(path))
    figure_class = _figure(None, (1.0, 1.0))[0].__class__
    kept, frames = model.state_dict(), []
    try:
        for epoch, state in zip(snapshots.epochs, snapshots.states):
            model.load_state_dict(state)
            figure = figure_class(figsize=(9.0, 3.8), layout="constrained")
            left, right = figure.subplots(1, 2)
            plot_decision_boundary(model, X, y, ax=left, resolution=resolution)
            left.set_title(f"decision boundary, epoch {epoch}")
            _loss_so_far(right, snapshots.loss, epoch)
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png", dpi=dpi)
            frames.append(buffer.getvalue())
    finally:
        model.load_state_dict(kept)
    return save_gif(frames, path, duration=duration)


def _loss_so_far(ax: Axes, loss: Sequence[float], epoch: int) -> None:
    """The whole loss curve faint, the part up to ``epoch`` drawn over it, a dot at ``epoch``."""
    epochs = range(1, len(loss) + 1)
    ax.plot(epochs, loss, color="lightgrey")
    ax.plot(epochs[:epoch], loss[:epoch], color="tab:blue")
    if epoch >= 1:
        ax.plot([epoch], [loss[epoch - 1]], "o", color="tab:blue")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    ax.set_title("loss")
