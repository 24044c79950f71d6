"""The collector policy: full collections skip a large live graph, and get it back once it is
freed (autograd_lite.collector)."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading
import warnings
import weakref
from collections.abc import Iterator
from unittest import mock

import pytest

from autograd_lite import Value, collector


@pytest.fixture(autouse=True)
def policy() -> Iterator[None]:
    """Each test starts and ends with the collector on, nothing frozen and the default policy."""
    was_enabled = gc.isenabled()
    gc.enable()
    previous = collector.freeze_large_graphs(None)  # hands back anything frozen before
    assert gc.get_freeze_count() == 0, "the tests assume no one else froze objects"
    yield
    collector.freeze_large_graphs(None)
    gc.unfreeze()
    collector.freeze_large_graphs(previous)
    (gc.enable if was_enabled else gc.disable)()


def chain(steps: int, h: Value | None = None) -> Value:
    """x -> tanh(x*w + b), ``steps`` times (from ``h``, if given): 3 interior nodes a step; its
    result is the newest object the collector tracks, so a ``gc.collect()`` right after it
    finds it young."""
    w, b, h = Value(0.5), Value(0.1), Value(0.3) if h is None else h
    for _ in range(steps):
        h = (h * w + b).tanh()
    return h


def full_collection_after(node: Value) -> None:
    """A full collection that finds ``node`` among the youngest objects: the policy counts the
    nodes made since the previous full collection from its stamp."""
    assert node in gc.get_objects(generation=0)
    gc.collect()


def baseline() -> None:
    """A full collection that sees a fresh node, so the next one counts from here."""
    full_collection_after(Value(1.0) * 2.0)


def test_a_large_graph_is_frozen_while_alive_and_handed_back_after() -> None:
    collector.freeze_large_graphs(3_000)
    baseline()
    root = chain(1_000)  # 3,000 nodes since the baseline
    full_collection_after(root)
    frozen = gc.get_freeze_count()
    assert frozen >= 3_000  # the graph, and whatever else survived the collection
    root = chain(10, root)  # still growing: 30 nodes more
    full_collection_after(root)
    assert gc.get_freeze_count() >= frozen + 30  # frozen again after each full collection
    root.backward()
    del root
    gc.collect()  # the first collection after the graph is freed hands everything back
    assert gc.get_freeze_count() == 0


def test_a_graph_below_the_threshold_is_not_frozen() -> None:
    collector.freeze_large_graphs(3_000)
    baseline()
    root = chain(990)  # 2,970 nodes
    full_collection_after(root)
    assert gc.get_freeze_count() == 0


def test_turned_off_it_freezes_nothing_and_hands_back_what_it_froze() -> None:
    baseline()
    root = chain(1_000)
    full_collection_after(root)  # policy off (the fixture)
    assert gc.get_freeze_count() == 0
    assert collector.freeze_large_graphs(1_000) is None
    baseline()
    root = chain(1_000)
    full_collection_after(root)
    assert gc.get_freeze_count() > 0
    assert collector.freeze_large_graphs(None) == 1_000
    assert gc.get_freeze_count() == 0  # at once, while the graph is still alive
    gc.collect()
    assert gc.get_freeze_count() == 0


def test_someone_elses_freeze_is_left_alone() -> None:
    collector.freeze_large_graphs(3_000)
    gc.freeze()  # as a pre-fork server does
    theirs = gc.get_freeze_count()
    baseline()
    root = chain(1_000)
    full_collection_after(root)
    assert gc.get_freeze_count() < theirs + 3_000  # the graph was not frozen
    del root
    gc.collect()
    gc.collect()
    assert gc.get_freeze_count() > theirs // 2  # theirs stays frozen (less what has died)


def test_a_graph_that_stopped_growing_is_handed_back_while_alive() -> None:
    """A graph kept (in a notebook, say) while no node is made: full collections see it again,
    so what dies meanwhile in cycles is not kept frozen for as long as the graph lives."""
    collector.freeze_large_graphs(3_000)
    baseline()
    root = chain(1_000)
    full_collection_after(root)
    assert gc.get_freeze_count() > 0
    gc.collect()  # no node made since the last full collection
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert gc.get_freeze_count() == 0  # not frozen again until a large graph grows anew
    root = chain(1_000, root)
    full_collection_after(root)
    assert gc.get_freeze_count() > 0


class Cycle:
    """An object in a reference cycle: only the cyclic collector can free it."""

    def __init__(self) -> None:
        self.me = self


def test_cyclic_garbage_made_while_a_graph_is_frozen_is_still_collected() -> None:
    collector.freeze_large_graphs(3_000)
    baseline()
    root = chain(1_000)
    full_collection_after(root)
    assert gc.get_freeze_count() > 0
    cycle = Cycle()
    alive = weakref.ref(cycle)
    del cycle
    root = chain(10, root)
    full_collection_after(root)
    assert alive() is None
    assert gc.get_freeze_count() > 0  # the graph is still alive, and still skipped


def test_a_cycle_alive_at_the_freeze_is_collected_once_the_graph_is_freed() -> None:
    collector.freeze_large_graphs(3_000)
    cycle = Cycle()
    alive = weakref.ref(cycle)
    baseline()
    root = chain(1_000)
    full_collection_after(root)  # the cycle is alive: frozen with the graph
    del cycle
    root = chain(10, root)
    full_collection_after(root)
    assert alive() is not None  # frozen: the full collection skipped it
    del root
    gc.collect()  # hands back at its start, then walks what it got back
    assert alive() is None


def test_building_a_large_chain_in_ones_own_loop_freezes_it_by_default() -> None:
    """With the collector's own thresholds, a chain several times the heap crosses full
    collections as it is built; the first of them freezes it, and gradients are unchanged."""
    collector.freeze_large_graphs(collector.DEFAULT_MIN_NODES)
    steps = max(200_000, len(gc.get_objects()))  # nodes ≥ 3× the heap: full collections run
    frozen_while_building = []

    def watch(phase: str, info: dict[str, int]) -> None:
        if phase == "stop" and info["generation"] == 2:
            frozen_while_building.append(collector._Policy.graph is not None)

    gc.callbacks.append(watch)
    try:
        root = chain(steps)
    finally:
        gc.callbacks.remove(watch)
    assert any(frozen_while_building)
    assert gc.get_freeze_count() > 0
    root.backward()
    frozen_gradient = root._a._b.grad  # type: ignore[union-attr]  # ∂root/∂b, b the leaf
    del root
    gc.collect()
    assert gc.get_freeze_count() == 0

    collector.freeze_large_graphs(None)
    root = chain(steps)
    root.backward()
    assert root._a._b.grad == frozen_gradient  # type: ignore[union-attr]


@pytest.mark.parametrize("bad", [0, -5, 1.5, True, "100"])
def test_a_bad_threshold_is_refused_and_changes_nothing(bad: object) -> None:
    with pytest.raises(ValueError, match="min_nodes must be a positive int or None"):
        collector.freeze_large_graphs(bad)  # type: ignore[arg-type]
    assert collector.freeze_large_graphs(None) is None  # still what the fixture set


@pytest.fixture
def unraisable(monkeypatch: pytest.MonkeyPatch) -> list[BaseException | None]:
    """What the collector's callbacks raised: an exception in one is only printed."""
    caught: list[BaseException | None] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda report: caught.append(report.exc_value))
    return caught


