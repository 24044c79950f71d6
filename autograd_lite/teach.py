"""The classroom: grade a learner's hand-worked backpropagation node by node, check a learner's
derivative rule, and write the chain rule of an expression as LaTeX.

:func:`check` compares the learner's ``dL/dnode`` numbers with the engine's own reverse sweep.
Each node is judged against the learner's *own* answers for the nodes that use it: from
those, the node's gradient is computed again (the sum over its uses of upstream × local
derivative). An answer that equals that recomputation but not the truth *follows from an
earlier error*, which is named, and not blamed again; otherwise each known mistake is tried by
recomputing the node under it, in the order of :data:`DIAGNOSES`, and the first that gives
the learner's number names the mistake. :func:`fill_in` gives the blank sheet to fill in,
:func:`check_rule` checks a derivative against finite differences, and :func:`chain_rule`
writes ∂L/∂x as a sum over paths of products of local derivatives.

>>> from autograd_lite import Value
>>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
>>> c = a * b; c.label = "c"
>>> L = c * c; L.label = "L"              # dL/dc = 2c = -12, dL/da = -12 · b = 36
>>> report = check(L, {"c": -12, "a": -3, "b": -24})
>>> report.ok, [(m.node.label, m.diagnosis) for m in report.mistakes]
(False, [('a', 'upstream_missing')])
"""

from __future__ import annotations

import contextlib
import html
import itertools
import math
import numbers
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .engine import Value, reverse_sweep, topological_order
from .steps import names, tex_name, tex_number

__all__ = [
    "ATOL", "DIAGNOSES", "RTOL", "ChainRule", "Mistake", "Report", "RuleReport", "Sheet",
    "chain_rule", "check", "check_rule", "fill_in",
]  # fmt: skip

RTOL, ATOL = 0.01, 1e-4
"""The default tolerance: an answer is right when ``|given - expected| <= ATOL + RTOL·|expected|``
(three significant digits, worked by hand, are right)."""

DIAGNOSES = {
    "missing": "no answer was given for this node",
    "follows_earlier": "the step is right, from a wrong gradient given further up",
    "used_twice": "a value used more than once: some but not all of its contributions (or "
    "their product instead of their sum)",
    "upstream_missing": "the local derivative alone: the upstream gradient not multiplied in",
    "wrong_point": "a local derivative taken at the wrong point (at the input where the rule "
    "uses the output, as 1 - x² for tanh, or the other way round)",
    "sign": "the sign of a - or / edge (or of neg) flipped",
    "swapped_operand": "the wrong factor of a product: a * b's derivative by a taken as a",
    "other": "none of the known mistakes gives this number",
}
"""The diagnosis codes, in the order they are tried: where two mistakes give the same number,
the first in this order is named. ``follows_earlier`` comes before every mistake: a step worked
right from the learner's own wrong upstream numbers is not a new mistake."""

# For each op, its local derivative taken at the wrong point, as f(input, output): the rule in
# the output evaluated at the input (tanh, sigmoid, exp, sqrt), or the other way round.
_WRONG_POINT: dict[str, Callable[[float, float], float]] = {
    "tanh": lambda x, out: 1.0 - x * x,
    "sigmoid": lambda x, out: x * (1.0 - x),
    "exp": lambda x, out: x,
    "sqrt": lambda x, out: 0.5 / x if x else math.inf,
    "log": lambda x, out: 1.0 / out if out else math.inf,
    "sin": lambda x, out: math.cos(out),
    "cos": lambda x, out: -math.sin(out),
    "softplus": lambda x, out: 1.0 / (1.0 + math.exp(-out)),
}


@dataclass(frozen=True)
class Mistake:
    """A wrong or missing answer: the node, what was given (None: nothing), what is right, a
    :data:`DIAGNOSES` code and a message with the right step's arithmetic."""

    node: Value
    name: str
    given: float | None
    expected: float
    diagnosis: str
    message: str
    origin: Value | None = None
    """For ``follows_earlier``: the node where the error started."""


