"""An optimizer's packed view (parameters and state in flat arrays) steps exactly as the Values.

Every comparison here is exact (``==`` on floats, bit for bit): the packed step runs the
optimizer's own update rule on arrays, the same IEEE operations in the same order.
"""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

np = pytest.importorskip("numpy")

from autograd_lite import Value, optim  # noqa: E402
from autograd_lite.optim import lr_scheduler  # noqa: E402

Make = Callable[[Any], optim.Optimizer]
START = [0.5, -1.25, 2.0, 0.0, -0.75, 1.5, 0.25, -2.5, 1.0]


def gradient(x: float, t: int, i: int) -> float:
    """A gradient that depends on the parameter, the step and the position (so a step that
    read the wrong parameter or the wrong step's gradient shows)."""
    return math.sin(1.3 * x + 0.7 * t + 0.4 * i) + 0.1 * x - 0.05 * i


def eager_step(opt: optim.Optimizer, params: list[Value], t: int) -> None:
    for i, p in enumerate(params):
        p.grad = gradient(p.data, t, i)
    opt.step()


def packed_step(packed: optim.Packed, t: int) -> None:
    grad = [gradient(x, t, i) for i, x in enumerate(packed.theta.tolist())]
    packed.step(np.array(grad))


def step_both(a: optim.Optimizer, pa: list[Value], packed: optim.Packed, steps: range) -> None:
    """Step ``a`` eagerly and ``packed`` on its array, with the same gradients, for each t."""
    for t in steps:
        eager_step(a, pa, t)
        packed_step(packed, t)


def assert_same(a: optim.Optimizer, b: optim.Optimizer, pa: list[Value], pb: list[Value]) -> None:
    assert [p.data for p in pa] == [p.data for p in pb]
    sa, sb = a.state_dict(), b.state_dict()
    assert sa == sb
    for buffers in sb["state"].values():  # Python numbers, as the Values' step leaves them
        assert all(type(v) is (int if k == "step" else float) for k, v in buffers.items())
    assert a.steps == b.steps


def two(make: Make) -> tuple[optim.Optimizer, list[Value], optim.Optimizer, list[Value]]:
    pa, pb = [Value(x) for x in START], [Value(x) for x in START]
    return make(pa), pa, make(pb), pb


SETTINGS: dict[str, Make] = {
    "sgd": lambda p: optim.SGD(p, lr=0.1),
    "sgd weight decay": lambda p: optim.SGD(p, lr=0.1, weight_decay=0.1),
    "sgd momentum": lambda p: optim.SGD(p, lr=0.1, momentum=0.9),
    "sgd nesterov": lambda p: optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True),
    "sgd nesterov decay": lambda p: optim.SGD(
        p, lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01
    ),
    "adam": lambda p: optim.Adam(p, lr=0.1),
    "adam weight decay": lambda p: optim.Adam(p, lr=0.1, weight_decay=0.1),
    "adam amsgrad": lambda p: optim.Adam(p, lr=0.1, amsgrad=True, betas=(0.8, 0.9)),
    "adam amsgrad decay": lambda p: optim.Adam(p, lr=0.1, amsgrad=True, weight_decay=0.05),
    "adamw": lambda p: optim.AdamW(p, lr=0.1),
    "adamw no decay": lambda p: optim.AdamW(p, lr=0.1, weight_decay=0.0),
    "adamw amsgrad": lambda p: optim.AdamW(p, lr=0.1, amsgrad=True, eps=1e-3),
    "rmsprop": lambda p: optim.RMSprop(p, lr=0.01),
    "rmsprop alpha decay": lambda p: optim.RMSprop(p, lr=0.01, alpha=0.5, weight_decay=0.1),
    "rmsprop momentum": lambda p: optim.RMSprop(p, lr=0.01, momentum=0.9),
    "rmsprop centered": lambda p: optim.RMSprop(p, lr=0.01, centered=True),
    "rmsprop centered momentum": lambda p: optim.RMSprop(
        p, lr=0.01, centered=True, momentum=0.5, weight_decay=0.01, eps=1e-4
    ),
}


@pytest.mark.parametrize("make", SETTINGS.values(), ids=list(SETTINGS))
def test_packed_steps_then_sync_equal_eager_steps(make: Make) -> None:
    a, pa, b, pb = two(make)
    packed = b.packed()
    step_both(a, pa, packed, range(12))
    assert [p.data for p in pb] == START  # the Values wait for sync()
    assert b.state == {}
    assert b.steps == 12  # ... but the step count is always current
    packed.sync()
    assert_same(a, b, pa, pb)
    assert packed.theta.tolist() == [p.data for p in pa]


