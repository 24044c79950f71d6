"""The plots: one colour per class everywhere, labelled axes, legends, several classes,
training vs validation points, gradient norms on a log scale (matplotlib, no display)."""

from __future__ import annotations

from pathlib import Path

import pytest

import autograd_lite as ag
from autograd_lite import data, nn

pytest.importorskip("matplotlib", reason="the plots need matplotlib")
from autograd_lite import plots


def test_class_colours_are_fixed_by_label() -> None:
    assert plots.class_color(0.0) == plots.class_color(-1.0) == "tab:blue"
    assert plots.class_color(1.0) == "tab:orange"
    assert plots.class_color(2.0) == "tab:green"


def test_decision_boundary_has_labels_legend_and_splits(tmp_path: Path) -> None:
    X, y = data.make_moons(60, noise=0.1, seed=0)
    X, y = [list(r) for r in X], [float(t) for t in y]
    model = nn.MLP(2, [8, 1], dropout=0.2, seed=0)
    ag.fit(model, X[:40], y[:40], epochs=20, progress=False, compile=False)
    figure = plots.plot_decision_boundary(model, X[:40], y[:40], validation=(X[40:], y[40:]))
    ax = figure.axes[0]
    assert ax.get_xlabel() == "x₁"
    assert ax.get_ylabel() == "x₂"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["class 0", "class 1", "training", "validation"]
    xs = [r[0] for r in X]
    left, right = ax.get_xlim()
    assert left >= min(xs) - 0.1 * (max(xs) - min(xs))  # a small margin, not 0.5 units
    assert right <= max(xs) + 0.1 * (max(xs) - min(xs))
    figure.savefig(tmp_path / "boundary.png")
    assert model.training  # eval mode only while drawing


def test_decision_boundary_for_three_classes() -> None:
    X = [[i % 3 + 0.1 * (i % 7), (i // 3) % 2 + 0.1 * (i % 5)] for i in range(60)]
    y = [float(i % 3) for i in range(60)]
    model = nn.MLP(2, [8, 3], seed=0)
    figure = plots.plot_decision_boundary(model, X, y)
    legend = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    assert legend == ["class 0", "class 1", "class 2"]
    colours = {tuple(c) for c in figure.axes[0].collections[-1].get_facecolors()}
    assert len(colours) == 3


def test_gradient_norms_one_line_per_layer_on_a_log_scale() -> None:
    X, y = data.make_moons(30, seed=0)
    history = ag.fit(nn.MLP(2, [4, 4, 1], activation="sigmoid", seed=0), X, y, epochs=5,
                     progress=False, track_gradients=True)  # fmt: skip
    figure = plots.plot_gradient_norms(history)
    ax = figure.axes[0]
    assert ax.get_yscale() == "log"
    assert [line.get_label() for line in ax.get_lines()] == ["layers.0", "layers.1", "layers.2"]
    with pytest.raises(ValueError, match="track_gradients"):
        plots.plot_gradient_norms(ag.History())


def test_plot_data_uses_the_same_colours() -> None:
    figure = plots.plot_data([[0.0, 0.0], [1.0, 1.0]], [0.0, 1.0])
    legend = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    assert legend == ["class 0", "class 1"]
