"""Grad mode, the tracing guard and the collector pause: how operations run right now.

``no_grad`` / ``enable_grad`` (context managers and decorators, like PyTorch's) switch
recording off and on for the current thread only; :func:`is_grad_enabled` tells which is on.
While ``ag.compile`` traces a function, :func:`tracing` names what it traces and the engine's
Values refuse, through :func:`refuse_while_tracing`, whatever would bake a data-dependent
choice into compiled code (``bool``, ``float``, comparisons) with a :class:`TraceError`.

:class:`gc_paused` holds Python's cyclic garbage collector off, in the whole process, while a
block builds or sweeps a large graph (``fit``'s eager batches, sweeps with ``create_graph``).

The engine reads :data:`mode` and :data:`threads_without_grad` on every operation; they are
set only through the functions here. Standard library only: nothing in the package lies below.

>>> from autograd_lite import Value
>>> with no_grad():
...     (Value(2.0) * 3).requires_grad
False
"""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Iterator
from contextlib import ContextDecorator, contextmanager
from typing import ClassVar

__all__ = [
    "TraceError", "enable_grad", "gc_paused", "is_grad_enabled", "no_grad", "refuse_while_tracing",
    "tracing", "tracing_now",
]  # fmt: skip


class _GradMode(threading.local):
    enabled: bool = True  # a class default is each thread's starting value
    tracing: str = ""  # what `ag.compile` is tracing in this thread, if anything


mode = _GradMode()
"""This thread's grad mode (``mode.enabled``) and what it is tracing (``mode.tracing``)."""
threads_without_grad = 0
"""How many threads are inside ``no_grad`` now. While it is 0 (nearly always) the engine's
hot path skips the thread-local lookup, which costs as much as a small op."""
threads_tracing = 0
"""How many ``tracing`` blocks are open now, in all threads. While it is 0 the engine makes
every node a plain ``Value`` without looking at its inputs' class."""
_mode_lock = threading.Lock()


def _set_grad_enabled(enabled: bool) -> None:
    global threads_without_grad
    with _mode_lock:
        if mode.enabled != enabled:
            threads_without_grad += -1 if enabled else 1
            mode.enabled = enabled


def is_grad_enabled() -> bool:
    """Whether operations in this thread record history for differentiation.

    >>> with no_grad():
    ...     is_grad_enabled()
    False
    """
    return mode.enabled


class no_grad(ContextDecorator):  # noqa: N801 - lower case like the PyTorch name it mirrors
    """Context manager and decorator that stops history recording in this thread.

    Results computed inside have ``requires_grad=False`` and no inputs: nothing to
    differentiate, nothing kept alive. Other threads are unaffected.

    >>> from autograd_lite import Value
    >>> x = Value(2.0)
    >>> with no_grad():
    ...     y = x * x
    >>> y.requires_grad
    False
    """

    _enabled = False

    def __enter__(self) -> None:
        self._previous = mode.enabled
        _set_grad_enabled(self._enabled)

    def __exit__(self, *exc_info: object) -> None:
        _set_grad_enabled(self._previous)

    def _recreate_cm(self) -> no_grad:
        # ContextDecorator reuses one instance per decorated function; a fresh one per
        # call keeps `_previous` correct under recursion and across threads.
        return type(self)()


class enable_grad(no_grad):  # noqa: N801
    """Context manager and decorator that turns history recording back on.

    >>> with no_grad():
    ...     with enable_grad():
    ...         is_grad_enabled()
    True
    """

    _enabled = True


class TraceError(RuntimeError):
    """A traced Value reached Python control flow, which compiled code cannot replay."""


@contextmanager
def tracing(what: str) -> Iterator[None]:
    """While ``ag.compile`` traces ``what`` in this thread, Values refuse to become bools
    or floats and to be compared: compiled code runs one fixed sequence of primitives.

    Args:
        what: The name of the function traced, for the error messages.

    >>> with tracing("f"):
    ...     tracing_now()
    'f'
    """
    global threads_tracing
    previous, mode.tracing = mode.tracing, what
    with _mode_lock:
        threads_tracing += 1
    try:
        yield
    finally:
        mode.tracing = previous
        with _mode_lock:
            threads_tracing -= 1


def tracing_now() -> str:
    """What ``ag.compile`` is tracing in this thread ("" when nothing): for modules that must
    refuse, as Dropout's random mask in training mode does."""
    return mode.tracing


def refuse_while_tracing(operation: str) -> None:
    """Raise :class:`TraceError` if this thread is tracing: ``operation`` on a traced Value
    would make compiled code depend on the data it saw while tracing.

    Args:
        operation: What was attempted, for the message.

    Raises:
        TraceError: naming the operation and what is traced, with what to do instead.
    """
    if mode.tracing:
        raise TraceError(
            f"{operation} on a traced Value while compiling {mode.tracing}: its result would "
            "depend on the data, which compiled code cannot follow. Call the function without "
            "ag.compile (eagerly), or keep the branch inside a primitive (relu, abs). (A gradient"
            " taken inside the traced function compares too: use ag.compile(ag.grad(f)) instead.)"
        )


class gc_paused:  # noqa: N801 - lower case: used like a function, ``with gc_paused():``
    """Run a block that builds or sweeps a large graph with Python's cyclic collector off.

    A graph has no reference cycles (reference counting frees it), yet every full collection
    walks every live node, and the collector starts one each time the heap has grown by a
    quarter: building a graph of n nodes costs about 5n node visits, each slower as the heap
    outgrows the caches. The collector is disabled while any such block is open, in any
    thread, and enabled again, if it was on before the first block, when the last one ends
    (on an exception too). Cycles made meanwhile are found by the next collection. A process
    forked meanwhile keeps only the forking thread's blocks open: the other threads are not
    in the child, and their blocks would never end.

    >>> import gc
    >>> with gc_paused():
    ...     gc.isenabled()
    False
    """

    __slots__ = ()
    _lock = threading.Lock()
    _depth: ClassVar[dict[int, int]] = {}  # blocks open, per thread (by ident)
    _was_enabled = False  # the collector's state when the first of them began

    def __enter__(self) -> None:
        cls, thread = gc_paused, threading.get_ident()
        with cls._lock:
            if not cls._depth:
                cls._was_enabled = gc.isenabled()
                gc.disable()
            cls._depth[thread] = cls._depth.get(thread, 0) + 1

    def __exit__(self, *exc_info: object) -> None:
        cls, thread = gc_paused, threading.get_ident()
        with cls._lock:
            cls._depth[thread] -= 1
            if not cls._depth[thread]:
                del cls._depth[thread]
                cls._end_if_last()

    @classmethod
    def _end_if_last(cls) -> None:
        """Turn the collector back on when no block is open, if it was on before them."""
        if not cls._depth and cls._was_enabled:
            gc.enable()

    @classmethod
    def _after_fork_in_child(cls) -> None:
        """Only the forking thread runs in a child: its blocks stay open, the others' end."""
        cls._lock = threading.Lock()
        thread = threading.get_ident()
        cls._depth = {thread: cls._depth[thread]} if thread in cls._depth else {}
        cls._end_if_last()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=gc_paused._after_fork_in_child)