class Proxy:
    """A lazy proxy whose ``__class__`` asks an object it does not have yet."""

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        raise RuntimeError("working outside of a context")


class OddStamp(Value):
    """A Value subclass that shadows the stamp with an attribute of its own."""

    _stamp = "odd"  # type: ignore[assignment]


@pytest.mark.parametrize(
    "make",
    [
        lambda: Value.__new__(Value),  # a node another thread has allocated, not yet stamped
        lambda: OddStamp.__new__(OddStamp),
        Proxy,
        lambda: mock.Mock(spec=Value),  # isinstance(mock, Value) is True
    ],
    ids=["half-made", "odd-stamp", "raising-proxy", "mock"],
)
def test_the_callback_never_raises_whatever_the_young_objects_are(
    make: object, unraisable: list[BaseException | None]
) -> None:
    collector.freeze_large_graphs(3_000)
    baseline()
    root = chain(1_000)
    odd = make()  # type: ignore[operator]
    assert odd in gc.get_objects(generation=0)
    gc.collect()
    assert unraisable == []
    assert gc.get_freeze_count() >= 3_000  # the graph next to it is still seen and frozen
    del root, odd
    gc.collect()
    assert gc.get_freeze_count() == 0


class TurnsThePolicyOff:
    """Cyclic garbage whose finalizer turns the policy off: it runs inside a collection,
    between its start and its end, as another thread's call may."""

    def __init__(self) -> None:
        self.me = self

    def __del__(self) -> None:
        collector.freeze_large_graphs(None)


