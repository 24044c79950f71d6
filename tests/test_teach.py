"""The grader: right sheets pass, each known mistake is named where it was made and only there
(the nodes below it "follow from an earlier error"), and bad sheets are clear errors."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import autograd_lite as ag
from autograd_lite import teach
from autograd_lite.ops import FLOAT_MATH, PRIMITIVES
from autograd_lite.teach import _candidates, _uses_of_each
from autograd_lite.testing import Expression, expressions


def labelled(**values: float) -> dict[str, ag.Value]:
    return {name: ag.Value(x, label=name) for name, x in values.items()}


def named(value: ag.Value, label: str) -> ag.Value:
    value.label = label
    return value


def neuron() -> ag.Value:
    v = labelled(x1=2.0, x2=0.0, w1=-3.0, w2=1.0, b=6.8813735870195432)
    v["x1"].requires_grad = v["x2"].requires_grad = False  # the data: never asked for
    x1w1 = named(v["x1"] * v["w1"], "x1w1")
    x2w2 = named(v["x2"] * v["w2"], "x2w2")
    s = named(x1w1 + x2w2, "s")
    n = named(s + v["b"], "n")
    return named(n.tanh(), "o")


def used_twice() -> ag.Value:
    v = labelled(a=0.5, b=-0.8)
    d = named(v["a"] * v["b"], "d")
    e = named(d * d + d, "e")
    return named(e.tanh() * 3, "L")


def signs() -> ag.Value:
    v = labelled(a=2.0, b=0.5, x=1.25)
    b2 = named(v["b"] * 2, "b2")
    c = named(v["x"] * 3, "c")
    diff = named(v["a"] - b2, "diff")
    q = named(diff / c, "q")
    return named(q.sigmoid(), "L")


def exps() -> ag.Value:
    v = labelled(p=0.3, q=-0.7)
    pq = named(v["p"] * v["q"], "pq")
    u = named(pq + 1, "u")
    ex = named(u.exp(), "ex")
    return named(ex * v["q"], "L")


EXPRESSIONS = {"neuron": neuron, "used_twice": used_twice, "signs": signs, "exps": exps}


def node(root: ag.Value, label: str) -> ag.Value:
    (found,) = [v for v in ag.topological_order(root) if v.label == label]
    return found


def learner_sheet(root: ag.Value, overrides: dict[ag.Value, float]) -> dict[ag.Value, float]:
    """The sheet of a learner who made the mistakes ``overrides`` and worked every other step
    right from their own numbers: the backward pass, with those gradients replaced."""
    grads = {root: 1.0}
    for value in reversed(ag.topological_order(root, leaves=False)):
        g = grads[value] = overrides.get(value, grads[value])
        for child, local in zip(value.inputs, value.local_grads):
            if child.requires_grad:
                grads[child] = grads.get(child, 0.0) + local * g
    return {v: overrides.get(v, grads[v]) for v in teach.fill_in(root)}


# The learner's number at `value` under each mistake, worked out here from the truth (not by
# the grader): its uses' right gradients, each use's local derivative.
WRONG_POINT: dict[str, Callable[[float, float], float]] = {
    "tanh": lambda x, out: 1 - x * x,
    "sigmoid": lambda x, out: x * (1 - x),
    "exp": lambda x, out: x,
}


def mistaken(root: ag.Value, value: ag.Value, kind: str) -> float:
    truth = ag.engine.reverse_sweep(root)
    uses = [
        (parent, local)
        for parent in ag.topological_order(root, leaves=False)
        for child, local in zip(parent.inputs, parent.local_grads)
        if child is value
    ]
    terms = [truth[parent] * local for parent, local in uses]
    if kind == "used_twice":
        return terms[0]  # one contribution of several
    if kind == "upstream_missing":
        return math.fsum(local for _, local in uses)
    total = 0.0
    for (parent, _), term in zip(uses, terms):
        op = parent.op.name  # type: ignore[union-attr]
        if kind == "wrong_point" and op in WRONG_POINT:
            term = truth[parent] * WRONG_POINT[op](value.data, parent.data)
        elif kind == "sign" and op in ("-", "/", "neg"):
            term = -term
        elif kind == "swapped_operand" and op == "*":
            term = truth[parent] * value.data
        total += term
    return total


CASES = [
    ("used_twice", "used_twice", "d"),
    ("used_twice", "upstream_missing", "e"),
    ("neuron", "upstream_missing", "s"),
    ("exps", "upstream_missing", "pq"),
    ("neuron", "wrong_point", "n"),
    ("signs", "wrong_point", "q"),
    ("exps", "wrong_point", "u"),
    ("signs", "sign", "b2"),
    ("signs", "sign", "c"),
    ("neuron", "swapped_operand", "w1"),
    ("used_twice", "swapped_operand", "a"),
    ("exps", "swapped_operand", "p"),
    ("signs", "swapped_operand", "x"),
]


def assert_diagnosed_only_there(root: ag.Value, value: ag.Value, kind: str, number: float) -> None:
    report = teach.check(root, learner_sheet(root, {value: number}))
    assert not report.ok
    by_node = {m.node: m for m in report.mistakes}
    assert by_node[value].diagnosis == kind, str(report)
    assert by_node[value].given == number
    assert by_node[value].expected == pytest.approx(ag.engine.reverse_sweep(root)[value])
    for other, mistake in by_node.items():
        if other is not value:
            assert mistake.diagnosis == "follows_earlier", str(report)
            assert mistake.origin is value
            assert value.label in mistake.message or teach.names(root)[value] in mistake.message


@pytest.mark.parametrize(("expression", "kind", "label"), CASES)
def test_each_mistake_is_named_where_it_was_made(expression: str, kind: str, label: str) -> None:
    root = EXPRESSIONS[expression]()
    value = node(root, label)
    number = mistaken(root, value, kind)
    assert not math.isclose(number, ag.engine.reverse_sweep(root)[value], rel_tol=0.05)
    assert_diagnosed_only_there(root, value, kind, number)


def test_the_nodes_below_a_mistake_follow_from_it() -> None:
    root = used_twice()
    d = node(root, "d")
    report = teach.check(root, learner_sheet(root, {d: mistaken(root, d, "used_twice")}))
    assert [(m.name, m.diagnosis) for m in report.mistakes] == [
        ("d", "used_twice"),
        ("b", "follows_earlier"),
        ("a", "follows_earlier"),
    ]
    assert "the error started at d" in report.mistakes[1].message


def test_a_new_mistake_below_an_earlier_one_is_still_found() -> None:
    root = used_twice()
    d, a = node(root, "d"), node(root, "a")
    wrong_d = mistaken(root, d, "used_twice")
    b = node(root, "b")
    sheet = learner_sheet(root, {d: wrong_d})
    sheet[a] = wrong_d * a.data  # from the learner's own dL/dd, the other factor swapped in
    report = teach.check(root, sheet)
    assert {m.name: m.diagnosis for m in report.mistakes} == {
        "d": "used_twice",
        "a": "swapped_operand",
        "b": "follows_earlier",
    }
    assert sheet[b] == pytest.approx(wrong_d * a.data)


@pytest.mark.parametrize("expression", sorted(EXPRESSIONS))
def test_right_sheets_pass_keyed_by_values_labels_or_names(expression: str) -> None:
    root = EXPRESSIONS[expression]()
    sheet = learner_sheet(root, {})
    assert teach.check(root, sheet).ok
    named = teach.names(root)
    by_label = {named[v]: g for v, g in sheet.items()}
    report = teach.check(root, by_label)
    assert report.ok, str(report)
    report.assert_correct()
    assert teach.check(root, {**by_label, root: 1.0}).ok, "the root's own entry may be given"
    rounded = {name: float(f"{g:.3g}") for name, g in by_label.items()}
    assert teach.check(root, rounded).ok, "three significant digits are right"
    assert [row[0] for row in report.rows] == list(by_label)


def test_a_missing_answer_is_missing_and_its_inputs_are_judged_on_the_truth() -> None:
    root = neuron()
    sheet = learner_sheet(root, {})
    sheet[node(root, "n")] = None  # type: ignore[assignment]
    report = teach.check(root, sheet)
    assert [(m.name, m.diagnosis, m.given) for m in report.mistakes] == [("n", "missing", None)]
    assert "dL/dn" not in report.mistakes[0].message or "not answered" in report.mistakes[0].message
    blank = teach.check(root, {})
    assert {m.diagnosis for m in blank.mistakes} == {"missing"}
    assert len(blank.mistakes) == len(teach.fill_in(root))


def test_a_wrong_root_entry_is_a_mistake() -> None:
    root = neuron()
    report = teach.check(root, {**learner_sheet(root, {}), root: 2.0})
    assert [(m.node, m.diagnosis) for m in report.mistakes] == [(root, "other")]


def test_an_unknown_number_is_other() -> None:
    root = signs()
    sheet = learner_sheet(root, {})
    a = node(root, "a")
    sheet[a] = 123.0
    (mistake,) = teach.check(root, sheet).mistakes
    assert (mistake.node, mistake.diagnosis) == (a, "other")
    assert "The right step: dL/da = " in mistake.message


def test_check_changes_no_grad() -> None:
    root = neuron()
    values = ag.topological_order(root)
    for k, value in enumerate(values):
        value.grad = float(k)
    teach.check(root, {"w1": 0.5})
    assert [v.grad for v in values] == [float(k) for k in range(len(values))]


def test_the_report_prints_as_a_table_and_as_html_and_asserts() -> None:
    root = used_twice()
    d = node(root, "d")
    report = teach.check(root, learner_sheet(root, {d: mistaken(root, d, "used_twice")}))
    text = str(report)
    assert text.splitlines()[0].split() == ["node", "given", "expected", "verdict"]
    assert "wrong: used twice" in text
    assert "right within 0.0001 + 0.01·|expected|" in text
    assert "3 wrong" in text
    page = report._repr_html_()
    assert page.startswith("<table>")
    assert page.count("<tr>") == 1 + len(report.rows)
    with pytest.raises(AssertionError, match="used twice"):
        report.assert_correct()
    assert set(teach.DIAGNOSES) >= {
        "missing", "used_twice", "upstream_missing", "wrong_point", "sign", "swapped_operand",
        "follows_earlier", "other",
    }  # fmt: skip


def test_unknown_keys_and_non_numbers_are_clear_errors() -> None:
    root = neuron()
    with pytest.raises(KeyError, match="no node is called 'w3'"):
        teach.check(root, {"w3": 1.0})
    with pytest.raises(ValueError, match="not part of the graph"):
        teach.check(root, {ag.Value(1.0): 1.0})
    with pytest.raises(ValueError, match="constant"):
        teach.check(root, {"x1": 1.0})
    with pytest.raises(TypeError, match="must be a number"):
        teach.check(root, {"w1": "1.0"})
    with pytest.raises(TypeError, match="must be a number"):
        teach.check(root, {"w1": True})
    with pytest.raises(ValueError, match="NaN"):
        teach.check(root, {"w1": math.nan})
    with pytest.raises(TypeError, match="keyed by Values or labels"):
        teach.check(root, {3: 1.0})
    twins = ag.Value(1.0, label="t") * ag.Value(2.0, label="t")
    with pytest.raises(ValueError, match="names 2 nodes"):
        teach.check(twins, {"t": 1.0})


def test_fill_in_is_a_blank_sheet_in_backward_order() -> None:
    root = neuron()
    sheet = teach.fill_in(root)
    assert list(sheet.values()) == [None] * len(sheet)
    order = [v for v in reversed(ag.topological_order(root)) if v is not root]
    assert list(sheet) == [v for v in order if v.requires_grad]
    assert {v.label for v in sheet} == {"n", "b", "s", "x2w2", "w2", "x1w1", "w1"}
    assert root not in sheet
    lines = str(sheet).splitlines()
    assert lines[0].split() == ["node", "data", "dL/dnode"] or lines[0].split()[0] == "node"
    assert [line.split()[0] for line in lines[1:]] == [v.label for v in sheet]
    assert all(line.endswith("____") for line in lines[1:])
    assert teach.check(root, sheet.by_name()).mistakes[0].diagnosis == "missing"


# --- hypothesis: used twice, and the upstream forgotten, in random expressions -------------


def _ambiguous(root: ag.Value, value: ag.Value, kind: str, number: float) -> bool:
    """Whether another mistake gives the same number there (the order would decide)."""
    truth = ag.engine.reverse_sweep(root)
    uses = _uses_of_each(root)[value]
    found = _candidates(uses, [truth[u.parent] for u in uses], value)

    def close(x: float) -> bool:
        return abs(number - x) <= teach.ATOL + teach.RTOL * abs(x)

    return any(close(x) for code, xs in found.items() if code != kind for x in xs)


def _graph(expr: Expression) -> ag.Value:
    leaves = [ag.Value(x, label=f"x{i}") for i, x in enumerate(expr.leaves)]
    return expr(*leaves)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(expressions(max_leaves=3, max_steps=7), st.data())
def test_used_twice_in_random_expressions(expr: Expression, data: st.DataObject) -> None:
    root = _graph(expr)
    inner = [v for v in ag.topological_order(root) if v is not root]
    assume(root.requires_grad and inner)
    extra = data.draw(st.sampled_from(inner))  # used once more, so that something is shared
    root = root * (extra + 1.5)
    shared = [v for v, uses in _uses_of_each(root).items() if len(uses) > 1 and v is not root]
    value = data.draw(st.sampled_from(shared))
    truth = ag.engine.reverse_sweep(root)
    assume(all(math.isfinite(g) and abs(g) < 1e6 for g in truth.values()))
    number = mistaken(root, value, "used_twice")
    assume(abs(number - truth[value]) > 10 * (teach.ATOL + teach.RTOL * abs(truth[value])))
    assume(not _ambiguous(root, value, "used_twice", number))
    assert_diagnosed_only_there(root, value, "used_twice", number)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(expressions(max_leaves=3, max_steps=7), st.data())
def test_upstream_missing_in_random_expressions(expr: Expression, data: st.DataObject) -> None:
    root = _graph(expr)
    assume(root.requires_grad)
    candidates = [v for v in teach.fill_in(root)]
    assume(candidates)
    value = data.draw(st.sampled_from(candidates))
    truth = ag.engine.reverse_sweep(root)
    assume(all(math.isfinite(g) and abs(g) < 1e6 for g in truth.values()))
    number = mistaken(root, value, "upstream_missing")
    assume(math.isfinite(number))
    assume(abs(number - truth[value]) > 10 * (teach.ATOL + teach.RTOL * abs(truth[value])))
    assume(not _ambiguous(root, value, "upstream_missing", number))
    assert_diagnosed_only_there(root, value, "upstream_missing", number)


# --- check_rule -----------------------------------------------------------------------


def _rules() -> list[
    tuple[str, int, Callable[[float], float], Callable[[float], float], tuple[float, float]]
]:
    """Every partial of the op table as a one-argument rule (the other input held fixed)."""
    found = []
    for name, op in sorted(PRIMITIVES.items()):
        for i, rule in enumerate(op.partials):
            fixed = [0.5 * (lo + hi) for (lo, hi), *_ in op.domains]  # a middle point
            fixed = [x if abs(x) > 0.2 else 0.7 for x in fixed]

            def forward(x: float, i: int = i, op=op, fixed=fixed) -> float:  # type: ignore[no-untyped-def]
                args = list(fixed)
                args[i] = x
                return float(op.forward(*args))

            def derivative(x: float, i: int = i, op=op, fixed=fixed, rule=rule) -> float:  # type: ignore[no-untyped-def]
                args = list(fixed)
                args[i] = x
                if not callable(rule):
                    return float(rule)
                return float(rule(*args, op.forward(*args), FLOAT_MATH))

            for interval in op.domains[i]:
                found.append((name, i, forward, derivative, interval))
    return found


RULES = _rules()


@pytest.mark.parametrize(("name", "i", "forward", "derivative", "domain"), RULES,
                         ids=[f"{r[0]}-{r[1]}-{r[4]}" for r in RULES])  # fmt: skip
def test_check_rule_accepts_the_table_and_rejects_it_perturbed(
    name: str,
    i: int,
    forward: Callable[[float], float],
    derivative: Callable[[float], float],
    domain: tuple[float, float],
) -> None:
    report = teach.check_rule(forward, derivative, domain)
    assert report.ok, f"{name} input {i}: {report}"
    report.assert_correct()
    wrong = teach.check_rule(forward, lambda x: derivative(x) * 1.05 + 0.01, domain)
    assert not wrong.ok
    assert domain[0] <= wrong.worst <= domain[1]
    with pytest.raises(AssertionError, match="wrong"):
        wrong.assert_correct()


def test_check_rule_names_the_worst_point_and_refuses_bad_domains() -> None:
    report = teach.check_rule(math.exp, lambda x: math.exp(x) if x < 1 else x, (-2.0, 2.0))
    assert not report.ok
    assert report.worst == 2.0
    assert report.given == 2.0
    assert report.expected == pytest.approx(math.exp(2.0))
    assert "worst at x = 2" in str(report)
    with pytest.raises(ValueError, match="domain"):
        teach.check_rule(math.exp, math.exp, (1.0, -1.0))
    with pytest.raises(ValueError, match="no finite value"):
        teach.check_rule(math.log, lambda x: 1 / x, (-3.0, -1.0))