GROUPS: dict[str, Callable[[list[Value]], optim.Optimizer]] = {
    "sgd": lambda p: optim.SGD(
        [
            {"params": p[0::2], "momentum": 0.9, "nesterov": True},
            {"params": p[1::2], "weight_decay": 0.1},
        ],
        lr=0.1,
    ),
    "adam": lambda p: optim.Adam(
        [
            {"params": p[1::3], "amsgrad": True, "betas": (0.5, 0.6)},
            {"params": p[0::3], "lr": 0.01},
            {"params": p[2::3], "weight_decay": 0.2, "eps": 0.1},
        ],
        lr=0.1,
    ),
    "adamw": lambda p: optim.AdamW([{"params": p[:4]}, {"params": p[4:], "amsgrad": True}]),
    "rmsprop": lambda p: optim.RMSprop(
        [
            {"params": p[::-2], "centered": True},
            {"params": p[-2::-2], "momentum": 0.9, "alpha": 0.9},
        ],
        lr=0.01,
    ),
}


@pytest.mark.parametrize("make", GROUPS.values(), ids=list(GROUPS))
def test_groups_with_their_own_settings_and_a_scheduler(make: Make) -> None:
    """Groups in any order of theta (interleaved, reversed, contiguous), and rates a scheduler
    changes between steps: the packed step reads ``param_groups`` each time."""
    a, pa, b, pb = two(make)
    sa = lr_scheduler.LambdaLR(a, lambda epoch: 1 / (1 + epoch))
    sb = lr_scheduler.LambdaLR(b, lambda epoch: 1 / (1 + epoch))
    packed = b.packed(pb)
    for t in range(10):
        eager_step(a, pa, t)
        packed_step(packed, t)
        sa.step()
        sb.step()
    packed.sync()
    assert_same(a, b, pa, pb)
    assert sa.state_dict() == sb.state_dict()


@pytest.mark.parametrize("make", SETTINGS.values(), ids=list(SETTINGS))
def test_a_group_added_midway_starts_its_own_steps(make: Make) -> None:
    """The new group's Value is in theta from the start, left alone until it joins."""
    a, pa, b, pb = two(make)
    xa, xb = Value(0.3), Value(0.3)
    order = [*pa[:4], xa, *pa[4:]]  # theta's order: the newcomer in the middle
    packed = b.packed([*pb[:4], xb, *pb[4:]])
    for t in range(12):
        if t == 5:
            a.add_param_group({"params": [xa], "lr": 0.02})
            b.add_param_group({"params": [xb], "lr": 0.02})
        eager_step(a, order, t)
        packed_step(packed, t)
        if t < 5:
            assert packed.theta[4] == 0.3
    assert xb.data == 0.3
    packed.sync()
    assert xa.data != 0.3
    assert_same(a, b, [*pa, xa], [*pb, xb])


@pytest.mark.parametrize("make", SETTINGS.values(), ids=list(SETTINGS))
def test_parameters_of_one_group_at_different_steps(make: Make) -> None:
    """A saved state with buffers for some parameters only: the others start at step 1, in the
    same group (Adam's bias corrections differ per parameter, SGD's first buffer is the
    gradient)."""
    a, pa, b, pb = two(make)
    for t in range(3):
        eager_step(a, pa, t)
    saved = a.state_dict()
    saved["state"] = {i: s for i, s in saved["state"].items() if i % 3}
    a.load_state_dict(saved)
    b.load_state_dict(saved)
    for p, q in zip(pa, pb):
        q.data = p.data
    packed = b.packed()
    step_both(a, pa, packed, range(3, 8))
    packed.sync()
    assert_same(a, b, pa, pb)


@pytest.mark.parametrize("make", SETTINGS.values(), ids=list(SETTINGS))
def test_packed_and_eager_steps_interleave(make: Make) -> None:
    """Packed steps, sync, steps on the Values, refresh, packed steps: one run, as if eager."""
    a, pa, b, pb = two(make)
    packed = b.packed()
    step_both(a, pa, packed, range(4))
    packed.sync()
    assert_same(a, b, pa, pb)
    for t in range(4, 7):
        eager_step(a, pa, t)
        eager_step(b, pb, t)
    for opt, params in ((a, pa), (b, pb)):  # a callback edits weights and the rate
        params[2].data = 0.125
        opt.param_groups[0]["lr"] *= 0.5
    packed.refresh()
    step_both(a, pa, packed, range(7, 12))
    packed.sync()
    assert_same(a, b, pa, pb)
    assert b.steps == 12


