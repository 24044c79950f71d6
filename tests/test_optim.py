"""The optimizers: parameter groups, AdamW, RMSprop, saved state, and PyTorch's numbers step
by step to 1e-12 (marked requires_torch)."""

from __future__ import annotations

import copy
import json
import math
import random
from typing import Any

import pytest
from torch_pair import Groups, Pair

from autograd_lite import Value, optim

try:
    import torch
except ImportError:  # the tests that need it are marked requires_torch
    torch = None


def values(*numbers: float) -> list[Value]:
    return [Value(n) for n in numbers]


def test_groups_take_the_constructors_values_for_what_they_do_not_set() -> None:
    a, b, c = values(1.0, 2.0, 3.0)
    opt = optim.SGD([{"params": [a, b], "momentum": 0.5}, {"params": c, "lr": 0.01}], lr=0.1)
    first, second = opt.param_groups
    assert first == {
        "params": [a, b],
        "lr": 0.1,
        "momentum": 0.5,
        "weight_decay": 0.0,
        "nesterov": False,
    }
    assert second["params"] == [c]
    assert (second["lr"], second["momentum"]) == (0.01, 0.0)
    assert opt.params == [a, b, c]
    adam = optim.AdamW([{"params": [a], "name": "weights"}], betas=(0.8, 0.9))
    assert adam.param_groups[0]["name"] == "weights"  # extra keys are kept, as in PyTorch
    assert adam.param_groups[0]["weight_decay"] == 0.01  # AdamW's default
    assert optim.Adam([a]).param_groups[0]["weight_decay"] == 0.0


def test_a_list_of_values_is_one_group() -> None:
    a, b = values(1.0, 2.0)
    opt = optim.Adam([a, b], lr=0.1)
    assert len(opt.param_groups) == 1
    assert opt.param_groups[0]["params"] == [a, b]
    assert opt.param_groups[0]["betas"] == (0.9, 0.999)


BAD_GROUPS: dict[str, tuple[Any, dict[str, Any], type[Exception], str]] = {
    "empty": ([], {"lr": 0.1}, ValueError, "empty parameter list"),
    "one value": (Value(1.0), {"lr": 0.1}, TypeError, "list of Values"),
    "not values": ([1.0], {"lr": 0.1}, TypeError, "must be Values"),
    "set": ([{"params": {Value(1.0)}}], {"lr": 0.1}, TypeError, "ordered"),
    "no params key": ([{"lr": 0.1}], {"lr": 0.1}, TypeError, '"params"'),
    "no lr anywhere": ([{"params": [Value(1.0)]}], {}, ValueError, "SGD needs lr"),
    "negative lr": ([{"params": [Value(1.0)], "lr": -1.0}], {"lr": 0.1}, ValueError, ">= 0"),
    "nan lr": ([Value(1.0)], {"lr": math.nan}, ValueError, "learning rate"),
    "string lr": ([Value(1.0)], {"lr": "0.1"}, ValueError, "learning rate"),
    "nesterov": ([{"params": [Value(1.0)], "nesterov": True}], {"lr": 0.1}, ValueError,
                 "Nesterov"),
    "momentum": ([Value(1.0)], {"lr": 0.1, "momentum": -0.5}, ValueError, "momentum"),
    "weight decay": ([Value(1.0)], {"lr": 0.1, "weight_decay": -1}, ValueError, "weight_decay"),
}  # fmt: skip


@pytest.mark.parametrize("case", BAD_GROUPS.values(), ids=list(BAD_GROUPS))
def test_bad_groups_and_settings_are_refused(case: tuple[Any, Any, Any, str]) -> None:
    params, options, error, message = case
    with pytest.raises(error, match=message):
        optim.SGD(params, **options)


def test_a_parameter_in_two_groups_is_refused() -> None:
    a, b = values(1.0, 2.0)
    with pytest.raises(ValueError, match="more than once"):
        optim.Adam([{"params": [a, b]}, {"params": [a]}])
    with pytest.raises(ValueError, match="more than once"):
        optim.Adam([a, a])
    opt = optim.Adam([a])
    with pytest.raises(ValueError, match="more than once"):
        opt.add_param_group({"params": [b, a]})
    assert len(opt.param_groups) == 1
    for betas in [(0.9,), (1.0, 0.9), "ab"]:
        with pytest.raises(ValueError, match="betas"):
            optim.Adam([b], betas=betas)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="amsgrad"):
        optim.AdamW([b], amsgrad=1)  # type: ignore[arg-type]


