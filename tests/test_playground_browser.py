"""The playground page in a real browser: headless Chromium driven by Selenium, against a
running playground server.

Skipped where Chromium, its driver or Selenium is missing, except in CI (``CI`` set), which
installs them: there a missing browser fails the tests. With ``AUTOGRAD_LITE_SCREENSHOTS=1``
the screenshot test also writes the README's picture, notebooks/images/playground.png.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from headless_chromium import assert_not_blank, chromium, screenshot, skip_without_browser

import autograd_lite as ag
from autograd_lite.play.config import DEFAULTS

IMAGES = Path(__file__).resolve().parent.parent / "notebooks" / "images"

pytestmark = skip_without_browser()


@pytest.fixture(scope="module")
def server() -> Iterator[Any]:
    handle = ag.playground(open_browser=False)
    try:
        yield handle
    finally:
        handle.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    yield from chromium(tmp_path_factory, "1300,900")


def call(server: Any, method: str, path: str, body: object = None) -> Any:
    token = urlsplit(server.url).query.removeprefix("token=")
    base = server.url.split("?")[0]
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 - our own server, over http
        f"{base}api/{path}", data=data, method=method, headers={"Authorization": f"token {token}"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        payload = response.read()
    return json.loads(payload) if path != "export.py" else payload.decode()


def wait(driver: Any, condition: Any, timeout: float = 30) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(condition)


def text(driver: Any, id_: str) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.ID, id_).text)


def open_page(
    driver: Any, server: Any, config: dict[str, Any] | None = None, hash_: str = ""
) -> None:
    """The default set-up (or ``config``) at epoch 0, and the page freshly loaded on it."""
    call(server, "POST", "pause", {})
    call(server, "POST", "config", {**DEFAULTS, **(config or {})})
    driver.get("about:blank")  # so that a URL differing only in its hash loads afresh
    driver.get_log("browser")  # forget what earlier tests logged
    driver.get_log("performance")
    driver.get(server.url + hash_)
    wait(driver, lambda d: d.execute_script("return window.playground.state() !== null"))


def click(driver: Any, id_: str) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.ID, id_).click()


def test_loads_with_no_console_entries_and_nothing_leaves_127_0_0_1(
    browser: Any, server: Any
) -> None:
    open_page(browser, server)
    click(browser, "step")
    wait(browser, lambda d: text(d, "epoch") == "1")
    assert browser.title == "autograd_lite playground"
    assert browser.get_log("browser") == [], "nothing on the console"
    events = [json.loads(entry["message"])["message"] for entry in browser.get_log("performance")]
    requests = [e["params"] for e in events if e["method"] == "Network.requestWillBeSent"]
    urls = [r["request"]["url"] for r in requests]
    assert urls, "the page's own requests are seen"
    assert all(url.startswith("http://127.0.0.1:") for url in urls), urls
    failed = [e["params"] for e in events if e["method"] == "Network.loadingFailed"]
    assert failed == []
    statuses = [
        (e["params"]["response"]["url"], e["params"]["response"]["status"])
        for e in events
        if e["method"] == "Network.responseReceived"
    ]
    assert statuses
    assert all(status < 400 for _, status in statuses), statuses


def test_the_page_never_trains_by_itself(browser: Any, server: Any) -> None:
    open_page(browser, server)
    assert text(browser, "epoch") == "0"
    assert call(server, "GET", "state")["epoch"] == 0
    assert not call(server, "GET", "state")["playing"]


def test_step_advances_the_epoch_by_exactly_one(browser: Any, server: Any) -> None:
    open_page(browser, server)
    for expected in ("1", "2", "3"):
        click(browser, "step")
        wait(browser, lambda d, e=expected: text(d, "epoch") == e)  # type: ignore[misc]
    assert call(server, "GET", "state")["epoch"] == 3


def test_play_then_pause_trains_and_the_loss_on_circle_falls(browser: Any, server: Any) -> None:
    open_page(browser, server)
    first = float(text(browser, "train-loss"))
    click(browser, "play")
    wait(browser, lambda d: int(text(d, "epoch")) >= 10)
    click(browser, "pause")
    wait(browser, lambda d: d.find_element("id", "play").is_enabled())
    state = call(server, "GET", "state")
    assert not state["playing"]
    assert state["epoch"] >= 10
    assert call(server, "GET", "state")["epoch"] == state["epoch"], "paused"
    wait(browser, lambda d: text(d, "epoch") == str(state["epoch"]))
    assert float(text(browser, "train-loss")) < first
    assert browser.get_log("browser") == []


def neurons(driver: Any) -> int:
    from selenium.webdriver.common.by import By

    return len(driver.find_elements(By.CSS_SELECTOR, "#network button.neuron"))


def test_changing_layers_or_neurons_redraws_the_network(browser: Any, server: Any) -> None:
    from selenium.webdriver.common.by import By

    open_page(browser, server)
    assert neurons(browser) == 4 + 4 + 1
    edges = len(browser.find_elements(By.CSS_SELECTOR, "#edges line.edge"))
    assert edges == 2 * 4 + 4 * 4 + 4
    click(browser, "add-layer")
    wait(browser, lambda d: neurons(d) == 4 + 4 + 2 + 1)
    assert call(server, "GET", "state")["config"]["hidden"] == [4, 4, 2]
    plus = browser.find_elements(By.CSS_SELECTOR, '#network button.width[data-layer="0"]')[0]
    plus.click()
    wait(browser, lambda d: neurons(d) == 5 + 4 + 2 + 1)
    click(browser, "remove-layer")
    wait(browser, lambda d: neurons(d) == 5 + 4 + 1)
    assert "hidden=5,4" in browser.current_url, "the configuration is in the URL"


def edge_colours(driver: Any) -> list[tuple[str, str]]:
    return [
        (line.get_attribute("stroke"), line.get_attribute("stroke-width"))
        for line in driver.find_elements("css selector", "#edges line.edge")
    ]


def test_the_gradient_toggle_recolours_the_edges(browser: Any, server: Any) -> None:
    open_page(browser, server)
    by_weight = edge_colours(browser)
    click(browser, "show-gradients")
    by_gradient = edge_colours(browser)
    assert len(by_gradient) == len(by_weight)
    assert by_gradient != by_weight
    click(browser, "show-gradients")
    assert edge_colours(browser) == by_weight


def test_a_deep_sigmoid_net_from_the_url_shows_smaller_norms_early(
    browser: Any, server: Any
) -> None:
    from selenium.webdriver.common.by import By

    open_page(browser, server, hash_="#hidden=8,8,8,8,8,8&activation=sigmoid")
    wait(browser, lambda d: neurons(d) == 6 * 8 + 1)
    assert call(server, "GET", "state")["config"]["activation"] == "sigmoid"
    rows = browser.find_elements(By.CSS_SELECTOR, "#gradient-norms .bar-row")
    norms = [float(row.get_attribute("data-norm")) for row in rows]
    assert len(norms) == 7
    assert norms[0] < norms[3] < norms[-1], norms
    widths = [row.find_element(By.CSS_SELECTOR, ".bar").size["width"] for row in rows]
    assert widths[0] < widths[-1], "the bars show it"


def test_hover_a_weight_then_click_to_edit_it(browser: Any, server: Any) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    open_page(browser, server)
    line = browser.find_element(By.CSS_SELECTOR, '#edges line[data-layer="1"][data-neuron="2"]')
    ActionChains(browser).move_to_element(line).perform()
    tip = browser.find_element(By.ID, "tooltip")
    wait(browser, lambda d: tip.is_displayed())
    state = call(server, "GET", "state")
    neuron = state["network"]["layers"][1]["neurons"][2]
    index = int(line.get_attribute("data-index"))
    assert f"w = {neuron['weights'][index]:.6g}"[:8] in tip.text
    assert "dL/dw = " in tip.text
    line.click()
    field = browser.find_element(By.ID, "weight-value")
    field.clear()
    field.send_keys("1.75")
    click(browser, "weight-set")
    wait(
        browser,
        lambda d: (
            call(server, "GET", "state")["network"]["layers"][1]["neurons"][2]["weights"][index]
            == 1.75
        ),
    )


def test_click_a_neuron_for_its_backward_pass(browser: Any, server: Any) -> None:
    from selenium.webdriver.common.by import By

    open_page(browser, server)
    browser.find_element(By.CSS_SELECTOR, '#network button.neuron[data-layer="0"]').click()
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#backward li"))
    lines = [item.text for item in browser.find_elements(By.CSS_SELECTOR, "#backward li")]
    assert lines[0].startswith("dL/d")
    assert "dL/dout" in lines[0]
    assert any(line.startswith("dL/dw1 +=") for line in lines)
    assert browser.get_log("browser") == []


def test_the_exported_script_reproduces_the_page_losses(
    browser: Any, server: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    open_page(browser, server, {"dataset": "xor", "optimizer": "momentum"})
    for expected in ("1", "2", "3", "4"):
        click(browser, "step")
        wait(browser, lambda d, e=expected: text(d, "epoch") == e)  # type: ignore[misc]
    href = browser.find_element(By.ID, "export").get_attribute("href")
    assert href.startswith(server.url.split("?")[0] + "api/export.py?token=")
    script = tmp_path / "exported_run"
    script.write_text(call(server, "GET", "export.py"), encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    words = done.stdout.strip().splitlines()[-1].split()
    for value, id_ in zip([words[1], words[3]], ["train-loss", "validation-loss"]):
        shown = browser.find_element(By.ID, id_)
        assert float(value) == pytest.approx(float(shown.get_attribute("data-value")), abs=1e-9)
        assert float(value) == pytest.approx(float(shown.text), abs=1e-9)


def test_a_csv_of_ones_own_is_uploaded_from_the_page(
    browser: Any, server: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    open_page(browser, server)
    points = tmp_path / "points.csv"
    rows = [f"{(i % 7) - 3},{(i % 5) - 2},{int((i % 7) > 3)}" for i in range(40)]
    points.write_text("x1,x2,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    browser.find_element(By.ID, "csv-file").send_keys(str(points))
    wait(browser, lambda d: call(server, "GET", "state")["config"]["dataset"] == "csv")
    wait(browser, lambda d: d.find_element(By.ID, "dataset").get_attribute("value") == "csv")
    assert text(browser, "epoch") == "0"
    assert browser.get_log("browser") == []


def test_a_screenshot_is_not_blank(browser: Any, server: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    open_page(browser, server)
    call(server, "POST", "step", {"epochs": 60})
    browser.execute_script("return window.playground.refresh()")
    wait(browser, lambda d: text(d, "epoch") == "60")
    browser.find_element(By.CSS_SELECTOR, '#network button.neuron[data-layer="1"]').click()
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#backward li"))
    ActionChains(browser).move_to_element(browser.find_element(By.TAG_NAME, "h1")).perform()
    png = screenshot(browser, tmp_path / "playground.png")
    if os.environ.get("AUTOGRAD_LITE_SCREENSHOTS") == "1":
        _save_small(png, IMAGES / "playground.png")
    assert_not_blank(png)


def _save_small(png: bytes, path: Path) -> None:
    """Write the README's picture, shrunk to a few colours when Pillow is there."""
    try:
        from PIL import Image
    except ImportError:
        path.write_bytes(png)
        return
    with Image.open(io.BytesIO(png)) as image:
        small = image.convert("RGB").quantize(colors=128)
        small.save(path, optimize=True)