def test_refresh_reads_a_loaded_state_and_sync_keeps_the_state_dicts() -> None:
    a, pa, b, pb = two(SETTINGS["adam amsgrad"])
    packed = b.packed()
    step_both(a, pa, packed, range(3))
    packed.sync()
    kept = b.state[pb[0]]
    step_both(a, pa, packed, range(3, 5))
    packed.sync()
    assert b.state[pb[0]] is kept  # updated in place, as step() does
    assert list(kept) == ["step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"]
    b.load_state_dict(a.state_dict())  # the same numbers: nothing must change
    packed.refresh()
    step_both(a, pa, packed, range(5, 8))
    packed.sync()
    assert_same(a, b, pa, pb)


def test_values_outside_the_optimizer_are_left_alone() -> None:
    w, frozen, constant = Value(1.0), Value(2.0), Value(3.0, requires_grad=False)
    opt = optim.SGD([w], lr=0.1, momentum=0.9, weight_decay=0.5)
    packed = opt.packed([frozen, w, constant])
    assert packed.theta.tolist() == [2.0, 1.0, 3.0]
    for _ in range(3):
        packed.step([5.0, 1.0, 7.0])
    packed.sync()
    assert (frozen.data, constant.data) == (2.0, 3.0)
    assert w.data != 1.0
    assert set(opt.state) == {w}


def test_a_subclass_with_its_own_step_steps_through_the_values() -> None:
    """An optimizer whose ``_step_group`` is its own has no packed rule: the view steps it
    through the Values (slower, the same numbers)."""

    class Clipped(optim.SGD):
        def _step_group(self, group: dict[str, Any]) -> None:
            for p in group["params"]:
                p.grad = max(-0.5, min(0.5, p.grad))
            super()._step_group(group)

    a, pa, b, pb = two(lambda p: Clipped(p, lr=0.1, momentum=0.5))
    packed = b.packed()
    step_both(a, pa, packed, range(6))
    packed.sync()
    assert_same(a, b, pa, pb)
    assert packed.theta.tolist() == [p.data for p in pb]


def test_mismatched_parameters_and_gradients_are_refused() -> None:
    w, v = Value(1.0), Value(2.0)
    opt = optim.Adam([w, v])
    with pytest.raises(ValueError, match="not in the packed params"):
        opt.packed([w])
    with pytest.raises(ValueError, match="more than once"):
        opt.packed([w, v, w])
    with pytest.raises(TypeError, match="must be Values"):
        opt.packed([w, v, 1.0])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="list of Values"):
        opt.packed(w)  # type: ignore[arg-type]
    packed = opt.packed([v, w])
    with pytest.raises(ValueError, match="must hold 2 numbers"):
        packed.step([1.0, 2.0, 3.0])
    assert opt.steps == 0
    opt.add_param_group({"params": [Value(0.0)]})
    with pytest.raises(ValueError, match="group 1 holds 1 parameter"):
        packed.step([1.0, 2.0])
    assert repr(packed) == "Packed(Adam, 2 parameters, 2 groups)"


def test_without_numpy_the_optimizers_work_and_packed_says_what_it_needs() -> None:
    code = """if True:
        import sys
        sys.modules["numpy"] = None  # import numpy raises ImportError
        from autograd_lite import Value, optim
        w = Value(1.0); w.grad = 0.5
        opt = optim.Adam([w], lr=0.1, amsgrad=True)
        opt.step()
        print(round(w.data, 6), opt.state[w]["step"])
        try:
            opt.packed()
        except ImportError as error:
            print(error)
    """
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out == ["0.9 1", "an optimizer's packed view needs NumPy: pip install numpy"]


def test_importing_the_optimizers_does_not_import_numpy() -> None:
    code = "import sys; from autograd_lite import optim; print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("saved", [{}, {1: {"momentum_buffer": 0.5}}], ids=["fresh", "mixed"])
