"""Headless Chromium driven by Selenium, as the browser tests start it.

A test module sets ``pytestmark = skip_without_browser(...)`` and builds its module-scoped
``browser`` fixture on :func:`chromium`. Where Chromium, its driver or Selenium is missing the
tests are skipped, except in CI (``CI`` set), which installs them: there they fail.
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def missing(*, needs_dot: bool = False) -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    for program in (CHROMIUM, CHROMEDRIVER):
        if not os.access(program, os.X_OK):
            return f"{program} is missing (Debian: apt-get install chromium chromium-driver)"
    if needs_dot and shutil.which("dot") is None:
        return "Graphviz's dot is missing"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is missing (pip install selenium)"
    return None


def skip_without_browser(*, needs_dot: bool = False) -> pytest.MarkDecorator:
    """A skipif mark: skip where the browser is missing, unless running in CI."""
    reason = missing(needs_dot=needs_dot)
    return pytest.mark.skipif(reason is not None and not os.environ.get("CI"), reason=reason or "")


def chromium(tmp_path_factory: pytest.TempPathFactory, window_size: str) -> Iterator[Any]:
    """Start headless Chromium with its own profile, yield the driver, quit it at the end."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tmp_path_factory.mktemp("chromium-profile")
    for flag in [*FLAGS, f"--window-size={window_size}", f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver: Any, path: Path) -> bytes:
    """Save the window as a PNG at ``path`` and return its bytes."""
    assert driver.save_screenshot(str(path))
    png = path.read_bytes()
    assert png.startswith(b"\x89PNG")
    return png


def assert_not_blank(png: bytes) -> None:
    """The screenshot shows more than a blank page (many colours; a large file without Pillow)."""
    try:
        from PIL import Image
    except ImportError:
        assert len(png) > 10_000
        return
    with Image.open(io.BytesIO(png)) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
    assert colours is not None
    assert len(colours) > 50, "more than a blank page"
