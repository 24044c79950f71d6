"""Make explorer.png, the README's picture of the HTML explorer: a real screenshot of the page
``autograd-lite explore "(a*b + c) * f" a=2 b=-3 c=10 f=-2`` writes, taken in headless
Chromium (Debian's chromium and chromium-driver, and selenium) after five steps.

Run from the repository: python notebooks/images/explorer_screenshot.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path


def main() -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    from autograd_lite.explorer import explore, parse_expression

    here = Path(__file__).resolve().parent
    values = {"a": 2.0, "b": -3.0, "c": 10.0, "f": -2.0}
    with tempfile.TemporaryDirectory() as folder:
        page = explore(parse_expression("(a*b + c) * f", values), Path(folder) / "bp.html")
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for flag in (
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--window-size=1100,520",
            f"--user-data-dir={Path(folder) / 'profile'}",
        ):
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        try:
            driver.get(page.resolve().as_uri())
            for _ in range(5):  # the forward pass, then two steps back
                driver.find_element(By.ID, "next").click()
            driver.save_screenshot(str(here / "explorer.png"))
        finally:
            driver.quit()
    print(here / "explorer.png")


if __name__ == "__main__":
    main()