def test_lr_reads_and_sets_every_groups_rate() -> None:
    a, b = values(1.0, 2.0)
    opt = optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1)
    assert opt.lr == 0.1
    opt.lr = 0.5
    assert [group["lr"] for group in opt.param_groups] == [0.5, 0.5]
    with pytest.raises(ValueError, match="learning rate"):
        opt.lr = -1.0
    assert opt.lr == 0.5
    opt.param_groups[1]["lr"] = 0.25
    with pytest.raises(AttributeError, match="different rates"):
        _ = opt.lr
    assert getattr(opt, "lr", "?") == "?"  # fit's divergence message falls back to it


def test_each_group_steps_with_its_own_rate_and_weight_decay() -> None:
    a, b = values(1.0, 1.0)
    opt = optim.AdamW(
        [{"params": [a]}, {"params": [b], "weight_decay": 0.0}], lr=0.1, weight_decay=0.5
    )
    a.grad = b.grad = 0.0
    opt.step()
    assert (a.data, b.data) == (1.0 - 0.1 * 0.5, 1.0)  # decoupled decay only, no gradient
    c, d = values(1.0, 1.0)
    sgd = optim.SGD([{"params": [c], "lr": 0.5}, {"params": [d]}], lr=0.1)
    c.grad = d.grad = 1.0
    sgd.step()
    assert (c.data, d.data) == (0.5, 0.9)


def test_a_group_added_later_starts_its_own_adam_step_count() -> None:
    a, b, fresh = values(0.5, -0.3, -0.3)
    opt = optim.Adam([a], lr=0.1)
    for _ in range(3):
        a.grad = 1.0
        opt.step()
    opt.add_param_group({"params": [b], "lr": 0.2})
    a.grad = b.grad = fresh.grad = 0.7
    opt.step()
    optim.Adam([fresh], lr=0.2).step()
    assert b.data == fresh.data  # bias correction for its first step, not its fourth
    assert opt.state[a]["step"] == 4
    assert opt.state[b]["step"] == 1


