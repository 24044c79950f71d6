"""Animations for slides: the backward pass and training as GIFs (Graphviz, Pillow)."""

from __future__ import annotations

import itertools
import os
import shutil
import sys
from pathlib import Path

import pytest
from running_example import labelled_example

import autograd_lite as ag
from autograd_lite import data, nn, plots
from autograd_lite.viz import GraphvizNotFoundError
from tests.cli_runner import run

IN_CI = bool(os.environ.get("CI"))  # CI installs dot and Pillow: there these tests must run
needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None and not IN_CI, reason="Graphviz's dot is missing"
)


def frames_of(path: Path) -> list[bytes]:
    from PIL import Image, ImageSequence

    with Image.open(path) as image:
        assert image.format == "GIF"
        return [frame.convert("RGB").tobytes() for frame in ImageSequence.Iterator(image)]


@needs_dot
def test_one_frame_per_step_plus_the_first_each_different(tmp_path: Path) -> None:
    pytest.importorskip("PIL")
    pytest.importorskip("graphviz")
    root = labelled_example()["L"]
    path = ag.animate_backward(root, tmp_path / "backprop.gif")
    assert path == tmp_path / "backprop.gif"
    frames = frames_of(path)
    assert len(frames) == len(ag.backward_steps(root)) + 1
    for before, after in itertools.pairwise(frames):
        assert before != after
    assert path.stat().st_size < 200_000
    assert all(v.grad == 0.0 for v in ag.topological_order(root)), "no .grad changes"


@needs_dot
def test_a_missing_pillow_or_dot_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("graphviz")
    root = labelled_example()["L"]
    with monkeypatch.context() as patched:
        patched.setitem(sys.modules, "PIL", None)
        with pytest.raises(ImportError, match=r"autograd_lite\[gif\]"):
            ag.animate_backward(root, tmp_path / "a.gif")
    pytest.importorskip("PIL")
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot on it
    with pytest.raises(GraphvizNotFoundError, match="apt-get install graphviz"):
        ag.animate_backward(root, tmp_path / "b.gif")
    assert not (tmp_path / "a.gif").exists()
    assert not (tmp_path / "b.gif").exists()


def test_training_snapshots_and_their_animation(tmp_path: Path) -> None:
    pytest.importorskip("PIL")
    pytest.importorskip("matplotlib")
    X, y = data.make_moons(40, noise=0.1, seed=0)
    model = nn.MLP(2, [6, 1], seed=0)
    snapshots = plots.TrainingSnapshots(model, every=5)
    ag.fit(model, X, y, epochs=15, progress=False, seed=0, callbacks=snapshots)
    assert snapshots.epochs == [0, 5, 10, 15]
    assert len(snapshots.loss) == 15
    assert snapshots.states[-1] == model.state_dict()
    assert len({tuple(state.values()) for state in snapshots.states}) == 4, "weights move"
    final = model.state_dict()
    path = plots.animate_training(model, X, y, snapshots, tmp_path / "training.gif")
    frames = frames_of(path)
    assert len(frames) == len(snapshots.epochs)
    for before, after in itertools.pairwise(frames):
        assert before != after
    assert path.stat().st_size < 500_000
    assert model.state_dict() == final, "the model ends with its own weights"
    with pytest.raises(ValueError, match="positive int"):
        plots.TrainingSnapshots(model, every=0)
    with pytest.raises(ValueError, match="another model"):
        plots.animate_training(nn.MLP(2, [1], seed=1), X, y, snapshots, tmp_path / "x.gif")


@needs_dot
def test_explore_writes_the_gif_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("PIL")
    pytest.importorskip("graphviz")
    page, gif = tmp_path / "bp.html", tmp_path / "bp.gif"
    argv = ["explore", "a*b + a", "a=2", "b=-3", "--out", str(page), "--gif", str(gif)]
    code, out, _ = run(argv, capsys)
    assert code == 0
    assert out.split() == [str(page), str(gif)]
    assert len(frames_of(gif)) == 3  # before, +, *
    code, _, err = run(["explore", "a*b", "a=1", "b=2", "--out", str(page), "--gif", str(page)],
                       capsys)  # fmt: skip
    assert code == 2
    assert "--gif" in err
