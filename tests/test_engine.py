"""The engine: gradient semantics (README.md, "Gradient semantics"), one test each, the
Value API, and bad input (README.md, "Errors": the right exception, a message naming the op
and the value)."""

from __future__ import annotations

import contextlib
import gc
import math
import os
import signal
import sys
import threading
import warnings
import weakref
from collections.abc import Callable, Iterator

import pytest

import autograd_lite as ag
from autograd_lite import Value, train
from autograd_lite.engine import topological_order


def test_a_value_used_twice_gets_both_contributions() -> None:
    a = Value(3.0)
    (a + a).backward()
    assert a.grad == 2.0
    b = Value(3.0)
    (b * b).backward()
    assert b.grad == 6.0


def test_reused_interior_node() -> None:
    a = Value(1.0)
    b = a + a
    c = b + b
    c.backward()
    assert (a.grad, b.grad, c.grad) == (4.0, 2.0, 1.0)


def test_diamond() -> None:
    a = Value(2.0)
    b, c = a * 3.0, a.exp()
    d = b * c  # d = 3a e^a, d' = 3e^a (1 + a)
    d.backward()
    assert a.grad == pytest.approx(3 * math.exp(2.0) * 3.0)
    assert b.grad == pytest.approx(math.exp(2.0))
    assert c.grad == pytest.approx(6.0)


def test_second_backward_accumulates_leaves_and_recomputes_interior() -> None:
    x = Value(3.0)
    x2 = x * x
    y = x2 * x
    y.backward()
    assert (x.grad, x2.grad) == (27.0, 3.0)
    y.backward()
    assert (x.grad, x2.grad) == (54.0, 3.0)  # micrograd gets 72 for x and 6 for x2


def test_backward_seed_and_leaf_root() -> None:
    x = Value(2.0)
    (x * 5.0).backward(gradient=0.5)
    assert x.grad == 2.5
    x.backward()  # a leaf as the root: dx/dx = 1, accumulated
    assert x.grad == 3.5


def test_inputs_are_a_tuple_in_operand_order_and_traversal_is_deterministic() -> None:
    x, y = Value(1.0), Value(2.0)
    z = x * x - y
    assert z.inputs[0].inputs == (x, x)
    assert isinstance(z.inputs, tuple)
    assert z.inputs[1] is y

    def build() -> list[str]:
        a, b = Value(1.0), Value(2.0)
        c = a * b
        out = (c + a).tanh() * (c - b)
        return [node.op.name for node in topological_order(out, leaves=False)]  # type: ignore[union-attr]

    assert build() == build() == ["*", "+", "tanh", "-", "*"]


