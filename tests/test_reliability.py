"""No silent wrong answers: threads sharing a graph, copies and pickles, singular points."""

from __future__ import annotations

import copy
import math
import pickle
import subprocess
import sys
import threading
from typing import Any

import pytest

import autograd_lite as ag
from autograd_lite import Value, nn


def chain(x: Value, steps: int) -> Value:
    h = x
    for k in range(steps):
        h = (h * 0.99 + 0.01 * k).tanh() + h * 0.5
    return h


def test_concurrent_backward_through_a_shared_graph_is_exact() -> None:
    """Threads calling backward() through one shared chain get the single-threaded answer,
    and the leaf accumulates every thread's contribution exactly."""
    threads, calls = 4, 25
    x = Value(0.3)
    h = chain(x, 200)
    k = Value(1.7)
    (h * k).backward()
    single = x.grad
    x.grad = k.grad = 0.0
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            start.wait()
            for _ in range(calls):
                (h * k).backward()
        except BaseException as error:  # reported below
            errors.append(error)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not errors
    assert x.grad == pytest.approx(single * threads * calls, rel=1e-12)
    assert k.grad == pytest.approx(h.data * threads * calls, rel=1e-12)


def test_threads_building_their_own_graphs_from_shared_leaves_agree() -> None:
    w = Value(0.7)
    results: dict[int, float] = {}

    def work(i: int) -> None:
        x = Value(0.1 * i)
        results[i] = ag.gradients(chain(x * w, 50), [x])[0].data

    workers = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    for i, slope in results.items():
        x = Value(0.1 * i)
        assert slope == ag.gradients(chain(x * w, 50), [x])[0].data


@pytest.mark.parametrize(
    "copier",
    [copy.copy, copy.deepcopy, lambda v: pickle.loads(pickle.dumps(v))],  # noqa: S301
)
def test_a_leaf_copies_into_an_independent_leaf(copier: object) -> None:
    x = Value(2.5, label="x", requires_grad=True)
    x.grad = 4.0
    twin = copier(x)  # type: ignore[operator]
    assert twin is not x
    assert (twin.data, twin.grad, twin.label, twin.requires_grad) == (2.5, 4.0, "x", True)
    twin.data = 9.0
    assert x.data == 2.5


@pytest.mark.parametrize("copier", [copy.copy, copy.deepcopy, pickle.dumps])
def test_a_value_with_history_refuses_to_be_copied_at_any_depth(copier: object) -> None:
    for depth in (1, 5000):
        y = chain(Value(0.5), depth)
        with pytest.raises(TypeError, match=r"only leaves.*detach"):
            copier(y)  # type: ignore[operator]


def test_a_model_copies_and_pickles_after_higher_order_backward() -> None:
    model = nn.MLP(2, [4, 1], seed=0)
    out = model([0.5, -1.0])
    out.backward(create_graph=True)  # every parameter holds a differentiable grad_value
    for twin in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):  # noqa: S301
        assert [p.data for p in twin.parameters()] == [p.data for p in model.parameters()]
        assert [p.grad for p in twin.parameters()] == [p.grad for p in model.parameters()]
        assert twin([0.5, -1.0]).data == out.data
        twin.parameters()[0].data += 1.0
        assert twin.parameters()[0].data != model.parameters()[0].data


