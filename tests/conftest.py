"""Shared test settings.

Hypothesis: no per-example deadline (shared CI machines are noisy); in CI the examples are
derandomized so a run can be reproduced exactly.

``@pytest.mark.requires_torch`` marks a test that compares against PyTorch: where torch is not
installed the test is skipped, with the reason, instead of failing.
"""

from __future__ import annotations

import importlib.util
import os

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
