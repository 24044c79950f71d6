"""The command line, end to end."""

from __future__ import annotations

import subprocess
import sys

import pytest

from autograd_lite.cli import main


def test_demo_trains_to_high_accuracy(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--epochs", "60"]) == 0
    out = capsys.readouterr().out
    final = out.strip().splitlines()[-1]
    assert final.startswith("final: train accuracy")
    assert float(final.rsplit(" ", 1)[1]) >= 0.95


def test_python_dash_m_and_bad_arguments() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "autograd_lite", "demo", "--epochs", "0"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2
    assert "--epochs must be at least 1" in run.stderr
    assert "Traceback" not in run.stderr
    help_run = subprocess.run(
        [sys.executable, "-m", "autograd_lite", "--help"], capture_output=True, text=True
    )
    assert help_run.returncode == 0
    assert "demo" in help_run.stdout