@dataclass(frozen=True)
class _Use:
    """One edge into a node: the node ``parent`` that uses it, and ∂parent/∂node."""

    parent: Value
    local: float
    index: int


@dataclass
class Report:
    """What :func:`check` found: per node, the learner's answer, the right one and a verdict.

    ``rows`` holds ``(name, given, expected, verdict)`` for every node asked for, in backward
    order; ``mistakes`` the wrong and missing ones. Prints as a table, and as an HTML table in
    Jupyter.
    """

    rows: list[tuple[str, float | None, float, str]]
    mistakes: list[Mistake]
    rtol: float = RTOL
    atol: float = ATOL

    @property
    def ok(self) -> bool:
        """True when every node's answer is right."""
        return not self.mistakes

    def __str__(self) -> str:
        width = max([4, *(len(name) for name, *_ in self.rows)])
        lines = [f"{'node':<{width}}  {'given':>10}  {'expected':>10}  verdict"]
        for name, given, expected, verdict in self.rows:
            shown = "—" if given is None else f"{given:.4g}"
            lines.append(f"{name:<{width}}  {shown:>10}  {expected:>10.4g}  {verdict}")
        lines.extend(f"{m.name}: {m.message}" for m in self.mistakes)
        tolerance = f"(right within {self.atol:g} + {self.rtol:g}·|expected|)"
        lines.append(("all right " if self.ok else f"{len(self.mistakes)} wrong ") + tolerance)
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        cells = "".join(
            f"<tr><td><code>{html.escape(name)}</code></td>"
            f"<td>{'—' if given is None else f'{given:.4g}'}</td><td>{expected:.4g}</td>"
            f"<td>{'✅' if verdict == 'right' else '❌'} {html.escape(verdict)}</td></tr>"
            for name, given, expected, verdict in self.rows
        )
        notes = "".join(
            f"<li><code>{html.escape(m.name)}</code>: {html.escape(m.message)}</li>"
            for m in self.mistakes
        )
        head = "<tr><th>node</th><th>given</th><th>expected</th><th>verdict</th></tr>"
        summary = "all right" if self.ok else f"{len(self.mistakes)} wrong"
        return (
            f"<table>{head}{cells}</table><ul>{notes}</ul><p>{summary} (right within "
            f"{self.atol:g} + {self.rtol:g}·|expected|)</p>"
        )

    def assert_correct(self) -> None:
        """Raise ``AssertionError`` with the report when any answer is wrong or missing."""
        if not self.ok:
            raise AssertionError("\n" + str(self))


class Sheet(dict):  # type: ignore[type-arg]
    """A blank answer sheet from :func:`fill_in`: a dict from each node to answer (in backward
    order) to ``None``, printed as a table to fill in."""

    def __init__(self, root: Value, nodes: Iterable[Value]) -> None:
        super().__init__((node, None) for node in nodes)
        self.names = names(root)
        self.root_name = root.label or "L"

    def __str__(self) -> str:
        width = max([4, *(len(self.names[node]) for node in self)])
        lines = [f"{'node':<{width}}  {'data':>10}  d{self.root_name}/dnode"]
        for node, answer in self.items():
            shown = "____" if answer is None else f"{answer:.4g}"
            lines.append(f"{self.names[node]:<{width}}  {node.data:>10.4g}  {shown}")
        return "\n".join(lines)

    __repr__ = __str__

    def by_name(self) -> dict[str, float | None]:
        """The sheet keyed by node names (labels), as :func:`check` also accepts it."""
        return {self.names[node]: answer for node, answer in self.items()}


def _asked(root: Value) -> list[Value]:
    """The nodes a learner answers for, in backward order: every node that requires grad."""
    return [v for v in reversed(topological_order(root)) if v.requires_grad and v is not root]


