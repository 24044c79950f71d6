"""Python's cyclic garbage collector and large graphs: full collections skip a live graph.

A graph of Values has no reference cycles, so reference counting frees it as soon as its last
reference goes. Yet CPython's cyclic collector walks every live object in each *full*
collection, and starts one whenever the objects that survived the younger generations have
grown by a quarter. Building a graph of n nodes in one's own loop therefore costs about 5n
node visits, each slower as the heap outgrows the caches: without this module a
1,000,000-node chain spends about half its time there, and its time per node is about twice
that of a 30,000-node chain (``benchmarks/eager_scaling.py``).

The policy, installed when ``autograd_lite`` is imported:

1. At the start of each full collection, the newest node is found among the youngest
   objects; its creation stamp minus the one seen at the previous full collection is how
   many nodes were made in between.
2. When that is at least ``min_nodes`` (100,000 unless :func:`freeze_large_graphs` says
   otherwise), the graph is *large*: after the collection, every object that survived it
   is moved to the collector's permanent generation (``gc.freeze()``), and again after
   every later full collection while the graph is alive and nodes are still being made.
   Reference counting still frees frozen objects, and the young generations are collected
   as before, so new cyclic garbage is still found.
3. At each freeze the newest node is held weakly, in place of the one held before. At the
   first collection after it is freed (the user let go of the graph), or at a full
   collection that finds no node made since the previous one (the graph has stopped
   growing), everything frozen is handed back (``gc.unfreeze()``) and full collections see
   it again. Only cycles that were alive at a freeze and died meanwhile wait until then.

The policy stands aside when it finds objects frozen by someone else (a pre-fork server's
``gc.freeze()``): found before its first freeze, it freezes nothing; made after one of its
freezes, their call took in all the policy had frozen, which it then leaves frozen, as their
call alone would have. Inside the library's own loops (``fit``'s eager batches,
``backward(create_graph=True)``) :class:`~autograd_lite.grad_mode.gc_paused` holds the
collector off altogether.

>>> import gc
>>> previous = freeze_large_graphs(None)  # off: full collections walk every graph
>>> freeze_large_graphs(previous) is None
True
"""

from __future__ import annotations

import gc
import itertools
import operator
import os
import threading
import weakref
from typing import ClassVar

from .engine import Value

__all__ = ["DEFAULT_MIN_NODES", "freeze_large_graphs"]

DEFAULT_MIN_NODES = 100_000


class _Policy:
    """The policy's state; changed only under ``lock``, by the collector's callback or by
    :func:`freeze_large_graphs`. An ``RLock``: a collection may start (and call back) on any
    allocation, in the thread that holds it too."""

    lock = threading.RLock()
    min_nodes: int | None = DEFAULT_MIN_NODES
    last_stamp = 0  # the newest node's stamp at the previous full collection
    graph: weakref.ref[Value] | None = None  # while frozen: the large graph's newest node
    freeze_after = False  # set at the start of a full collection, done at its end
    mark: ClassVar[list[object]] = []  # made after each freeze, so that another freeze is seen


def freeze_large_graphs(min_nodes: int | None = DEFAULT_MIN_NODES) -> int | None:
    """Set how many nodes made between two full collections make a graph large; None: never.

    While a large graph is alive, full collections skip what had survived the previous ones
    (see the module's documentation). Turning the policy off hands back what it froze.

    Args:
        min_nodes: A positive int, or None to turn the policy off.

    Returns:
        The previous setting, to restore it later.

    Raises:
        ValueError: For a ``min_nodes`` that is not a positive int or None.

    >>> previous = freeze_large_graphs(10**6)
    >>> freeze_large_graphs(previous)
    1000000
    """
    if min_nodes is not None and (type(min_nodes) is not int or min_nodes < 1):
        raise ValueError(f"min_nodes must be a positive int or None, got {min_nodes!r}")
    with _Policy.lock:
        previous, _Policy.min_nodes = _Policy.min_nodes, min_nodes
        if min_nodes is None:
            _hand_back()
        return previous


def _on_collection(phase: str, info: dict[str, int]) -> None:
    """The collector's callback, at the start and the end of every collection."""
    with _Policy.lock:
        if phase == "start":
            if _Policy.graph is not None and _Policy.graph() is None:
                _hand_back()  # the large graph is gone
            if info["generation"] == 2:
                _Policy.freeze_after = _large_graph_growing(_Policy.min_nodes)
        elif _Policy.freeze_after:
            _Policy.freeze_after = False
            if _Policy.graph is not None:  # not handed back while the collection ran
                gc.freeze()  # what survived this full collection: later ones skip it
                _Policy.mark = []  # young: only someone else's freeze can take it


def _large_graph_growing(min_nodes: int | None) -> bool:
    """Whether a large graph is alive and growing: if so, hold its newest node; once none is
    made between two full collections, hand back what was frozen."""
    newest, stamp = _newest_node()
    made = 0
    if newest is not None:
        made, _Policy.last_stamp = stamp - _Policy.last_stamp, stamp
    if min_nodes is None:
        return False
    if _Policy.graph is None:
        if made < min_nodes or gc.get_freeze_count():  # small, or someone else's freeze
            return False
    elif not made:
        _hand_back()
        return False
    elif _frozen_by_someone_else():
        _Policy.graph = None  # their freeze took in ours: leave it all to them
        return False
    _Policy.graph = weakref.ref(newest)  # type: ignore[arg-type]  # made > 0: a node
    return True


_read_stamp = Value.__dict__["_stamp"].__get__  # the slot itself, whatever a subclass says


def _newest_node() -> tuple[Value | None, int]:
    """The interior node with the highest stamp among the youngest objects, and that stamp.

    Reads types and slots only, so nothing young (a Value another thread has allocated but
    not stamped yet, a proxy whose ``__class__`` raises) can make the callback raise.
    """
    newest, newest_stamp = None, 0
    for obj in gc.get_objects(generation=0):
        if issubclass(type(obj), Value):
            try:
                stamp = _read_stamp(obj)
            except AttributeError:  # not stamped yet
                continue
            if type(stamp) is int and stamp > newest_stamp:
                newest, newest_stamp = obj, stamp
    return newest, newest_stamp


def _frozen_by_someone_else() -> bool:
    """Whether someone called ``gc.freeze()`` since the policy's last freeze: it took along
    ``mark``, which is then in none of the collector's generations."""
    mark = _Policy.mark
    return not any(
        any(map(operator.is_, gc.get_objects(generation=generation), itertools.repeat(mark)))
        for generation in range(3)
    )


def _hand_back() -> None:
    """Return what the policy froze to the collector's oldest generation, unless someone else
    has frozen objects since: their freeze took in the policy's, and stays as they made it."""
    if _Policy.graph is not None:
        _Policy.graph = None
        if not _frozen_by_someone_else():
            gc.unfreeze()


def _after_fork_in_child() -> None:
    """A forked child runs only the forking thread: a lock another thread held stays held."""
    _Policy.lock = threading.RLock()


gc.callbacks.append(_on_collection)
if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_after_fork_in_child)
