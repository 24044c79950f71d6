"""The playground's server and session without a browser: the token, the Host check, range
checks that leave the model alone, several clients at once, the export's exact replay, and the
command's clean exit on SIGTERM."""

from __future__ import annotations

import http.client
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from page_checks import assert_css_parses, node_check

import autograd_lite as ag
from autograd_lite.play.config import DEFAULTS, checked
from autograd_lite.play.export import export_script
from autograd_lite.play.session import MAX_STEP_EPOCHS, Session

SMALL = {"points": 60, "hidden": [3]}


class Client:
    """Requests to a running playground, with or without its token, with any Host header."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.port = parts.port or 0
        self.token = parts.query.removeprefix("token=")

    def request(
        self,
        method: str,
        path: str,
        body: object = None,
        *,
        auth: str | None = "header",
        host: str | None = None,
        raw: bytes | None = None,
    ) -> tuple[int, Any]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"Host": host or f"127.0.0.1:{self.port}"}
        if auth == "header":
            headers["Authorization"] = f"token {self.token}"
        elif auth == "query":
            path += f"?token={self.token}"
        elif auth is not None:
            headers["Authorization"] = f"token {auth}"
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        try:
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            payload = response.read()
        finally:
            connection.close()
        kind = response.getheader("Content-Type") or ""
        return response.status, json.loads(payload) if "json" in kind else payload

    def state(self) -> dict[str, Any]:
        status, state = self.request("GET", "/api/state")
        assert status == 200
        return state  # type: ignore[no-any-return]


@pytest.fixture
def client() -> Iterator[Client]:
    handle = ag.playground(open_browser=False, config=SMALL)
    try:
        yield Client(handle.url)
    finally:
        handle.close()


def test_the_handle_serves_on_loopback_and_close_frees_the_port() -> None:
    handle = ag.playground(open_browser=False, config=SMALL)
    port = urlsplit(handle.url).port
    assert handle.url.startswith("http://127.0.0.1:")
    assert "<iframe" in handle._repr_html_()
    assert handle.url in handle._repr_html_()
    assert Client(handle.url).state()["epoch"] == 0
    handle.close()
    with socket.socket() as probe:  # the port is free again
        probe.bind(("127.0.0.1", port or 0))


@pytest.mark.parametrize("token", [None, "wrong", ""])
@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/state"), ("POST", "/api/step"), ("GET", "/api/export.py"),
     ("POST", "/api/config"), ("GET", "/api/model.json")],
)  # fmt: skip
def test_api_requests_without_the_token_get_403(
    client: Client, token: str | None, method: str, path: str
) -> None:
    status, answer = client.request(method, path, {} if method == "POST" else None, auth=token)
    assert status == 403
    assert "token" in answer["error"]
    assert client.state()["epoch"] == 0, "nothing was trained"


def test_the_token_is_taken_from_the_query_or_the_header(client: Client) -> None:
    assert client.request("GET", "/api/state", auth="query")[0] == 200
    assert client.request("GET", "/api/state", auth="header")[0] == 200


def test_the_page_files_need_no_token_and_unknown_paths_are_404(client: Client) -> None:
    for path, kind in [("/", b"<!DOCTYPE html>"), ("/playground.js", b"use strict"),
                       ("/playground.css", b"body"), ("/favicon.ico", b"<svg")]:  # fmt: skip
        status, body = client.request("GET", path, auth=None)
        assert status == 200, path
        assert kind in body, path
    assert client.request("GET", "/etc/passwd", auth=None)[0] == 404
    assert client.request("GET", "/api/nothing")[0] == 404


@pytest.mark.parametrize("host", ["evil.example:{port}", "127.0.0.1:1", "attacker.test", ""])
def test_a_foreign_host_header_is_refused(client: Client, host: str) -> None:
    for path in ["/", "/api/state"]:
        status, answer = client.request("GET", path, host=host.format(port=client.port) or " ")
        assert status == 403, (host, path)
        assert "Host" in answer["error"]
    assert client.request("GET", "/", host=f"localhost:{client.port}")[0] == 200


BAD = [
    ("/api/config", {"hidden": [9]}, "hidden"),
    ("/api/config", {"hidden": [2] * 7}, "hidden"),
    ("/api/config", {"hidden": "4,4"}, "hidden"),
    ("/api/config", {"learning_rate": -1}, "learning_rate"),
    ("/api/config", {"learning_rate": "fast"}, "learning_rate"),
    ("/api/config", {"learning_rate": 1e308 * 10}, "learning_rate"),
    ("/api/config", {"noise": 0.9}, "noise"),
    ("/api/config", {"points": 10**9}, "points"),
    ("/api/config", {"batch_size": 2.5}, "batch_size"),
    ("/api/config", {"seed": True}, "seed"),
    ("/api/config", {"dataset": "mnist"}, "dataset"),
    ("/api/config", {"features": []}, "features"),
    ("/api/config", {"features": ["x3"]}, "features"),
    ("/api/config", {"optimizer": "lbfgs"}, "optimizer"),
    ("/api/config", {"dropout": 1}, "dropout"),
    ("/api/config", {"epochs": 3}, "unknown setting"),
    ("/api/config", [1, 2], "JSON object"),
    ("/api/step", {"epochs": 0}, "epochs"),
    ("/api/step", {"epochs": MAX_STEP_EPOCHS + 1}, "epochs"),
    ("/api/step", {"epochs": "ten"}, "epochs"),
    ("/api/step", {"epoch": 1}, "unknown key"),
    ("/api/weight", {"layer": 0, "neuron": 0, "index": 0, "value": 1e9}, "value"),
    ("/api/weight", {"layer": 5, "neuron": 0, "index": 0, "value": 1.0}, "layer"),
    ("/api/weight", {"layer": 0, "neuron": 0, "index": 7, "value": 1.0}, "index"),
    ("/api/weight", {"layer": 0, "neuron": 0}, "missing"),
    ("/api/backward", {"layer": 0, "neuron": 0, "example": 10**6}, "example"),
    ("/api/config", {"dataset": "csv"}, "points of one's own"),
    ("/api/data", {"csv": "1,2\n3,4\n"}, "3 columns"),
    ("/api/data", {"csv": "x1,x2,y\n1,2,0\n"}, "2 to 500 rows"),
    ("/api/data", {"csv": "1,2,0\n3,nan,1\n"}, "finite"),
    ("/api/data", {"csv": "1,2,0\n3,four,1\n"}, "not numbers"),
    ("/api/data", {"csv": "1,2,0\n" * 501}, "2 to 500 rows"),
    ("/api/data", {"csv": 7}, "CSV"),
]


@pytest.mark.parametrize(("path", "body", "word"), BAD)
def test_bad_settings_are_400_with_one_line_and_change_nothing(
    client: Client, path: str, body: object, word: str
) -> None:
    client.request("POST", "/api/step", {"epochs": 2})
    before = client.state()
    status, answer = client.request("POST", path, body)
    assert status == 400
    assert word in answer["error"]
    assert "\n" not in answer["error"]
    after = client.state()
    assert after == before, "the running model is untouched"


@pytest.mark.parametrize("raw", [b"{not json", b'{"noise": NaN}', b"[" * 60_000, b"x" * 70_000])
def test_malformed_bodies_are_400(client: Client, raw: bytes) -> None:
    before = client.state()
    status, answer = client.request("POST", "/api/config", raw=raw)
    assert status == 400
    assert answer["error"]
    assert client.state() == before


def test_step_trains_exactly_the_epochs_asked_and_accepts_100(client: Client) -> None:
    status, state = client.request("POST", "/api/step", {"epochs": 1})
    assert status == 200
    assert state["epoch"] == 1
    status, state = client.request("POST", "/api/step", {"epochs": 100})
    assert status == 200
    assert state["epoch"] == 101
    assert len(state["history"]["train_loss"]) == 102
    assert state["train_loss"] < state["history"]["train_loss"][0]


def test_config_changes_and_resets_reset_training(client: Client) -> None:
    client.request("POST", "/api/step", {"epochs": 3})
    status, state = client.request("POST", "/api/config", {"dataset": "xor", "hidden": [2, 2]})
    assert status == 200
    assert (state["epoch"], state["config"]["dataset"], state["config"]["hidden"]) == (
        0,
        "xor",
        [2, 2],
    )
    assert [len(layer["neurons"]) for layer in state["network"]["layers"]] == [2, 2, 1]
    first = state["train_loss"]
    client.request("POST", "/api/step", {"epochs": 3})
    status, state = client.request("POST", "/api/reset", {})
    assert (state["epoch"], state["train_loss"]) == (0, first), "the same start again"


def consistent(state: dict[str, Any]) -> None:
    """One snapshot tells one story: its epoch, history and losses agree."""
    assert len(state["history"]["train_loss"]) == state["epoch"] + 1
    assert state["history"]["train_loss"][-1] == state["train_loss"]
    assert state["history"]["validation_loss"][-1] == state["validation_loss"]


def test_concurrent_clients_leave_a_consistent_state(client: Client) -> None:
    seen: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for i in range(4):
                if k == 0 and i == 2:
                    status, state = client.request("POST", "/api/config", {"hidden": [2]})
                else:
                    status, state = client.request("POST", "/api/step", {"epochs": 2})
                assert status == 200
                seen.append(state)
                seen.append(client.state())
        except BaseException as error:  # reported below, in the main thread
            errors.append(error)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for state in seen:
        consistent(state)
    final = client.state()
    consistent(final)
    assert final["config"]["hidden"] == [2]
    assert 1 <= final["epoch"] <= 4 * 4 * 2


def test_play_trains_in_the_background_and_pause_stops_it(client: Client) -> None:
    status, _ = client.request("POST", "/api/play", {})
    assert status == 200
    while client.state()["epoch"] < 3:
        pass
    status, paused = client.request("POST", "/api/pause", {})
    assert status == 200
    assert not paused["playing"]
    assert paused["epoch"] >= 3
    assert client.state()["epoch"] == paused["epoch"], "nothing trains after Pause answered"
    consistent(paused)


def test_early_stopping_stops_training() -> None:
    session = Session({**SMALL, "early_stopping": 1, "learning_rate": 5.0, "optimizer": "sgd"})
    trained = session.step(200)
    assert trained < 200
    assert session.state()["stopped"] in ("early_stopping", "diverged")
    assert session.step(5) == 0


def test_a_weight_edit_changes_the_model_and_the_losses(client: Client) -> None:
    before = client.state()
    status, state = client.request(
        "POST", "/api/weight", {"layer": 0, "neuron": 1, "index": 0, "value": 3.5}
    )
    assert status == 200
    assert state["network"]["layers"][0]["neurons"][1]["weights"][0] == 3.5
    assert state["train_loss"] != before["train_loss"]
    consistent(state)


def test_the_backward_pass_through_a_neuron_is_backward_steps_arithmetic() -> None:
    session = Session(SMALL)
    record = session.backward_through(0, 1, example=2)
    lines = [line for step in record["steps"] for line in step["lines"]]
    assert lines[0].startswith("dL/d")
    assert "dL/dout" in lines[0], "from the neuron's output"
    assert any(line.startswith("dL/dw1 +=") for line in lines)
    assert any(line.startswith("dL/db +=") for line in lines)
    assert record["point"] == session.points["train"][2][:2]
    # the output's gradient is this example's dL/dout, as the engine computes it
    assert record["steps"][0]["grad"] == pytest.approx(_dl_dout(session, 0, 1, 2), rel=1e-6)
    assert [p.label for p in session.model.parameters()] == [""] * len(session.model.parameters())


def _dl_dout(session: Session, layer: int, neuron: int, example: int) -> float:
    """dL/d(out) by finite differences on the neuron's bias: dL/db = dL/dout · tanh'(z)."""
    from autograd_lite.losses import get_objective

    record = session.backward_through(layer, neuron, example)
    unit = session.model.layers[layer].neurons[neuron]
    h, b = 1e-6, unit.b.data

    def loss_at(bias: float) -> float:
        unit.b.data = bias
        out = session.model(session.X[example])
        return get_objective(session.loss).loss([out], [session.y[example]]).data

    dl_db = (loss_at(b + h) - loss_at(b - h)) / (2 * h)
    unit.b.data = b
    return dl_db / (1 - record["output"] ** 2)  # tanh' = 1 - out²


def test_a_deep_sigmoid_net_has_smaller_gradients_early() -> None:
    session = Session({"hidden": [8, 8, 8, 8, 8, 8], "activation": "sigmoid", "points": 60})
    norms = [layer["gradient_norm"] for layer in session.state()["network"]["layers"]]
    assert norms == sorted(norms), norms
    assert norms[0] < norms[-1] / 100


def test_every_default_is_in_range() -> None:
    assert checked(DEFAULTS) == DEFAULTS


CONFIGS = [
    {},
    {"dataset": "spiral", "features": ["x1", "x2", "sin(x1)", "x1*x2"], "dropout": 0.2,
     "regularization": "l1", "optimizer": "momentum"},
    {"dataset": "blobs3", "hidden": [], "regularization": "l2", "regularization_rate": 0.01},
    {"dataset": "multi_gaussian", "optimizer": "sgd", "activation": "relu", "batch_size": 7},
    {"dataset": "moons", "early_stopping": 2, "validation_split": 0.5, "init": "he"},
]  # fmt: skip


@pytest.mark.parametrize("config", CONFIGS)
def test_the_exported_script_repeats_the_training_exactly(
    config: dict[str, Any], tmp_path: Path
) -> None:
    session = Session({"points": 80, **config})
    session.step(4)
    session.set_weight(0, 0, -1, 0.25)
    session.step(3)
    state = session.state()
    script = tmp_path / "run.py"
    script.write_text(export_script(session), encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    words = done.stdout.strip().splitlines()[-1].split()
    assert words[0::2] == ["train_loss", "validation_loss"]
    assert float(words[1]) == pytest.approx(state["train_loss"], abs=1e-9)
    assert float(words[3]) == pytest.approx(state["validation_loss"], abs=1e-9)
    assert words[1] == repr(state["train_loss"]), "at full precision"


def test_download_model_is_ag_save_json(client: Client, tmp_path: Path) -> None:
    client.request("POST", "/api/step", {"epochs": 2})
    status, document = client.request("GET", "/api/model.json")
    assert status == 200
    path = tmp_path / "model.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    model = ag.load(path)
    weights = [w for layer in client.state()["network"]["layers"] for n in layer["neurons"]
               for w in [*n["weights"], n["bias"]]]  # fmt: skip
    assert [p.data for p in model.parameters()] == weights


def test_state_is_json_with_finite_numbers(client: Client) -> None:
    state = client.state()
    for key in ("epoch", "train_loss", "validation_loss", "config", "network"):
        assert key in state
    assert math.isfinite(state["train_loss"])
    assert state["epoch"] == 0
    assert set(state["config"]) == set(DEFAULTS)


def _start_command(*args: str) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "autograd_lite", "playground", "--no-browser", *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


@pytest.mark.skipif(os.name != "posix", reason="SIGTERM is POSIX")
def test_the_command_prints_the_link_and_exits_0_on_sigterm() -> None:
    process, line = _start_command("--port", "0")
    try:
        assert line.startswith("playground: http://127.0.0.1:"), line
        url = line.removeprefix("playground: ")
        assert Client(url).state()["epoch"] == 0
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
        process.communicate()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", urlsplit(url).port or 0))


@pytest.mark.skipif(os.name != "posix", reason="SIGINT is POSIX")
def test_the_command_warns_off_loopback_and_exits_0_on_ctrl_c() -> None:
    process, line = _start_command("--port", "0", "--host", "0.0.0.0")  # noqa: S104
    try:
        assert line.startswith("playground: http://"), line
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
        _, err = process.communicate()
    finally:
        process.kill()
    assert err.startswith("warning: listening on 0.0.0.0")


def test_a_port_out_of_range_is_one_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "autograd_lite", "playground", "--no-browser", "--port", "70000"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "autograd-lite playground: error: --port must be from 0 to 65535, got 70000"
    ]


PAGE_FILES = ("playground.html", "playground.css", "playground.js", "favicon.svg")


def page_file(name: str) -> str:
    from importlib import resources

    return resources.files("autograd_lite.play").joinpath(name).read_text(encoding="utf-8")


def test_the_page_is_strict_html_with_the_ids_the_issue_names() -> None:
    from test_explorer_page import StrictHTML

    page = StrictHTML(page_file("playground.html"))
    ids = {"play", "pause", "step", "reset", "epoch", "train-loss", "validation-loss"}
    assert ids | {"export", "download-model", "show-gradients", "network", "output"} <= page.ids


def test_the_page_loads_only_its_own_files() -> None:
    html = page_file("playground.html")
    assert re.findall(r'(?:src|href)="([^"]*)"', html) == [
        "favicon.ico",
        "playground.css",
        "api/export.py",
        "api/model.json",
        "playground.js",
    ]
    for name in ("playground.css", "playground.js"):
        assert not re.search(
            r"https?://|@import|url\(", page_file(name).replace("http://www.w3.org/2000/svg", "")
        ), name


def test_the_style_parses_as_css() -> None:
    assert_css_parses(page_file("playground.css"))


def test_the_script_passes_node_check(tmp_path: Path) -> None:
    checked_ = node_check(page_file("playground.js"), tmp_path / "page.js")
    assert checked_.returncode == 0, checked_.stderr


def test_the_wheel_ships_the_page_files(wheel_files: set[str]) -> None:
    assert {f"autograd_lite/play/{name}" for name in PAGE_FILES} <= wheel_files


def spiral_csv(rows: int = 60) -> str:
    X, y = ag.data.make_moons(rows, noise=0.1, seed=3)
    return "x1,x2,label\n" + "".join(f"{a * 5!r},{b * 5!r},{t:g}\n" for (a, b), t in zip(X, y))


def test_points_of_ones_own_train_and_export(client: Client, tmp_path: Path) -> None:
    status, state = client.request("POST", "/api/data", {"csv": spiral_csv()})
    assert status == 200
    assert (state["config"]["dataset"], state["task"], state["epoch"]) == ("csv", "binary", 0)
    points = state["points"]["train"] + state["points"]["validation"]
    assert len(points) == 60
    assert max(abs(v) for p in points for v in p[:2]) == 1.0, "scaled into the plane shown"
    status, state = client.request("POST", "/api/step", {"epochs": 3})
    assert state["epoch"] == 3
    script = tmp_path / "csv_run"
    status, text = client.request("GET", "/api/export.py")
    script.write_bytes(text)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [
        "train_loss",
        repr(state["train_loss"]),
        "validation_loss",
        repr(state["validation_loss"]),
    ]
    status, state = client.request("POST", "/api/config", {"hidden": [2]})
    assert state["config"]["dataset"] == "csv", "the points stay while other settings change"


def test_three_labels_make_a_three_class_problem() -> None:
    session = Session({"hidden": [2]})
    session.use_points("".join(f"{i},{i % 5},{i % 3}\n" for i in range(30)))
    state = session.state()
    assert (state["task"], state["loss"]) == ("classes", "cross_entropy")
    assert len(state["network"]["layers"][-1]["neurons"]) == 3
