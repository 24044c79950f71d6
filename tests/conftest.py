"""Shared test settings.

Hypothesis: no per-example deadline (shared CI machines are noisy); in CI the examples are
derandomized so a run can be reproduced exactly.

``@pytest.mark.requires_torch`` marks a test that compares against PyTorch: where torch is not
installed the test is skipped, with the reason, instead of failing.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("dev", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

TORCH_MISSING = importlib.util.find_spec("torch") is None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "requires_torch: compares against PyTorch; skipped where torch is missing"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not TORCH_MISSING:
        return
    skip = pytest.mark.skip(reason="PyTorch is the oracle here; install torch==2.13.0")
    for item in items:
        if item.get_closest_marker("requires_torch"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def wheel_files(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """The names inside the project's wheel, built once per test session with hatchling."""
    pytest.importorskip("hatchling", reason="hatchling builds the wheel (the dev extra has it)")
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "--target", "wheel", "-d", str(out)],
        cwd=Path(__file__).resolve().parent.parent,
        check=True,
        capture_output=True,
    )
    (wheel,) = out.glob("autograd_lite-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())
