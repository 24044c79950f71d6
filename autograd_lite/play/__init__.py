"""The playground: a local web page, driven by the real engine, to watch a network learn.

Pick a data set, features and a network, press Play and watch each neuron's output, each
weight (or its gradient) and the decision boundary change; click a neuron to see one example's
backward pass through it; take the run home with "Export as Python". From the command line::

    autograd-lite playground

or from Python (in Jupyter the handle shows the page inline)::

    >>> import autograd_lite as ag
    >>> handle = ag.playground(open_browser=False)
    >>> handle.url.startswith("http://127.0.0.1:")
    True
    >>> handle.close()

The page talks to the JSON API of :mod:`autograd_lite.play.server`; the session behind it is
:mod:`autograd_lite.play.session`, the export :mod:`autograd_lite.play.export`.
"""

from __future__ import annotations

import html
import webbrowser
from collections.abc import Mapping
from typing import Any

__all__ = ["Playground", "playground"]


class Playground:
    """A running playground: ``url`` (with its token), ``session``, and :meth:`close`."""

    def __init__(self, server: Any) -> None:
        from .server import serve_in_thread

        self.server = server
        self.session = server.session
        self.url: str = server.url
        self._thread = serve_in_thread(server)

    def close(self) -> None:
        """Stop training and serving, and free the port."""
        self.session.pause()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()

    def _repr_html_(self) -> str:
        """The page inline, in Jupyter."""
        return (
            f'<iframe src="{html.escape(self.url)}" width="100%" height="760" '
            'style="border:0" title="autograd_lite playground"></iframe>'
        )

    def __repr__(self) -> str:
        return f"Playground({self.url!r})"


def playground(
    *,
    port: int = 0,
    host: str = "127.0.0.1",
    open_browser: bool = True,
    config: Mapping[str, Any] | None = None,
) -> Playground:
    """Start the playground's server in a background thread and return its handle.

    Args:
        port: the port to listen on; 0 (the default) takes any free one.
        host: the address to listen on: this machine only, unless told otherwise.
        open_browser: open the page in the default browser.
        config: settings changed from the defaults (see :mod:`autograd_lite.play.config`).

    Returns:
        A :class:`Playground`: its ``url`` opens the page, ``close()`` stops it.
    """
    from .server import make_server
    from .session import Session

    handle = Playground(make_server(host, port, Session(config)))
    if open_browser:
        webbrowser.open(handle.url)
    return handle