def test_turning_the_policy_off_while_a_collection_runs_leaves_nothing_frozen() -> None:
    collector.freeze_large_graphs(3_000)
    baseline()
    root = chain(1_000)
    TurnsThePolicyOff()
    full_collection_after(root)  # starts: large; meanwhile turned off; ends
    assert collector.freeze_large_graphs(None) is None
    assert gc.get_freeze_count() == 0  # nothing is left that no one would hand back
    del root


def test_nodes_made_while_the_policy_was_off_are_not_counted_once_it_is_on() -> None:
    baseline()  # policy off (the fixture)
    root = chain(1_000)  # 3,000 nodes, while off
    full_collection_after(root)
    collector.freeze_large_graphs(3_000)
    root = chain(10, root)  # 30 nodes since the previous full collection
    full_collection_after(root)
    assert gc.get_freeze_count() == 0


@pytest.mark.parametrize("then", ["graph freed", "stopped growing", "still growing", "turned off"])
def test_someone_elses_freeze_made_while_a_graph_is_frozen_is_left_alone(then: str) -> None:
    """Their ``gc.freeze()`` took in everything the policy froze: the policy stands aside and
    leaves it all frozen, as their call alone would have."""
    collector.freeze_large_graphs(3_000)
    baseline()
    root = chain(1_000)
    full_collection_after(root)  # the policy freezes the graph
    cycle = Cycle()
    alive = weakref.ref(cycle)
    gc.freeze()  # theirs (the cycle with it), as a server does before it forks
    del cycle
    if then == "graph freed":
        del root
    elif then == "still growing":
        root = chain(10, root)
        full_collection_after(root)
    elif then == "turned off":
        collector.freeze_large_graphs(None)
    gc.collect()
    gc.collect()
    assert alive() is not None  # full collections still skip what they froze
    assert gc.get_freeze_count() > 0
    assert collector._Policy.graph is None  # the policy stood aside