def test_topological_order_puts_every_node_after_its_inputs() -> None:
    a = Value(0.5)
    nodes = [a]
    for i in range(200):  # a DAG with long and short paths
        nodes.append(nodes[-1] * nodes[i // 2] + nodes[i // 3])
    for leaves in (True, False):
        order = topological_order(nodes[-1], leaves=leaves)
        assert len(order) == len(set(order)) == (401 if leaves else 400)
        position = {node: k for k, node in enumerate(order)}
        for node in order:
            for child in node.inputs:
                if leaves or child.inputs:
                    assert position[child] < position[node]
    assert topological_order(a) == [a]
    assert topological_order(a, leaves=False) == []
    assert topological_order([nodes[3], nodes[5], nodes[3]]) == topological_order(nodes[5])


def test_million_node_chain_at_default_recursion_limit() -> None:
    assert sys.getrecursionlimit() <= 1000 or pytest.fail("keep the default limit")
    x, step = Value(0.0), Value(1.0)
    h = x
    for _ in range(1_000_000):
        h = h + step
    h.backward()
    assert (h.data, x.grad, step.grad) == (1e6, 1.0, 1e6)
    del h  # freeing a million-deep chain must not overflow the C stack either


def test_graph_is_freed_by_reference_counting_alone() -> None:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        x = Value(0.5)
        probe = weakref.ref(x)
        y = x
        for _ in range(100):
            y = (y * x + 1.0).tanh().exp().relu() / 2.0
        y.backward()
        ag.gradients(y, [x])
        del x, y
        assert probe() is None, "a reference cycle keeps the graph alive"
    finally:
        if was_enabled:
            gc.enable()


def test_constants_and_frozen_leaves_receive_no_gradient() -> None:
    x = Value(2.0)
    data = Value(3.0, requires_grad=False)
    y = x * data + 4.0
    y.backward()
    assert x.grad == 3.0
    assert data.grad == 0.0
    constant = y.inputs[1]
    assert (constant.data, constant.requires_grad, constant.grad) == (4.0, False, 0.0)


def test_results_of_constants_only_record_nothing() -> None:
    frozen = Value(2.0, requires_grad=False)
    y = frozen * 3.0
    assert (y.requires_grad, y.inputs) == (False, ())
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_no_grad_context_and_decorator() -> None:
    x = Value(2.0)
    with ag.no_grad():
        assert not ag.is_grad_enabled()
        y = x * x
        with ag.enable_grad():
            assert ag.is_grad_enabled()
            z = x * x
        assert not ag.is_grad_enabled()
    assert ag.is_grad_enabled()
    assert (y.requires_grad, y.inputs) == (False, ())
    assert z.requires_grad
    assert z.inputs == (x, x)

    @ag.no_grad()
    def square(v: Value) -> Value:
        return v * v

    assert not square(x).requires_grad
    assert square(x).data == 4.0
    assert ag.is_grad_enabled()


def test_no_grad_restores_state_after_an_exception() -> None:
    with pytest.raises(KeyError), ag.no_grad():
        raise KeyError
    assert ag.is_grad_enabled()


def test_grad_mode_is_per_thread() -> None:
    inside, done = threading.Event(), threading.Event()
    seen: dict[str, bool] = {}

    def worker() -> None:
        with ag.no_grad():
            inside.set()
            done.wait(5)
            seen["worker"] = ag.is_grad_enabled() or (Value(1.0) * Value(2.0)).requires_grad

    thread = threading.Thread(target=worker)
    thread.start()
    assert inside.wait(5)
    seen["main"] = ag.is_grad_enabled() and (Value(1.0) * Value(2.0)).requires_grad
    done.set()
    thread.join()
    assert seen == {"main": True, "worker": False}


def test_detach() -> None:
    x = Value(2.0, label="x")
    y = (x * x).detach()
    assert (y.data, y.requires_grad, y.inputs) == (4.0, False, ())
    assert x.detach().label == "x"


def test_value_basics() -> None:
    x = Value(3, label="x")
    assert type(x.data) is float
    assert (x.grad, x.requires_grad, x.label, x.grad_value) == (0.0, True, "x", None)
    assert repr(x) == "Value(data=3.0, grad=0.0, label='x')"
    assert repr(Value(1.5)) == "Value(data=1.5, grad=0.0)"
    assert float(x) == 3.0
    assert Value(True).data == 1.0


def test_operators_with_numbers_on_either_side() -> None:
    x, y = Value(2.0), Value(3.0)
    cases = {
        "x + 1": (x + 1, 3.0), "1 + x": (1 + x, 3.0), "x - 1": (x - 1, 1.0),
        "1 - x": (1 - x, -1.0), "x * 4": (x * 4, 8.0), "4 * x": (4 * x, 8.0),
        "x / 4": (x / 4, 0.5), "1 / x": (1 / x, 0.5), "x ** 3": (x**3, 8.0),
        "2 ** x": (2**x, 4.0), "x ** y": (x**y, 8.0), "-x": (-x, -2.0),
        "abs(-x)": (abs(-x), 2.0),
    }  # fmt: skip
    for text, (value, expected) in cases.items():
        assert isinstance(value, Value), text
        assert value.data == expected, text


def test_comparisons_use_data_and_equality_uses_identity() -> None:
    a, b = Value(1.0), Value(1.0)
    assert a <= b
    assert a >= b
    assert not a < b
    assert not a > b
    assert a < 2
    assert a > 0
    assert a > 0.5
    assert a < 2
    assert a != b
    assert a == a
    assert len({a, b}) == 2
    assert {a: "a"}[a] == "a"
    with pytest.raises(TypeError):
        _ = a < "b"  # type: ignore[operator]


def test_nan_and_inf_propagate() -> None:
    nan, inf = Value(math.nan), Value(math.inf)
    assert math.isnan((nan * 2).exp().data)
    assert math.isnan(Value(math.nan).relu().data)
    assert Value(-math.inf).exp().data == 0.0
    assert inf.tanh().data == 1.0
    assert math.isnan(inf.sin().data)
    assert math.isnan(inf.cos().data)
    assert (inf + 1).data == math.inf
    assert Value(1000.0).exp().data == math.inf
    assert Value(10.0) ** 400 == Value(math.inf) or (Value(10.0) ** 400).data == math.inf
    assert (Value(-10.0) ** 401).data == -math.inf
    x = Value(math.nan)
    (x * x).backward()
    assert math.isnan(x.grad)


def test_gradients_leaves_grad_untouched_and_gives_zero_for_unused_inputs() -> None:
    x, y, unused = Value(2.0), Value(3.0), Value(4.0)
    x.grad = 10.0
    out = x * y
    dx, dy, du = ag.gradients(out, [x, y, unused])
    assert (dx.data, dy.data, du.data) == (3.0, 2.0, 0.0)
    assert (x.grad, y.grad, unused.grad, out.grad) == (10.0, 0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="requires_grad=False"):
        ag.gradients(out, [Value(1.0, requires_grad=False)])
    with pytest.raises(TypeError):
        ag.gradients(out, [1.0])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="gradient must be"):
        out.backward(gradient="1")  # type: ignore[arg-type]


def test_truth_value_of_a_value_is_that_of_its_number() -> None:
    assert bool(Value(2.0))
    assert not bool(Value(0.0))
    assert bool(Value(math.nan))


@pytest.fixture
def eager_collector() -> Iterator[list[int]]:
    """The collector on, at a threshold that starts a collection every ten allocations; yields
    the list of generations collected meanwhile. Puts the previous settings back."""
    was_enabled, thresholds = gc.isenabled(), gc.get_threshold()
    collected: list[int] = []

    def watch(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collected.append(info["generation"])

    gc.enable()
    gc.set_threshold(10, 1, 1)
    gc.callbacks.append(watch)
    try:
        yield collected
    finally:
        gc.callbacks.remove(watch)
        gc.set_threshold(*thresholds)
        if not was_enabled:
            gc.disable()


def test_create_graph_backward_runs_without_collections(eager_collector: list[int]) -> None:
    """backward(create_graph=True) and gradients(create_graph=True) make a node per edge; the
    collector, which would walk the whole graph each time, is held off, then back on."""
    x = Value(0.3)
    h = x
    for _ in range(200):
        h = (h * 0.5 + 0.1).tanh()
    for differentiate in (lambda: h.backward(create_graph=True),
                          lambda: ag.gradients(h, [x], create_graph=True)):  # fmt: skip
        del eager_collector[:]
        differentiate()  # ~2,000 new nodes: a collection every ten of them, if not held off
        assert len(eager_collector) <= 2  # at most where the sweep begins and ends
        assert gc.isenabled()
    (dx,) = ag.gradients(h, [x])
    assert dx.data == pytest.approx(x.grad)
    Value(1.0) * 2.0  # allocations collect again
    assert eager_collector


def test_gc_pause_nests_restores_on_errors_and_keeps_a_disabled_collector_off() -> None:
    from autograd_lite.grad_mode import gc_paused

    seen = []

    def nested_then_fail() -> None:
        with gc_paused():
            with gc_paused():
                seen.append(gc.isenabled())
            seen.append(gc.isenabled())  # the outer block is still open
            raise ZeroDivisionError

    was_enabled = gc.isenabled()
    try:
        gc.enable()
        with pytest.raises(ZeroDivisionError):
            nested_then_fail()
        assert seen == [False, False]
        assert gc.isenabled()
        gc.disable()
        with gc_paused():
            pass
        assert not gc.isenabled()  # off before the block: still off after it
    finally:
        (gc.enable if was_enabled else gc.disable)()


def test_gc_pause_across_threads_ends_with_the_last_block() -> None:
    from autograd_lite.grad_mode import gc_paused

    inside, release = threading.Event(), threading.Event()

    def worker() -> None:
        with gc_paused():
            inside.set()
            release.wait(timeout=10)

    assert gc.isenabled()
    thread = threading.Thread(target=worker)
    thread.start()
    assert inside.wait(timeout=10)
    with gc_paused():
        pass
    assert not gc.isenabled()  # the worker's block is still open
    release.set()
    thread.join(timeout=10)
    assert gc.isenabled()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")
@pytest.mark.parametrize("forker_inside", [False, True])
def test_a_child_forked_during_another_threads_pause_collects_again(forker_inside: bool) -> None:
    """A child keeps only the forking thread: another thread's open block (and a lock it
    held) would otherwise keep the child's collector off for good."""
    from autograd_lite.grad_mode import gc_paused

    inside, release = threading.Event(), threading.Event()

    def worker() -> None:
        with gc_paused(), gc_paused._lock:  # held at the fork too
            inside.set()
            release.wait(timeout=10)

    assert gc.isenabled()
    thread = threading.Thread(target=worker)
    with contextlib.ExitStack() as forker_blocks:
        if forker_inside:
            forker_blocks.enter_context(gc_paused())
        thread.start()
        try:
            assert inside.wait(timeout=10)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads running
                pid = os.fork()
            if pid == 0:  # the child: report through the exit code, never return into pytest
                signal.alarm(10)  # a lock that stays held kills it, rather than hang the test
                before = gc.isenabled()
                with gc_paused():  # the lock is free
                    pass
                after = gc.isenabled()
                os._exit(0 if (before, after) == (not forker_inside,) * 2 else 1)
        finally:
            release.set()
            thread.join(timeout=10)
    assert os.waitpid(pid, 0)[1] == 0
    assert gc.isenabled()


def test_item_is_the_number() -> None:
    assert (Value(1.5) * 2).item() == 3.0
    assert type(Value(2).item()) is float
    assert ag.predict is train.predict


def test_backward_with_create_graph_fills_grad_value() -> None:
    x, y = Value(2.0), Value(5.0)
    out = x**3 * y
    out.backward(create_graph=True)
    assert (x.grad, y.grad) == (60.0, 8.0)
    assert x.grad_value is not None
    assert x.grad_value.data == 60.0  # 3x²y
    assert ag.gradients(x.grad_value, [x, y])[0].data == 60.0  # 6xy
    assert ag.gradients(x.grad_value, [x, y])[1].data == 12.0  # 3x²
    out.backward(create_graph=True)  # leaves accumulate, as Values too
    assert x.grad == 120.0
    assert x.grad_value.data == 120.0


@pytest.mark.parametrize("data", ["x", "abc", None, [1.0], b"1", 1 + 2j])
def test_value_rejects_non_numbers(data: object) -> None:
    with pytest.raises(TypeError, match="real number"):
        Value(data)  # type: ignore[arg-type]


def test_value_of_a_value_points_to_detach() -> None:
    with pytest.raises(TypeError, match="detach"):
        Value(Value(1.0))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "operation",
    [
        lambda: Value(1) + "a",
        lambda: "a" + Value(1),
        lambda: Value(1) * None,
        lambda: [1] - Value(1),
        lambda: Value(1) ** "2",
        lambda: Value(1) / object(),
    ],
)
def test_unsupported_operands_raise_pythons_type_error(operation: Callable[[], object]) -> None:
    with pytest.raises(TypeError, match=r"unsupported operand|can only concatenate") as info:
        operation()
    assert "Value" in str(info.value)


@pytest.mark.parametrize(
    ("operation", "names"),
    [
        (lambda: Value(0.0).log(), ("log", "0.0")),
        (lambda: Value(-1.0).log(), ("log", "-1.0")),
        (lambda: Value(-1.0).sqrt(), ("sqrt", "-1.0")),
        (lambda: Value(-2.0) ** 0.5, ("**", "-2.0", "0.5")),
        (lambda: Value(0.0) ** -1, ("**", "0.0", "-1")),
        (lambda: Value(1.0) / 0, ("/", "1.0", "0.0")),
        (lambda: 1.0 / Value(0.0), ("/", "0.0")),
        (lambda: Value(-8.0) ** Value(1 / 3), ("**", "-8.0")),
    ],
)
def test_domain_errors_name_the_op_and_value(
    operation: Callable[[], Value], names: tuple[str, ...]
) -> None:
    with pytest.raises(ValueError, match="is undefined") as info:
        operation()
    for name in names:
        assert name in str(info.value)
    assert info.value.__cause__ is not None  # chained from the math error


def test_negative_base_with_integer_exponent_is_real() -> None:
    assert (Value(-2.0) ** 3).data == -8.0
    assert (Value(-2.0) ** Value(2.0)).data == 4.0
    assert isinstance((Value(-2.0) ** 2.0).data, float)