def fill_in(root: Value) -> Sheet:
    """A blank answer sheet for ``root``: each node that needs a gradient (constants never do;
    the root's own, 1, is not asked), in backward order, mapped to ``None``.

    >>> from autograd_lite import Value
    >>> a = Value(2.0, label="a")
    >>> L = (a * a).tanh(); L.label = "L"
    >>> print(fill_in(L))
    node         data  dL/dnode
    (a*a)           4  ____
    a               2  ____
    """
    if not isinstance(root, Value):
        raise TypeError(f"fill_in takes a Value, got {type(root).__name__}")
    return Sheet(root, _asked(root))


def _lookup(root: Value, answers: Mapping[Any, Any]) -> dict[Value, float | None]:
    """The answers keyed by node, checked: known keys (Values of the graph, labels or names),
    numbers or None."""
    nodes = topological_order(root)
    named = names(root)
    by_name: dict[str, list[Value]] = {}
    for node in nodes:
        for key in {named[node], node.label} - {""}:
            by_name.setdefault(key, []).append(node)
    found: dict[Value, float | None] = {}
    for key, answer in answers.items():
        if isinstance(key, Value):
            if key not in named:
                raise ValueError(f"{key!r} is not part of the graph being checked")
            node = key
        elif isinstance(key, str):
            if key not in by_name:
                known = ", ".join(sorted(by_name))
                raise KeyError(f"no node is called {key!r}; the nodes are: {known}")
            if len(by_name[key]) > 1:
                raise ValueError(f"{key!r} names {len(by_name[key])} nodes: key them by Value")
            (node,) = by_name[key]
        else:
            raise TypeError(f"answers are keyed by Values or labels, got {type(key).__name__}")
        if not node.requires_grad:
            raise ValueError(f"{named[node]!r} is a constant: it has no gradient to give")
        found[node] = _answer_number(named[node], answer)
    return found


def _answer_number(name: str, answer: object) -> float | None:
    if answer is None:
        return None
    if isinstance(answer, bool) or not isinstance(answer, numbers.Real):
        raise TypeError(f"the answer for {name!r} must be a number, got {answer!r}")
    value = float(answer)
    if math.isnan(value):
        raise ValueError(f"the answer for {name!r} is NaN: give a number")
    return value


def _uses_of_each(root: Value) -> dict[Value, list[_Use]]:
    """For each node, the edges into it: who uses it, with which local derivative."""
    found: dict[Value, list[_Use]] = {}
    for parent in topological_order(root, leaves=False):
        for index, (child, local) in enumerate(zip(parent.inputs, parent.local_grads)):
            if child.requires_grad:
                found.setdefault(child, []).append(_Use(parent, local, index))
    return found


def _alternatives(use: _Use, child: Value) -> dict[str, float]:
    """The local derivative of one edge under each mistake that can be made on it."""
    op, parent = use.parent.op.name, use.parent  # type: ignore[union-attr]
    found: dict[str, float] = {}
    if op in _WRONG_POINT:
        with contextlib.suppress(ArithmeticError, ValueError):
            found["wrong_point"] = _WRONG_POINT[op](child.data, parent.data)
    if op in ("-", "neg", "/"):
        found["sign"] = -use.local
    if op == "*":
        found["swapped_operand"] = child.data
    return found


def _candidates(uses: list[_Use], upstream: list[float], child: Value) -> dict[str, list[float]]:
    """What a learner gets for ``child`` under each mistake, from the upstream gradients they
    gave the nodes using it (in the order of ``uses``)."""
    terms = [u.local * g for u, g in zip(uses, upstream)]
    found: dict[str, list[float]] = {code: [] for code in DIAGNOSES}
    if len(terms) > 1:
        for size in range(1, len(terms)):
            for subset in itertools.islice(itertools.combinations(terms, size), 256):
                found["used_twice"].append(math.fsum(subset))
        found["used_twice"].append(math.prod(terms))
    locals_ = [u.local for u in uses]
    found["upstream_missing"].append(math.fsum(locals_))
    if len(locals_) > 1:
        found["upstream_missing"].extend(locals_)
    for k, use in enumerate(uses):
        for code, local in _alternatives(use, child).items():
            found[code].append(math.fsum([*terms[:k], local * upstream[k], *terms[k + 1 :]]))
    return found