OPTIMIZERS: list[tuple[type[optim.Optimizer], dict[str, Any]]] = [
    (optim.SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    (optim.SGD, {"lr": 0.1}),
    (optim.Adam, {"lr": 0.1, "amsgrad": True}),
    (optim.AdamW, {"lr": 0.1}),
    (optim.RMSprop, {"lr": 0.1}),
    (optim.RMSprop, {"lr": 0.1, "momentum": 0.9, "centered": True}),
]


@pytest.mark.parametrize(("kind", "options"), OPTIMIZERS, ids=lambda x: getattr(x, "__name__", ""))
def test_group_state_survives_json_and_continues_identically(
    kind: type[optim.Optimizer], options: dict[str, Any]
) -> None:
    def run(restore: bool) -> list[float]:
        params = values(0.5, -0.5, 2.0)
        groups: list[dict[str, Any]] = [{"params": params[:2]}, {"params": params[2:], "lr": 0.01}]
        opt = kind(groups, **options)
        for step in range(6):
            if restore and step == 3:
                saved = json.loads(json.dumps(opt.state_dict()))
                opt = kind([{"params": params[:2]}, {"params": params[2:]}], **options)
                opt.load_state_dict(saved)
                assert opt.param_groups[1]["lr"] == 0.01
            for p in params:
                p.grad = math.sin(p.data) + 0.3
            opt.step()
        return [p.data for p in params]

    assert run(restore=True) == run(restore=False)


def broken(state: dict[str, Any], path: list[Any], value: Any) -> dict[str, Any]:
    state = copy.deepcopy(state)
    place = state
    for key in path[:-1]:
        place = place[key]
    if value is KeyError:
        del place[path[-1]]
    else:
        place[path[-1]] = value
    return state


BAD_STATES: dict[str, tuple[list[Any], Any, str]] = {
    "type": (["type"], "SGD", "not Adam"),
    "groups": (["param_groups"], [], "2 parameter groups"),
    "group not dict": (["param_groups", 0], 3, "params list"),
    "group size": (["param_groups", 1, "params"], [2, 3], "holds 2 parameters"),
    "hyper-parameter gone": (["param_groups", 0, "eps"], KeyError, "lacks eps"),
    "bad lr": (["param_groups", 0, "lr"], "fast", "learning rate"),
    "bad betas": (["param_groups", 1, "betas"], [0.9, 1.5], "betas"),
    "state index": (["state", 7], {"step": 1, "exp_avg": 0.0, "exp_avg_sq": 0.0}, "parameter 7"),
    "buffer gone": (["state", 0, "exp_avg"], KeyError, "must hold step"),
    "buffer unknown": (["state", 0, "momentum_buffer"], 1.0, "must hold step"),
    "buffer text": (["state", 0, "exp_avg"], "x", "must be a number"),
    "step float": (["state", 0, "step"], 1.5, "must be an int"),
    "step whole float": (["state", 0, "step"], 2.0, "must be an int"),
    "step negative": (["state", 0, "step"], -3, "'step' of parameter 0 must be an int >= 0"),
    "second moment negative": (["state", 1, "exp_avg_sq"], -0.5, "cannot be negative"),
    "buffer too large": (["state", 0, "exp_avg"], 10**400, "'exp_avg' of parameter 0 is too"),
    "steps": (["steps"], -1, "steps"),
}


@pytest.mark.parametrize("case", BAD_STATES.values(), ids=list(BAD_STATES))
def test_a_bad_optimizer_state_leaves_the_optimizer_untouched(
    case: tuple[list[Any], Any, str],
) -> None:
    params = values(0.5, -0.5, 2.0)
    opt = optim.Adam([{"params": params[:2]}, {"params": params[2:], "lr": 0.01}], lr=0.1)
    for p in params:
        p.grad = 1.0
    opt.step()
    good = opt.state_dict()
    path, value, message = case
    with pytest.raises(ValueError, match=message):
        opt.load_state_dict(broken(good, path, value))
    assert opt.state_dict() == good


SQUARES: list[tuple[type[optim.Optimizer], dict[str, Any], str]] = [
    (optim.Adam, {}, "exp_avg_sq"),
    (optim.Adam, {"amsgrad": True}, "max_exp_avg_sq"),
    (optim.AdamW, {"amsgrad": True}, "exp_avg_sq"),
    (optim.RMSprop, {}, "square_avg"),
    (optim.RMSprop, {"momentum": 0.9, "centered": True}, "square_avg"),
]


@pytest.mark.parametrize(("kind", "options", "buffer"), SQUARES)
def test_a_checkpoint_with_a_negative_step_or_second_moment_is_refused(
    kind: type[optim.Optimizer], options: dict[str, Any], buffer: str
) -> None:
    """PyTorch's update takes √ of these buffers and 1 - β^step: a negative one (or a negative
    step) would make the next step's weights NaN or complex. Nothing changes on refusal."""
    params = values(0.5, -0.5)
    opt = kind(params, lr=0.1, **options)
    for p in params:
        p.grad = 1.0
    opt.step()
    good = opt.state_dict()
    with pytest.raises(ValueError, match=rf"state '{buffer}' of parameter 1 .* cannot be negative"):
        opt.load_state_dict(broken(good, ["state", 1, buffer], -1e-12))
    with pytest.raises(ValueError, match="must be an int >= 0, got -3"):
        opt.load_state_dict(broken(good, ["state", 0, "step"], -3))
    with pytest.raises(ValueError, match="must be an int"):
        opt.load_state_dict(broken(good, ["state", 0, "step"], 0.5))
    assert opt.state_dict() == good
    opt.load_state_dict(broken(good, ["state", 1, buffer], 0.0))  # zero is a mean of squares
    assert opt.state[params[1]][buffer] == 0.0


def test_an_rmsprop_state_saved_before_momentum_and_centered_loads_as_it_ran() -> None:
    params = values(0.5, -0.5)
    opt = optim.RMSprop(params, lr=0.1)
    for p in params:
        p.grad = 1.0
    opt.step()
    old = json.loads(json.dumps(opt.state_dict()))
    for group in old["param_groups"]:
        del group["momentum"], group["centered"]
    fresh = optim.RMSprop(params, lr=0.1)
    fresh.load_state_dict(old)
    assert fresh.state_dict() == opt.state_dict()
    assert fresh.param_groups[0]["momentum"] == 0.0
    assert fresh.param_groups[0]["centered"] is False


def test_rmsprop_refuses_bad_momentum_and_centered() -> None:
    with pytest.raises(ValueError, match="momentum"):
        optim.RMSprop(values(1.0), momentum=-0.1)
    with pytest.raises(ValueError, match="centered must be True or False"):
        optim.RMSprop(values(1.0), centered=1)  # type: ignore[arg-type]


def test_optimizer_state_round_trip_continues_identically() -> None:
    def run(restore: bool) -> list[float]:
        params = [Value(0.5), Value(-0.5)]
        opt = optim.Adam(params, lr=0.1)
        for step in range(6):
            if restore and step == 3:
                saved = opt.state_dict()
                opt = optim.Adam(params, lr=0.1)
                opt.load_state_dict(saved)
            for p in params:
                p.grad = p.data * 2
            opt.step()
        return [p.data for p in params]

    assert run(restore=True) == run(restore=False)
    with pytest.raises(ValueError, match="not SGD"):
        optim.SGD([Value(1.0)], lr=0.1).load_state_dict(optim.Adam([Value(1.0)]).state_dict())
    with pytest.raises(ValueError, match="empty"):
        optim.SGD([], lr=0.1)


OPTIMIZERS = [
    (optim.SGD, "SGD", {"lr": 0.1}),
    (optim.SGD, "SGD", {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.01}),
    (optim.SGD, "SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    (optim.Adam, "Adam", {}),
    (
        optim.Adam,
        "Adam",
        {"lr": 0.01, "betas": (0.8, 0.9), "eps": 1e-6, "weight_decay": 0.1},
    ),
    (optim.RMSprop, "RMSprop", {}),
    (optim.RMSprop, "RMSprop", {"lr": 0.003, "alpha": 0.9, "eps": 1e-6}),
]


@pytest.mark.requires_torch
@pytest.mark.parametrize(("ours", "theirs", "options"), OPTIMIZERS)
def test_optimizers_match_pytorch_for_20_steps(
    ours: Any, theirs: str, options: dict[str, Any]
) -> None:
    rng = random.Random(0)
    start = [rng.uniform(-1, 1) for _ in range(5)]
    params = [Value(v) for v in start]
    tensors = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in start]
    mine, reference = ours(params, **options), getattr(torch.optim, theirs)(tensors, **options)
    for _ in range(20):
        grads = [rng.uniform(-2, 2) for _ in start]
        mine.zero_grad()
        for p, g in zip(params, grads, strict=True):
            p.grad = g
        reference.zero_grad()
        for t, g in zip(tensors, grads, strict=True):
            t.grad = torch.tensor(g, dtype=torch.float64)
        mine.step()
        reference.step()
    for p, t in zip(params, tensors, strict=True):
        assert p.data == pytest.approx(t.item(), rel=1e-12, abs=1e-12)


ADAMW = [
    {},
    {"lr": 0.01, "betas": (0.8, 0.9), "eps": 1e-6, "weight_decay": 0.1},
    {"lr": 0.02, "weight_decay": 0.0},
    {"lr": 0.05, "amsgrad": True},
]


@pytest.mark.requires_torch
@pytest.mark.parametrize("options", ADAMW)
def test_adamw_matches_pytorch_for_30_steps(options: dict[str, Any]) -> None:
    pair = Pair("AdamW", [(5, {})], options)
    for _ in range(30):
        pair.train_step()


@pytest.mark.requires_torch
def test_adam_with_amsgrad_matches_pytorch() -> None:
    pair = Pair("Adam", [(5, {})], {"lr": 0.05, "amsgrad": True, "weight_decay": 0.01})
    for _ in range(30):
        pair.train_step()


RMSPROP = [
    {"momentum": 0.9},
    {"centered": True},
    {"lr": 0.02, "momentum": 0.5, "centered": True, "weight_decay": 0.1},
    {"lr": 0.005, "alpha": 0.3, "centered": True, "momentum": 0.2},  # lerp's weight >= 0.5
    {"lr": 0.01, "alpha": 0.9, "eps": 1e-4, "momentum": 0.99},
]


@pytest.mark.requires_torch
@pytest.mark.parametrize("options", RMSPROP)
def test_rmsprop_with_momentum_and_centering_matches_pytorch_step_by_step(
    options: dict[str, Any],
) -> None:
    pair = Pair("RMSprop", [(5, {})], options)
    for _ in range(30):
        pair.train_step()  # the weights, compared after every step
        ours, theirs = pair.ours.state_dict()["state"], pair.theirs.state_dict()["state"]
        assert ours.keys() == theirs.keys()
        for index, buffers in ours.items():
            assert buffers.keys() == theirs[index].keys()  # the same buffers, no more
            for key, value in buffers.items():
                expected = float(theirs[index][key])
                assert value == pytest.approx(expected, rel=1e-12, abs=1e-300), key


@pytest.mark.requires_torch
def test_rmsprop_has_pytorchs_settings_and_defaults() -> None:
    ours = optim.RMSprop([Value(1.0)]).param_groups[0]
    theirs = torch.optim.RMSprop([torch.tensor(1.0, requires_grad=True)]).param_groups[0]
    assert {key: theirs[key] for key in ours if key != "params"} == {
        key: value for key, value in ours.items() if key != "params"
    }
    assert {"momentum", "centered"} <= ours.keys()


GROUPS: list[tuple[str, Groups, dict[str, Any]]] = [
    ("SGD", [(3, {}), (2, {"lr": 0.01, "momentum": 0.5}), (2, {"nesterov": True})],
     {"lr": 0.1, "momentum": 0.9}),
    ("SGD", [(2, {"weight_decay": 0.1}), (3, {"lr": 0.3})], {"lr": 0.05}),
    ("Adam", [(3, {"betas": (0.5, 0.6)}), (2, {"lr": 0.1, "weight_decay": 0.2, "amsgrad": True})],
     {"lr": 0.01}),
    ("AdamW", [(3, {"weight_decay": 0.0}), (2, {"lr": 0.1, "eps": 1e-4}), (1, {})],
     {"weight_decay": 0.05}),
    ("RMSprop", [(3, {"alpha": 0.5}), (2, {"lr": 0.001, "weight_decay": 0.1})], {}),
    ("RMSprop", [(3, {"centered": True}), (2, {"momentum": 0.8})], {"lr": 0.01}),
]  # fmt: skip


@pytest.mark.requires_torch
@pytest.mark.parametrize(("name", "groups", "options"), GROUPS)
def test_parameter_groups_match_pytorch(name: str, groups: Groups, options: dict[str, Any]) -> None:
    pair = Pair(name, groups, options)
    for _ in range(25):
        pair.train_step()
    ours, theirs = pair.ours.state_dict(), pair.theirs.state_dict()
    for mine, reference in zip(ours["param_groups"], theirs["param_groups"], strict=True):
        assert mine["params"] == reference["params"]  # PyTorch's numbering across groups
        for key, value in mine.items():  # every hyper-parameter is PyTorch's, with its value
            expected = reference[key]
            assert value == (list(expected) if isinstance(expected, tuple) else expected), key
    for index, buffers in ours["state"].items():
        for key, value in buffers.items():
            assert value == pytest.approx(float(theirs["state"][index][key]), rel=1e-12), key


@pytest.mark.requires_torch
def test_state_dicts_have_pytorchs_layout() -> None:
    pair = Pair("Adam", [(2, {}), (1, {"lr": 0.5})], {"lr": 0.1}, ("StepLR", {"step_size": 2}))
    pair.train_step()
    pair.epoch_end()
    ours, theirs = pair.ours.state_dict(), pair.theirs.state_dict()
    assert set(ours) - {"type", "steps"} == set(theirs)
    assert set(ours["state"]) == set(theirs["state"])
    assert all(set(ours["state"][i]) == set(theirs["state"][i]) for i in ours["state"])
    for mine, reference in zip(ours["param_groups"], theirs["param_groups"], strict=True):
        assert set(mine) <= set(reference)
        assert mine["initial_lr"] == reference["initial_lr"]
    assert pair.schedulers is not None
    ours_scheduler, theirs_scheduler = (s.state_dict() for s in pair.schedulers)
    for key in ("last_epoch", "base_lrs", "step_size", "gamma"):
        assert ours_scheduler[key] == theirs_scheduler[key], key
    assert ours_scheduler["last_lr"] == theirs_scheduler["_last_lr"]
    assert ours_scheduler["step_count"] == theirs_scheduler["_step_count"]