def test_graphs_built_in_threads_while_the_policy_is_switched_on_and_off(
    unraisable: list[BaseException | None],
) -> None:
    """Threads build chains while another turns the policy off and on and full collections
    run often: no callback raises, gradients are the policy-off ones, and nothing stays
    frozen once the graphs are gone."""
    steps = 3_000
    expected = chain(steps)
    expected.backward()
    collector.freeze_large_graphs(1_000)
    gradients: list[float] = []
    done = threading.Event()

    def build() -> None:
        for _ in range(3):
            root = chain(steps)
            root.backward()
            gradients.append(root._a._b.grad)  # type: ignore[union-attr]

    def switch() -> None:
        while not done.is_set():
            collector.freeze_large_graphs(None)
            collector.freeze_large_graphs(1_000)
            gc.collect()

    thresholds, interval = gc.get_threshold(), sys.getswitchinterval()
    gc.set_threshold(100, 2, 2)  # full collections every few thousand objects
    sys.setswitchinterval(1e-5)
    try:
        builders = [threading.Thread(target=build) for _ in range(2)]
        switcher = threading.Thread(target=switch)
        for thread in [*builders, switcher]:
            thread.start()
        for thread in builders:
            thread.join()
        done.set()
        switcher.join()
    finally:
        gc.set_threshold(*thresholds)
        sys.setswitchinterval(interval)
    assert unraisable == []
    assert gradients == [expected._a._b.grad] * 6  # type: ignore[union-attr]
    gc.collect()
    gc.collect()
    assert gc.get_freeze_count() == 0


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")
def test_a_process_forked_while_another_thread_holds_the_policy_can_still_collect() -> None:
    """The child has only the forking thread: a lock held by another one would stay held,
    and the child's first collection would wait for it forever."""
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with collector._Policy.lock:
            held.set()
            release.wait()

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads running
            pid = os.fork()
        if pid == 0:  # the child: report, never return into pytest
            free = collector._Policy.lock.acquire(blocking=False)
            os._exit(0 if free else 1)
    finally:
        release.set()
        thread.join()
    assert os.waitpid(pid, 0)[1] == 0


def test_a_million_node_chain_in_development_mode_prints_nothing_and_leaves_nothing_frozen() -> (
    None
):
    """With the default settings, in a fresh interpreter that turns every warning into an
    error: the chain is frozen while it is built, and handed back once it is freed."""
    script = """
import gc, weakref
from autograd_lite import Value
w, b, h = Value(0.5), Value(0.1), Value(0.3)
for _ in range(333_334):
    h = (h * w + b).tanh()
assert gc.get_freeze_count() > 0
h.backward()
freed = weakref.ref(h)
del h
assert freed() is None
gc.collect()
assert gc.get_freeze_count() == 0
print(b.grad)
"""
    run = subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error", "-c", script],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (run.returncode, run.stderr) == (0, "")
    assert float(run.stdout) > 0


class Holder:
    """An object in a reference cycle that holds a graph: only the cyclic collector frees it,
    and the graph with it."""

    def __init__(self, graph: Value) -> None:
        self.me = self
        self.graph = graph


def test_a_graph_held_by_a_dead_cycle_is_freed_while_newer_graphs_are_built() -> None:
    """A graph dropped inside a cycle (a trainer object replaced in a notebook) is freed at a
    full collection once the next graphs have replaced it, as without the policy, even
    though the program keeps making nodes."""
    collector.freeze_large_graphs(3_000)
    baseline()
    holder = Holder(chain(1_000))
    full_collection_after(holder.graph)  # frozen, the cycle with it
    alive = weakref.ref(holder.graph)
    del holder  # cyclic garbage now, frozen
    for _ in range(3):  # the user's next graphs, each one replacing the last
        root = chain(1_000)
        full_collection_after(root)
    assert alive() is None
    del root


def test_collections_started_inside_the_setter_leave_it_consistent() -> None:
    """Handing back allocates, so collections may start, and call back, inside
    ``freeze_large_graphs`` in the thread that holds the policy's lock."""
    collector.freeze_large_graphs(3_000)
    baseline()
    root = chain(1_000)
    full_collection_after(root)
    assert gc.get_freeze_count() > 0
    started: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started.append(info["generation"])

    thresholds = gc.get_threshold()
    gc.callbacks.append(count)
    gc.set_threshold(1, 1, 1)  # a collection at every allocation
    try:
        assert collector.freeze_large_graphs(None) == 3_000
    finally:
        gc.set_threshold(*thresholds)
        gc.callbacks.remove(count)
    assert started  # collections ran inside
    assert gc.get_freeze_count() == 0
    assert collector._Policy.graph is None