def _close(given: float, expected: float, rtol: float, atol: float) -> bool:
    if math.isinf(expected) or math.isinf(given):
        return given == expected
    return abs(given - expected) <= atol + rtol * abs(expected)


def _diagnose(
    answer: float, expected: float, found: dict[str, list[float]], rtol: float, atol: float
) -> str:
    """The first code of :data:`DIAGNOSES` whose recomputation gives ``answer``, or "other"."""
    for code, values in found.items():
        for v in values:
            if _close(answer, v, rtol, atol) and not _close(v, expected, rtol, atol):
                return code
    return "other"


_ADVICE = {
    "used_twice": "{name} is used {k} times: its gradient is the sum of all {k} contributions",
    "upstream_missing": "multiply each local derivative by the gradient of the node using it "
    "(the chain rule: upstream × local)",
    "wrong_point": "take the local derivative at the right point: tanh' = 1 - out², "
    "sigmoid' = out(1 - out), exp' = out, sqrt' = 1/(2·out), where out is the op's result; "
    "log' = 1/x, sin' = cos x, cos' = -sin x, softplus' = sigmoid(x) at its input x",
    "sign": "mind the sign: ∂(x - y)/∂y = -1, ∂(-x)/∂x = -1, ∂(x/y)/∂y = -x/y²",
    "swapped_operand": "∂(a·b)/∂a is the other factor, b (not a)",
    "other": "none of the known mistakes gives this number: redo the step",
    "missing": "not answered",
}


def _arithmetic(name: str, root: str, uses: list[_Use], upstream: Mapping[Value, float],
                named: Mapping[Value, str]) -> str:  # fmt: skip
    """The right step for one node, e.g. ``dL/da = dL/dc · ∂c/∂a = -2 · 3 = -6``."""
    symbols = " + ".join(f"d{root}/d{named[u.parent]} · ∂{named[u.parent]}/∂{name}" for u in uses)
    values = " + ".join(f"{upstream[u.parent]:.4g} · {u.local:.4g}" for u in uses)
    total = math.fsum(upstream[u.parent] * u.local for u in uses)
    return f"d{root}/d{name} = {symbols} = {values} = {total:.4g}"


def check(
    root: Value, answers: Mapping[Any, Any], *, rtol: float = RTOL, atol: float = ATOL
) -> Report:
    """Grade a learner's gradients ``answers`` (a dict from nodes, as Values or labels, to
    ``dL/dnode`` numbers; None or absent: not answered) against the backward pass from ``root``.

    Every node that requires grad is asked for, except the root (its ``dL/dL = 1`` may be
    given). An answer is right within ``atol + rtol·|expected|``. A wrong one is diagnosed as
    the module explains: ``follows_earlier`` (naming where the error started) when it is right
    from the learner's own upstream answers, else the first :data:`DIAGNOSES` mistake that
    gives it. No ``.grad`` changes.

    Raises:
        KeyError: for a label no node has.
        ValueError: for a Value not in the graph, a constant, an ambiguous label, NaN.
        TypeError: for an answer that is not a number (or None).

    >>> from autograd_lite import Value
    >>> x = Value(3.0, label="x")
    >>> L = x * x; L.label = "L"
    >>> check(L, {"x": 3.0}).mistakes[0].diagnosis    # one of the two uses of x
    'used_twice'
    """
    if not isinstance(root, Value):
        raise TypeError(f"check takes a Value, got {type(root).__name__}")
    given, named, uses = _lookup(root, answers), names(root), _uses_of_each(root)
    truth = reverse_sweep(root) if root.requires_grad else {}
    root_name = root.label or "L"
    grading = _Grading(named, root_name, truth, rtol, atol, {root: 1.0})
    learner, origins = grading.learner, grading.origins
    rows: list[tuple[str, float | None, float, str]] = []
    mistakes: list[Mistake] = []
    if given.get(root) is not None:
        learner[root] = given[root]  # type: ignore[assignment]
        verdict = "right" if _close(learner[root], 1.0, rtol, atol) else "other"
        rows.append((named[root], given[root], 1.0, verdict))
        if verdict != "right":
            origins[root] = root
            message = f"d{root_name}/d{root_name} = 1: the root's gradient with respect to itself"
            mistakes.append(Mistake(root, named[root], given[root], 1.0, "other", message))
    for node in _asked(root):
        answer, expected = given.get(node), truth[node]
        learner[node] = expected if answer is None else answer
        verdict, mistake = _judge(node, answer, expected, uses[node], grading)
        rows.append((named[node], answer, expected, verdict))
        if mistake is not None:
            mistakes.append(mistake)
    return Report(rows, mistakes, rtol, atol)


