"""Hypothesis settings: no per-example deadline (shared CI machines are noisy); in CI
the examples are derandomized so a run can be reproduced exactly."""

import os

from hypothesis import settings

settings.register_profile("dev", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
