"""The playground's web server: the page (package data) and its JSON API, standard library only.

One :class:`~autograd_lite.play.session.Session` is shared by every tab; the server runs each
request in its own thread and the session serialises the changes. It is safe to leave running
on one's own machine: it listens on 127.0.0.1 unless told otherwise, every API request needs
the run's token (``?token=…`` or an ``Authorization: token …`` header, as Jupyter takes it), a
request whose ``Host`` is not the server's own is refused (DNS rebinding), bodies are small,
and every setting is range-checked.

>>> server = make_server(port=0)
>>> server.url.startswith("http://127.0.0.1:") and "?token=" in server.url
True
>>> server.server_close()
"""

from __future__ import annotations

import hmac
import http.server
import ipaddress
import json
import math
import secrets
import tempfile
import threading
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..serialize import save
from .export import export_script
from .session import Session

__all__ = ["MAX_BODY", "PlaygroundServer", "is_loopback", "make_server"]

MAX_BODY = 65536
"""The largest request body accepted, in bytes."""

_STATIC = {
    "/": ("playground.html", "text/html; charset=utf-8"),
    "/playground.css": ("playground.css", "text/css; charset=utf-8"),
    "/playground.js": ("playground.js", "text/javascript; charset=utf-8"),
    "/favicon.ico": ("favicon.svg", "image/svg+xml"),
}