@dataclass
class _Grading:
    """What judging a node needs: the names, the truth, the learner's own gradients so far
    (their answers, or the truth where they gave none) and where each error started."""

    named: Mapping[Value, str]
    root_name: str
    truth: Mapping[Value, float]
    rtol: float
    atol: float
    learner: dict[Value, float] = field(default_factory=dict)
    origins: dict[Value, Value] = field(default_factory=dict)


def _judge(
    node: Value, answer: float | None, expected: float, uses: list[_Use], grading: _Grading
) -> tuple[str, Mistake | None]:
    """One node's verdict and, when it is wrong or missing, its :class:`Mistake`."""
    named, root_name, truth = grading.named, grading.root_name, grading.truth
    rtol, atol, learner, origins = grading.rtol, grading.atol, grading.learner, grading.origins
    name = named[node]
    right = _arithmetic(name, root_name, uses, truth, named)
    if answer is None:
        return "missing", Mistake(node, name, None, expected, "missing", f"not answered; {right}")
    if _close(answer, expected, rtol, atol):
        return "right", None
    upstream = [learner[u.parent] for u in uses]
    own = math.fsum(u.local * g for u, g in zip(uses, upstream))
    origin: Value | None = None
    if _close(answer, own, rtol, atol) and not _close(own, expected, rtol, atol):
        code = "follows_earlier"
        origin = next((origins[u.parent] for u in uses if u.parent in origins), None)
        where = named[origin] if origin is not None else "a node above"
        advice = f"right from your own upstream gradients: the error started at {where}"
    else:
        code = _diagnose(answer, expected, _candidates(uses, upstream, node), rtol, atol)
        advice = _ADVICE[code].format(name=name, k=len(uses))
    origins[node] = origin if origin is not None else node
    if code == "follows_earlier":
        message = f"{advice} ({_arithmetic(name, root_name, uses, learner, named)})"
    else:
        message = f"{advice}. The right step: {right}"
    verdict = code.replace("_", " ")
    return f"wrong: {verdict}", Mistake(node, name, answer, expected, code, message, origin)


@dataclass(frozen=True)
class RuleReport:
    """What :func:`check_rule` found: the worst input, the derivative given and the central
    finite difference there, and how many points were checked."""

    ok: bool
    worst: float
    given: float
    expected: float
    points: int
    rtol: float
    atol: float

    def __str__(self) -> str:
        verdict = "right" if self.ok else "wrong"
        return (
            f"derivative {verdict} (checked at {self.points} points, within {self.atol:g} + "
            f"{self.rtol:g}·|expected|); worst at x = {self.worst:.6g}: given {self.given:.6g}, "
            f"finite differences {self.expected:.6g}"
        )

    __repr__ = __str__

    def assert_correct(self) -> None:
        """Raise ``AssertionError`` with the report when the derivative is wrong anywhere."""
        if not self.ok:
            raise AssertionError(str(self))


