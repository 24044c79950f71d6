"""The explorer page in a real browser: headless Chromium driven by Selenium.

Skipped where Chromium, its driver or Selenium is missing, except in CI (``CI`` set), which
installs them (``.ci/run``): there a missing browser fails the tests.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from headless_chromium import assert_not_blank, chromium, screenshot, skip_without_browser
from running_example import labelled_example

import autograd_lite as ag
from autograd_lite.explorer import page_data

pytestmark = skip_without_browser(needs_dot=True)


def classic() -> ag.Value:
    return labelled_example()["L"]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    yield from chromium(tmp_path_factory, "1300,700")


@pytest.fixture
def page(browser: Any, tmp_path: Path) -> tuple[Any, ag.Value, dict[str, Any]]:
    root = classic()
    path = ag.explore(root, tmp_path / "backprop.html")
    browser.get_log("browser")  # forget what earlier tests logged
    browser.get_log("performance")
    browser.get(path.as_uri())
    return browser, root, page_data(root)


def panel_lines(driver: Any) -> list[str]:
    from selenium.webdriver.common.by import By

    return [item.text for item in driver.find_elements(By.CSS_SELECTOR, "#arithmetic li")]


def current_node(driver: Any) -> str:
    from selenium.webdriver.common.by import By

    found = driver.find_elements(By.CSS_SELECTOR, "#graph g.node.current")
    assert len(found) == 1, "exactly one highlighted node"
    return str(found[0].get_attribute("id"))


def test_loads_with_no_console_errors_and_no_network(page: tuple[Any, Any, Any]) -> None:
    driver, _, _ = page
    assert driver.title == "Backprop, step by step: L"
    assert driver.get_log("browser") == [], "nothing on the console"
    resources = driver.execute_script("return performance.getEntriesByType('resource').length")
    assert resources == 0, "the page loads nothing"
    page_url = driver.current_url
    events = [json.loads(entry["message"])["message"] for entry in driver.get_log("performance")]
    # the requests the explorer's document made (not the browser's own start page's)
    urls = [
        event["params"]["request"]["url"]
        for event in events
        if event["method"] == "Network.requestWillBeSent"
        and event["params"].get("documentURL") == page_url
    ]
    assert urls == [page_url], "the page itself and nothing else"
    assert not [url for url in urls if re.match(r"https?:", url)]


def test_next_shows_each_step_and_highlights_its_node(page: tuple[Any, Any, Any]) -> None:
    from selenium.webdriver.common.by import By

    driver, _, data = page
    steps = data["steps"]
    assert panel_lines(driver) == []
    assert driver.find_element(By.ID, "prev").get_attribute("disabled") == "true"
    for n in range(1, len(steps) + 1):
        driver.find_element(By.ID, "next").click()
        assert panel_lines(driver) == steps[n - 1]["text"], f"after {n} clicks"
        assert current_node(driver) == steps[n - 1]["node"]
        active = driver.find_elements(By.CSS_SELECTOR, "#graph g.edge.active")
        node = steps[n - 1]["node"]
        assert {e.get_attribute("data-to") for e in active} == {node, node + "op"}
    assert driver.find_element(By.ID, "next").get_attribute("disabled") == "true"
    assert driver.get_log("browser") == []


def test_the_last_step_holds_backwards_gradients(page: tuple[Any, Any, Any]) -> None:
    from selenium.webdriver.common.by import By

    driver, root, data = page
    for _ in data["steps"]:
        driver.find_element(By.ID, "next").click()
    grads = driver.execute_script("return window.explorer.grads()")
    root.backward()
    ids = {f"n{i}": node for i, node in enumerate(ag.topological_order(root))}
    assert grads == {id_: node.grad for id_, node in ids.items() if node.requires_grad}
    for id_, node in ids.items():  # and the drawing says so
        texts = driver.find_elements(By.CSS_SELECTOR, f'g.node[id="{id_}"] text')
        assert texts[-1].text == f"grad {node.grad:.4f}"


def test_arrow_keys_step_forward_and_back(page: tuple[Any, Any, Any]) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver, _, data = page
    steps = data["steps"]
    body = driver.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.ARROW_RIGHT, Keys.ARROW_RIGHT, Keys.ARROW_RIGHT, Keys.ARROW_RIGHT)
    assert panel_lines(driver) == steps[3]["text"]
    assert current_node(driver) == steps[3]["node"]
    body.send_keys(Keys.ARROW_LEFT)
    assert panel_lines(driver) == steps[2]["text"]
    assert current_node(driver) == steps[2]["node"]


def test_hover_shows_label_data_and_grad(page: tuple[Any, Any, Any]) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    driver, _, data = page
    for _ in data["steps"]:
        driver.find_element(By.ID, "next").click()
    node = driver.find_element(By.CSS_SELECTOR, 'g.node[id="n0"]')  # f, the first in order
    ActionChains(driver).move_to_element(node).perform()
    tip = driver.find_element(By.ID, "tooltip")
    assert tip.is_displayed()
    assert tip.text.split("\n") == ["f", "data -2", "grad 4"]


def test_a_screenshot_is_not_blank(page: tuple[Any, Any, Any], tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    driver, _, _ = page
    for _ in range(5):
        driver.find_element(By.ID, "next").click()
    png = screenshot(driver, tmp_path / "explorer.png")
    assert_not_blank(png)


def _typeset_every_step(driver: Any, steps: list[dict[str, Any]]) -> list[str]:
    """Go to each step; for a backward one, the formula's rendered text (its MathML
    annotation: the LaTeX KaTeX read)."""
    from selenium.webdriver.common.by import By

    seen = []
    for n, step in enumerate(steps, start=1):
        driver.execute_script(f"window.explorer.go({n})")
        formula = driver.find_element(By.ID, "formula")
        assert not formula.find_elements(By.CSS_SELECTOR, ".katex-error"), f"step {n}"
        if step["phase"] == "backward":
            assert formula.find_elements(By.CSS_SELECTOR, ".katex-display .katex-html")
            annotation = formula.find_element(By.CSS_SELECTOR, "annotation")
            seen.append(str(annotation.get_attribute("textContent")))
        else:
            assert formula.find_elements(By.CSS_SELECTOR, ".katex") == []
    return seen


def test_every_step_formula_typesets_under_katex_without_errors(
    page: tuple[Any, Any, Any],
) -> None:
    driver, _, data = page
    steps = data["steps"]
    assert _typeset_every_step(driver, steps) == [
        s["latex"] for s in steps if s["phase"] == "backward"
    ]
    assert driver.get_log("browser") == [], "no console entries: no KaTeX warning or error"
    resources = driver.execute_script("return performance.getEntriesByType('resource').length")
    assert resources == 0, "KaTeX's fonts are inline: nothing is fetched"
    fonts = driver.execute_script(
        "return Array.from(document.fonts).filter(f => f.status === 'loaded').map(f => f.family)"
    )
    assert {"KaTeX_Main", "KaTeX_Math"} <= {f.strip('"') for f in fonts}


def test_awkward_labels_and_numbers_typeset_too(browser: Any, tmp_path: Path) -> None:
    """Labels with LaTeX's special characters, long names, huge and tiny numbers."""
    a = ag.Value(2.5e-7, label="x_1 & {50%} #$~^\\")
    b = ag.Value(-3.0e12, label="b" * 50)
    root = ((a * b).tanh() - a / b).exp() * a
    path = ag.explore(root, tmp_path / "awkward.html")
    browser.get_log("browser")
    browser.get(path.as_uri())
    steps = page_data(root)["steps"]
    assert len(_typeset_every_step(browser, steps)) == len(ag.backward_steps(root))
    assert browser.get_log("browser") == []


def test_chain_rule_latex_compiles_under_katex(page: tuple[Any, Any, Any]) -> None:
    """ag.chain_rule's LaTeX for every leaf, paths written out and collapsed, awkward labels:
    KaTeX (strict, throwing on any error) compiles each one."""
    driver, root, _ = page
    x = ag.Value(1.1, label="x_1 & {50%}")
    squares = x
    for _ in range(8):  # 256 paths: collapsed
        squares = squares * squares
    shared = ((x * 2).tanh() - x / 3).exp() * x
    rules = [ag.chain_rule(root, leaf) for leaf in ag.topological_order(root) if leaf.op is None]
    rules += [ag.chain_rule(squares, x), ag.chain_rule(shared, x), ag.chain_rule(shared, shared)]
    assert any(rule.collapsed for rule in rules)
    errors = driver.execute_script(
        "return arguments[0].map(function (tex) {"
        "  try { katex.renderToString(tex, {displayMode: true, throwOnError: true,"
        "                                   strict: 'error'}); return null; }"
        "  catch (e) { return String(e); } })",
        [rule.latex() for rule in rules],
    )
    assert errors == [None] * len(rules)
    assert driver.get_log("browser") == []