@cache
def page_file(name: str) -> bytes:
    """One of the page's files, package data beside this module."""
    return resources.files(__name__.rpartition(".")[0]).joinpath(name).read_bytes()


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (``localhost``, 127.x.x.x, ``::1``).

    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
    (True, True, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _finite(value: Any) -> Any:
    """``value`` with every nan or infinity made ``None``, so that it is valid JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


class PlaygroundServer(http.server.ThreadingHTTPServer):
    """A threading HTTP server holding the session, the token and the hosts it answers to."""

    daemon_threads = True

    def __init__(self, host: str, port: int, session: Session) -> None:
        super().__init__((host, port), _Handler)
        self.session = session
        self.token = secrets.token_urlsafe(32)
        self.port = int(self.server_address[1])
        self.host_name = host
        shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
        self.url = f"http://{shown}:{self.port}/?token={self.token}"

    def own_host(self, header: str | None) -> bool:
        """Whether a ``Host`` header names this server: ``localhost``, an IP address or the
        ``--host`` given, with its port. A DNS name pointing here (a rebinding attack) is not.
        """
        if not header:
            return False
        name, _, port = header.rpartition(":")
        if port != str(self.port):
            return False
        try:
            ipaddress.ip_address(name.strip("[]"))
        except ValueError:
            return name.lower() in ("localhost", self.host_name.lower())
        return True

    def authorized(self, query: str, header: str | None) -> bool:
        """Whether a request carries the token, in its query or its Authorization header."""
        given = parse_qs(query).get("token", [""])[-1]
        if header and header.lower().startswith("token "):
            given = header[6:].strip()
        return bool(given) and hmac.compare_digest(given.encode(), self.token.encode())


def make_server(
    host: str = "127.0.0.1", port: int = 8765, session: Session | None = None
) -> PlaygroundServer:
    """A playground server listening on ``host:port`` (``port=0``: any free port), not yet
    serving: call ``serve_forever()``. Its ``url`` holds the token."""
    if not 0 <= port <= 65535:
        raise ValueError(f"--port must be from 0 to 65535, got {port}")
    return PlaygroundServer(host, port, session or Session())


class _Handler(http.server.BaseHTTPRequestHandler):
    """Answers one request: a page file, or a call of the JSON API."""

    server: PlaygroundServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the command prints its one line, not a line per request."""

    def _send(
        self, status: int, body: bytes, kind: str, extra: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, data: object) -> None:
        body = json.dumps(_finite(data), separators=(",", ":")).encode()
        self._send(status, body, "application/json")

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message})

    def _checked(self) -> tuple[str, str] | None:
        """The path and query of a request this server answers; None once refused."""
        if not self.server.own_host(self.headers.get("Host")):
            self._error(403, "refused: the Host header does not name this server")
            return None
        url = urlsplit(self.path)
        if url.path.startswith("/api/") and not self.server.authorized(
            url.query, self.headers.get("Authorization")
        ):
            self._error(403, "the playground's token is missing or wrong: open the link printed")
            return None
        return url.path, url.query

    def do_GET(self) -> None:
        checked = self._checked()
        if checked is None:
            return
        path, _ = checked
        session = self.server.session
        if path in _STATIC:
            name, kind = _STATIC[path]
            self._send(200, page_file(name), kind)
        elif path == "/api/state":
            self._json(200, session.state())
        elif path == "/api/export.py":
            script = export_script(session).encode()
            disposition = {"Content-Disposition": 'attachment; filename="playground_run.py"'}
            self._send(200, script, "text/x-python; charset=utf-8", disposition)
        elif path == "/api/model.json":
            disposition = {"Content-Disposition": 'attachment; filename="playground_model.json"'}
            self._send(200, _model_json(session), "application/json", disposition)
        else:
            self._error(404, f"no such page: {path[:80]}")

    def _body(self) -> Any:
        """The request's JSON body (``{}`` when empty); ``ValueError`` if it is not JSON."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise ValueError("Content-Length is not a number") from None
        if not 0 <= length <= MAX_BODY:
            self.close_connection = True
            if 0 < length <= 64 * MAX_BODY:  # read it, so that the answer reaches the client
                self.rfile.read(length)
            raise ValueError(f"the body must be at most {MAX_BODY} bytes")
        raw = self.rfile.read(length) if length else b"{}"
        try:
            return json.loads(raw or b"{}")
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            raise ValueError("the body is not JSON") from None

    def do_POST(self) -> None:
        checked = self._checked()
        if checked is None:
            return
        path, _ = checked
        action = _ACTIONS.get(path)
        if action is None:
            self._error(404, f"no such call: {path[:80]}")
            return
        try:
            body = self._body()
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
            answer = action(self.server.session, body)
        except (ValueError, TypeError) as error:
            self._error(400, str(error).split("\n")[0])
            return
        self._json(200, answer)


def _model_json(session: Session) -> bytes:
    """The model as :func:`~autograd_lite.serialize.save` writes it."""
    with tempfile.TemporaryDirectory() as folder, session.lock:
        path = Path(folder) / "model.json"
        save(session.model, path, metadata={"playground": session.config})
        return path.read_bytes()


def _step(session: Session, body: dict[str, Any]) -> Any:
    _only(body, {"epochs"})
    session.step(body.get("epochs", 1))
    return session.state()


def _configure(session: Session, body: dict[str, Any]) -> Any:
    session.configure(body)
    return session.state()


def _data(session: Session, body: dict[str, Any]) -> Any:
    _only(body, {"csv"}, required=True)
    session.use_points(body["csv"])
    return session.state()


def _set_weight(session: Session, body: dict[str, Any]) -> Any:
    _only(body, {"layer", "neuron", "index", "value"}, required=True)
    session.set_weight(body["layer"], body["neuron"], body["index"], body["value"])
    return session.state()


def _backward(session: Session, body: dict[str, Any]) -> Any:
    _only(body, {"layer", "neuron", "example"})
    return session.backward_through(
        body.get("layer", 0), body.get("neuron", 0), body.get("example", 0)
    )


def _only(body: dict[str, Any], keys: set[str], required: bool = False) -> None:
    """Refuse unknown keys (and, when ``required``, missing ones) in a request body."""
    unknown = sorted(set(body) - keys)
    if unknown:
        raise ValueError(f"unknown key {unknown[0][:40]!r}; expected {', '.join(sorted(keys))}")
    missing = sorted(keys - set(body)) if required else []
    if missing:
        raise ValueError(f"missing key {missing[0]!r}")


def _simple(method: str) -> Any:
    def action(session: Session, body: dict[str, Any]) -> Any:
        _only(body, set())
        getattr(session, method)()
        return session.state()

    return action


_ACTIONS = {
    "/api/config": _configure,
    "/api/step": _step,
    "/api/play": _simple("play"),
    "/api/pause": _simple("pause"),
    "/api/reset": _simple("reset"),
    "/api/weight": _set_weight,
    "/api/data": _data,
    "/api/backward": _backward,
}


def serve_in_thread(server: PlaygroundServer) -> threading.Thread:
    """Serve ``server`` from a daemon thread; ``server.shutdown()`` stops it."""
    thread = threading.Thread(target=server.serve_forever, name="playground-server", daemon=True)
    thread.start()
    return thread


def run(host: str, port: int, open_browser: bool, say: Any) -> None:
    """Serve until Ctrl-C or SIGTERM (then return, the port freed): what ``autograd-lite
    playground`` does. ``say`` prints a line at once; the link is its first line."""
    import signal
    import sys
    import webbrowser

    server = make_server(host, port)
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    thread = serve_in_thread(server)
    try:
        say(f"playground: {server.url}")
        if not is_loopback(host):
            print(
                f"warning: listening on {host}, not just this machine: anyone who can reach "
                "it and has the link can use the playground",
                file=sys.stderr,
                flush=True,
            )
        if open_browser:
            webbrowser.open(server.url)
        while not stop.wait(0.5):
            pass
    finally:
        server.session.pause()
        server.shutdown()
        server.server_close()
        thread.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