def check_rule(
    forward: Callable[[float], float],
    derivative: Callable[[float], float],
    domain: tuple[float, float] = (-3.0, 3.0),
    *,
    points: int = 101,
    rtol: float = 1e-5,
    atol: float = 1e-6,
) -> RuleReport:
    """Check a learner's ``derivative(x)`` of ``forward(x)`` (both on floats) against central
    finite differences ``(f(x+h) - f(x-h)) / 2h``, ``h = 1e-5·max(1, |x|)``, at ``points``
    evenly spaced inputs of ``domain = (lo, hi)``: right within ``atol + rtol·|expected|``
    everywhere. Inputs where ``forward`` fails or is not finite are skipped. ``.worst`` is
    the input where the derivative is furthest off, in units of the tolerance.

    >>> import math
    >>> check_rule(math.tanh, lambda x: 1 - math.tanh(x) ** 2).ok
    True
    >>> report = check_rule(math.tanh, lambda x: 1 - x**2)    # at the wrong point
    >>> report.ok, report.worst
    (False, -3.0)
    """
    lo, hi = (float(end) for end in domain)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
        raise ValueError(f"domain must be (lo, hi) with finite lo <= hi, got {domain!r}")
    if not isinstance(points, int) or points < 2:
        raise ValueError(f"points must be an int of at least 2, got {points!r}")
    worst: tuple[float, float, float, float] | None = None  # (score, x, given, expected)
    checked = 0
    for k in range(points):
        x = lo + (hi - lo) * k / (points - 1)
        h = 1e-5 * max(1.0, abs(x))
        try:
            expected = (forward(x + h) - forward(x - h)) / (2 * h)
        except (ArithmeticError, ValueError):
            continue
        if not math.isfinite(expected):
            continue
        given = float(derivative(x))
        score = abs(given - expected) / (atol + rtol * abs(expected))
        score = math.inf if math.isnan(score) else score
        checked += 1
        if worst is None or score > worst[0]:
            worst = (score, x, given, expected)
    if worst is None:
        raise ValueError(f"forward has no finite value to check on {domain!r}")
    score, x, given, expected = worst
    return RuleReport(score <= 1.0, x, given, expected, checked, rtol, atol)


@dataclass(repr=False)
class ChainRule:
    r"""∂root/∂x written out by :func:`chain_rule`: ``terms`` holds, per path from the root
    down to ``x``, its edges ``(node, input, ∂node/∂input)``; ``value`` is their sum of
    products (what ``backward()`` gives ``x``). ``collapsed`` is True when there were more
    than ``max_paths`` paths and the sum is over ``x``'s own uses instead (upstream × local)."""

    root: Value
    x: Value
    terms: list[list[tuple[Value, Value, float]]]
    value: float
    paths: int
    collapsed: bool = False
    upstream: dict[Value, float] = field(default_factory=dict)
    digits: int = 4

    def _name(self, value: Value) -> str:
        return tex_name(self._names[value])

    @property
    def _names(self) -> dict[Value, str]:
        return names(self.root)

    def symbolic(self) -> str:
        """The sum of products of partial derivatives, as LaTeX."""
        named, top = self._names, tex_name(self._names[self.root] if self.root.label else "L")
        if self.x is self.root:
            return "1"
        parts = []
        for path in self.terms:
            factors = [
                rf"\frac{{\partial {tex_name(named[a])}}}{{\partial {tex_name(named[b])}}}"
                for a, b, _ in path
            ]
            if self.collapsed:
                parent = tex_name(named[path[0][0]])
                factors[0] = rf"\frac{{\partial {top}}}{{\partial {parent}}} \cdot " + factors[0]
            parts.append(" \\cdot ".join(factors))
        return " + ".join(parts)

    def numeric(self) -> str:
        """The same sum with the numbers plugged in, as LaTeX."""
        if self.x is self.root:
            return "1"
        parts = []
        for path in self.terms:
            numbers_ = [tex_number(local, self.digits, True) for _, _, local in path]
            if self.collapsed:
                numbers_.insert(0, tex_number(self.upstream[path[0][0]], self.digits, True))
            parts.append(" \\cdot ".join(numbers_))
        return " + ".join(parts)

    def latex(self) -> str:
        """``∂L/∂x = symbols = numbers = value``, an ``aligned`` block of three lines."""
        top = tex_name(self._names[self.root] if self.root.label else "L")
        left = rf"\frac{{\partial {top}}}{{\partial {self._name(self.x)}}}"
        return (
            f"\\begin{{aligned}}\n{left} &= {self.symbolic()} \\\\\n&= {self.numeric()} \\\\\n"
            f"&= {tex_number(self.value, self.digits)}\n\\end{{aligned}}"
        )

    def _repr_latex_(self) -> str:
        return f"$${self.latex()}$$"

    def __str__(self) -> str:
        return self.latex()

    def __repr__(self) -> str:
        top, x = self._names[self.root], self._names[self.x]
        form = ", collapsed" if self.collapsed else ""
        return f"<ChainRule ∂{top}/∂{x} = {self.value:.6g}: {self.paths} paths{form}>"