def test_a_first_momentum_buffer_is_the_gradient_itself(saved: dict[int, Any]) -> None:
    """SGD's buffer starts as g, not μ·0 + g: the two differ for g = -0.0, which keeps its sign
    (also when only some parameters of the group have a buffer)."""
    a, pa, b, pb = two(lambda p: optim.SGD(p, lr=0.1, momentum=0.9))
    for opt, params in ((a, pa), (b, pb)):
        opt.load_state_dict({**opt.state_dict(), "state": saved})
        for p in params:
            p.data = p.grad = -0.0  # g = grad + wd·data is -0.0 only then
    a.step()
    packed = b.packed()
    packed.step(np.full(len(pb), -0.0))
    packed.sync()
    assert_same(a, b, pa, pb)
    buffers = [s["momentum_buffer"] for _, s in sorted(b.state_dict()["state"].items())]
    expected = [0.45 if i in saved else -0.0 for i in range(len(START))]
    assert [(x, math.copysign(1.0, x)) for x in buffers] == [
        (x, math.copysign(1.0, x)) for x in expected
    ]


SETTING_CHOICES: dict[type[optim.Optimizer], dict[str, list[Any]]] = {
    optim.SGD: {"momentum": [0.0, 0.5, 0.9], "weight_decay": [0.0, 0.01, 0.3]},
    optim.Adam: {
        "betas": [(0.9, 0.999), (0.5, 0.6), (0.0, 0.0)],
        "eps": [1e-8, 1e-3],
        "weight_decay": [0.0, 0.1],
        "amsgrad": [False, True],
    },
    optim.RMSprop: {
        "alpha": [0.99, 0.5, 0.0],
        "eps": [1e-8, 1e-3],
        "weight_decay": [0.0, 0.1],
        "momentum": [0.0, 0.9],
        "centered": [False, True],
    },
}
SETTING_CHOICES[optim.AdamW] = SETTING_CHOICES[optim.Adam]


@st.composite
def runs(draw: st.DrawFn) -> dict[str, Any]:
    """An optimizer, its groups over a shuffled theta, and the gradients and rates of a run."""
    kind = draw(st.sampled_from(sorted(SETTING_CHOICES, key=lambda k: k.__name__)))
    n = draw(st.integers(1, 7))
    number = st.floats(-10, 10, allow_subnormal=True)
    groups = []
    for member in range(draw(st.integers(1, 3))):
        options = {k: draw(st.sampled_from(v)) for k, v in SETTING_CHOICES[kind].items()}
        if kind is optim.SGD and options["momentum"]:
            options["nesterov"] = draw(st.booleans())
        groups.append({**options, "lr": draw(st.sampled_from([0.0, 0.01, 0.5])), "id": member})
    steps = draw(st.integers(1, 6))
    return {
        "kind": kind,
        "start": draw(st.lists(number, min_size=n, max_size=n)),
        "group_of": draw(st.lists(st.integers(0, len(groups) - 1), min_size=n, max_size=n)),
        "order": draw(st.permutations(range(n))),
        "groups": groups,
        "grads": draw(
            st.lists(st.lists(number, min_size=n, max_size=n), min_size=steps, max_size=steps)
        ),
        "rates": draw(st.lists(st.sampled_from([1.0, 0.5, 3.0]), min_size=steps, max_size=steps)),
    }


def bits(x: Any) -> Any:
    """Numbers as their exact bits (NaN equal to NaN, -0.0 unequal to 0.0), anywhere inside."""
    if isinstance(x, float):
        return x.hex()
    if isinstance(x, dict):
        return {k: bits(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [bits(v) for v in x]
    return x


@settings(max_examples=60)
@given(runs())
def test_packed_runs_equal_eager_runs_bit_for_bit(run: dict[str, Any]) -> None:
    """Any optimizer, groups in any layout of theta, rates changed between steps."""
    results = []
    for packed_run in (False, True):
        params = [Value(x) for x in run["start"]]
        groups = [
            {
                **options,
                "params": [p for p, k in zip(params, run["group_of"]) if k == options["id"]],
            }
            for options in run["groups"]
        ]
        opt = run["kind"]([g for g in groups if g["params"]])
        theta = [params[i] for i in run["order"]]
        packed = opt.packed(theta) if packed_run else None
        for grad, rate in zip(run["grads"], run["rates"]):
            if packed is None:
                for p, g in zip(theta, grad):
                    p.grad = g
                opt.step()
            else:
                packed.step(grad)
            for group in opt.param_groups:
                group["lr"] *= rate
        if packed is not None:
            packed.sync()
        results.append(bits([[p.data for p in params], opt.state_dict()]))
    assert results[0] == results[1]