def test_an_unpickled_model_in_another_process_differentiates_correctly() -> None:
    model = nn.MLP(2, [3, 1], seed=1)
    blob = pickle.dumps(model)
    code = (
        "import pickle, sys\n"
        "import autograd_lite as ag\n"
        "for _ in range(1000): ag.Value(1.0) * 2  # this process's own nodes first\n"
        "model = pickle.loads(sys.stdin.buffer.read())\n"
        "out = model([0.5, -1.0])\n"
        "out.backward()\n"
        "print(repr([p.grad for p in model.parameters()]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], input=blob, capture_output=True, check=True)
    out = model([0.5, -1.0])
    out.backward()
    assert done.stdout.decode().strip() == repr([p.grad for p in model.parameters()])


def test_grad_value_stays_equal_to_grad() -> None:
    x = Value(2.0)
    y = x**3
    y.backward(create_graph=True)
    assert x.grad == x.grad_value.data == 12.0  # type: ignore[union-attr]
    y.backward()  # float only: the second 12 has no history
    assert x.grad == x.grad_value.data == 24.0  # type: ignore[union-attr]
    (slope,) = ag.gradients(x.grad_value, [x])  # type: ignore[arg-type]
    assert slope.data == 12.0  # d(3x²)/dx = 6x, from the differentiable first call only
    x.grad_value = None
    assert x.grad_value is None


@pytest.mark.parametrize(
    ("f", "x", "expected"),
    [
        (lambda v: v / 0.0, math.nan, math.nan),
        (lambda v: v / 0.0, math.inf, math.inf),
        (lambda v: v / -0.0, math.inf, -math.inf),
        (lambda v: v.log(), -math.inf, math.nan),
        (lambda v: v.sqrt(), -math.inf, math.nan),
        (lambda v: v.log(), math.nan, math.nan),
    ],
)
def test_nan_and_inf_inputs_propagate_instead_of_raising(
    f: object, x: float, expected: float
) -> None:
    out = f(Value(x))  # type: ignore[operator]
    if math.isnan(expected):
        assert math.isnan(out.data)
    else:
        assert out.data == expected
    compiled = ag.compile(f)  # type: ignore[arg-type]
    compiled(x)  # traced at x
    result = compiled(x)  # run as generated code
    assert math.isnan(result) if math.isnan(expected) else result == expected


@pytest.mark.parametrize("f", [lambda v: v / 0.0, lambda v: (v - 2.0).log(), lambda v: (-v).sqrt()])
def test_finite_inputs_without_a_real_result_still_raise(f: object) -> None:
    with pytest.raises(ValueError, match="is undefined"):
        f(Value(2.0))  # type: ignore[operator]


def test_bad_constructor_arguments_say_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="fits in a float"):
        Value(10**400)
    with pytest.raises(TypeError, match="requires_grad must be True or False"):
        Value(1.0, requires_grad="no")  # type: ignore[arg-type]
    x = Value(1.5)
    assert +x is x


_HUGE = 10**400


@pytest.mark.parametrize(
    "f",
    [
        lambda v: v + _HUGE,
        lambda v: _HUGE + v,
        lambda v: v - _HUGE,
        lambda v: _HUGE - v,
        lambda v: v * _HUGE,
        lambda v: _HUGE * v,
        lambda v: v / _HUGE,
        lambda v: _HUGE / v,
        lambda v: v**_HUGE,
        lambda v: _HUGE**v,
        lambda v: v < _HUGE,
        lambda v: v >= -_HUGE,
        lambda v: ag.apply(ag.ops.ADD, v, _HUGE),
        lambda v: v.backward(gradient=_HUGE),
    ],
)
def test_every_operator_given_a_number_past_a_float_says_so(f: Any) -> None:
    with pytest.raises(ValueError, match="fits in a float"):
        f(Value(2.0))


def test_operators_still_refuse_what_is_no_number_with_python_type_error() -> None:
    with pytest.raises(TypeError, match="unsupported operand"):
        Value(1.0) + "a"  # type: ignore[operator]
    assert (Value(1.0) + True).data == 2.0


@pytest.mark.parametrize("mode", [False, True])
def test_fit_with_clipping_reports_divergence_when_the_gradient_norm_overflows(
    mode: bool,
) -> None:
    model = nn.MLP(1, [1], seed=0)
    with pytest.raises(ValueError, match="training diverged"):
        ag.fit(model, [[1e200], [1.0]], [1.5, 2.5], clip_grad_norm=1.0, epochs=2,
               progress=False, compile=mode)  # fmt: skip
    assert all(map(math.isfinite, model.state_dict().values()))