def _path_counts(root: Value, x: Value) -> dict[Value, int]:
    """For each node between ``root`` and ``x``, the number of paths from it down to ``x``
    (an input used twice counts twice)."""
    counts = {x: 1}
    for node in topological_order(root, leaves=False):
        total = sum(counts.get(child, 0) for child in node.inputs if child.requires_grad)
        if total and node is not x:
            counts[node] = total
    return counts


def chain_rule(root: Value, x: Value, *, max_paths: int = 64, digits: int = 4) -> ChainRule:
    r"""∂root/∂x as the sum over the paths from ``root`` down to ``x`` of the product of the
    local derivatives on each path's edges, symbolically and with the numbers, as LaTeX.

    A graph can have exponentially many paths (``x = x * x`` thirty times has 2³⁰): past
    ``max_paths`` the sum is written collapsed, over ``x``'s own uses, as upstream × local
    (``collapsed`` is then True). ``value`` equals what ``backward()`` gives ``x``. In Jupyter
    the object shows as typeset maths.

    Raises:
        ValueError: when ``root`` does not depend on ``x`` through a gradient.

    >>> from autograd_lite import Value
    >>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    >>> c = a * b; c.label = "c"
    >>> L = c + a; L.label = "L"
    >>> rule = chain_rule(L, a)
    >>> rule.value, rule.paths
    (-2.0, 2)
    >>> print(rule.numeric())
    1 \cdot (-3) + 1
    """
    if not isinstance(root, Value) or not isinstance(x, Value):
        raise TypeError("chain_rule takes two Values: the root and the node to differentiate by")
    if not isinstance(max_paths, int) or max_paths < 1:
        raise ValueError(f"max_paths must be a positive int, got {max_paths!r}")
    counts = _path_counts(root, x) if root.requires_grad and x.requires_grad else {}
    if root not in counts:
        raise ValueError(f"{names(root)[root]!r} does not depend on {x!r} through a gradient")
    if x is root:
        return ChainRule(root, x, [], 1.0, 1, digits=digits)
    if counts[root] > max_paths:
        grads = reverse_sweep(root)
        uses = _uses_of_each(root)[x]
        terms = [[(u.parent, x, u.local)] for u in uses]
        value = math.fsum(grads[u.parent] * u.local for u in uses)
        upstream = {u.parent: grads[u.parent] for u in uses}
        return ChainRule(root, x, terms, value, counts[root], True, upstream, digits)
    paths: list[list[tuple[Value, Value, float]]] = []
    stack: list[tuple[Value, list[tuple[Value, Value, float]]]] = [(root, [])]
    while stack:  # depth first, without recursion; at most max_paths paths reach x
        node, path = stack.pop()
        if node is x:
            paths.append(path)
            continue
        edges = list(zip(node.inputs, node.local_grads))
        for child, local in reversed(edges):
            if child in counts:
                stack.append((child, [*path, (node, child, local)]))
    value = math.fsum(math.prod(local for *_, local in path) for path in paths)
    return ChainRule(root, x, paths, value, counts[root], digits=digits)
