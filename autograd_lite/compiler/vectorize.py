"""The vectorising pass: a traced per-example graph, regrouped into array operations.

One example of a network is a graph of scalars, but not just any graph: a layer is ``nout``
chains of ``b + w0*x0 + w1*x1 + …`` that read the same inputs, followed by the same
activation. That is a matrix product written out in scalars. This pass finds it, in the
spirit of superword-level parallelism and loop rerolling:

- ``+`` chains are flattened into n-ary sums. A sum of products ``w_j * u_j`` (``w_j`` a
  parameter, ``u_j`` a node) plus optional bias parameters is a *dot*; dots over the same
  ordered ``u`` become one matrix product ``U @ W.T + b``.
- The same primitive applied across aligned elements of groups (or a group and a shared
  scalar, a parameter, a constant) becomes one array operation, and a sum over the elements
  of a group becomes a reduction. Groups are found by list scheduling: among the nodes whose
  inputs are ready, all those with the same operation and the same sources are emitted as one.
- What does not group stays a scalar column (one line per node, as compiled code does
  today), in the same program, and exact.

Before grouping, ``x * 1`` is read as ``x``, an operation repeated after the model (a loss
traced once per class repeats its softmax) is computed once, and the running maximum that
``log_softmax`` writes as ``s + relu(u - s)`` is one reduction, ``U.max(1)``.

The backward pass of the grouped program runs over the grouped operations in reverse. The
elementwise partials come from the op table's own rules, written as code by the compiler's
code-writing namespace and run over NumPy arrays; the matrix rules are the only new
derivatives, transposes written once: ``dU = dZ @ W``, ``dW = dZᵀ @ U`` (summed over the
batch), ``db = Σ dZ``.

A batch is the rows of ``X`` (B, nin); a group is a (B, k) array, a scalar node a (B,)
column. Parameters come in as one flat float64 vector θ in ``params`` order and the
gradient (summed over the batch) goes out the same way.

>>> from autograd_lite import nn
>>> from autograd_lite.losses import mse_loss
>>> layer = nn.Linear(3, 2, seed=0)
>>> program = vectorize_loss(layer, lambda o, t: mse_loss(o[0][0], t[0]), [1.0, 2.0, 3.0])
>>> print("\\n".join(line for line in program.source.splitlines() if " @ " in line))
    z0 = x @ W0.T + b0  # Linear
    d_W0 = d_z0.T @ x  # ∂L/∂W of Linear: δᵀ·x
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from ..engine import Value, topological_order
from ..functional import inside_transform
from ..grad_mode import TraceError, gc_paused, tracing
from ..losses import OBJECTIVES, Objective
from ..ops import ADD, DIV, MUL, RELU, SUB
from .arrays import array_form, numpy
from .terms import CODE_MATH, Term, make
from .writer import _literal, _Writer

__all__ = ["VectorProgram", "decisions", "vectorize", "vectorize_loss"]

# An atom says where one scalar of the program lives:
#   ("g", item, column)  a column of a group item, ("s", item) a scalar item,
#   ("p", index)         the parameter theta[index], ("c", value) a constant.
Atom = tuple[Any, ...]

_RESERVED = (
    "x", "t", "label", "theta", "B", "rows", "grad", "loss", "out", "L", "d_L", "d_loss",
    "zeros", "ones", "arange", "concatenate", "broadcast_to", "add_at", "strided", "np",
)  # fmt: skip


class _Item:
    """One line of the grouped program: a group (B, width) or a scalar column (B,)."""

    __slots__ = ("index", "kind", "members", "name", "needs_grad", "op", "operands", "width")

    def __init__(self, index: int, kind: str, members: list[Value], width: int | None) -> None:
        self.index = index
        self.kind = kind  # "input", "target", "op", "dot", "sum"
        self.members = members
        self.width = width  # None for a scalar column
        self.name = ""
        self.needs_grad = False
        self.op: Any = None
        self.operands: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"<{self.kind} {self.name} width={self.width}>"


class _Params:
    """A gather of parameters from θ: a vector (k,) or matrix (k, n) of indices, written as
    a view of θ (a slice, a reshape) where the layout allows and a fancy index otherwise."""

    def __init__(self, indices: Any, size: int, np: Any) -> None:
        self.np = np
        self.indices = np.asarray(indices, dtype=np.intp)
        self.size = size
        self.unique = len(np.unique(self.indices)) == self.indices.size
        self.flat: str | None = None  # a slice of θ that is the whole gather, reshaped
        self.name = ""
        self.grad_name = ""
        self.view = self._view()
        self.fancy = ""  # the global name of the index array, if a fancy gather

    def _view(self) -> Callable[[str], str] | None:
        np, idx = self.np, self.indices
        if idx.ndim == 1:
            k, base = idx.size, int(idx[0])
            step = int(idx[1] - idx[0]) if k > 1 else 1
            if step < 1 or not np.array_equal(idx, base + step * np.arange(k)):
                return None
            stop = base + (k - 1) * step + 1
            if step == 1:
                return lambda a: f"{a}[{base}:{stop}]"
            return lambda a: f"{a}[{base}:{stop}:{step}]"
        k, n = idx.shape
        base = int(idx[0, 0])
        s0 = int(idx[1, 0] - idx[0, 0]) if k > 1 else n
        expected = base + s0 * np.arange(k)[:, None] + np.arange(n)[None, :]
        if s0 < n or not np.array_equal(idx, expected):
            return None
        if s0 == n:
            self.flat = f"{base}:{base + k * n}"
            return lambda a: f"{a}[{base}:{base + k * n}].reshape({k}, {n})"
        if base + k * s0 <= self.size:
            return lambda a: f"{a}[{base}:{base + k * s0}].reshape({k}, {s0})[:, :{n}]"
        return None

    def read(self) -> str:
        return self.view("theta") if self.view is not None else f"theta[{self.fancy}]"

    def scatter(self, value: str) -> str:
        if self.view is not None and self.flat is not None:
            return f"grad[{self.flat}] += {value}.ravel()"
        if self.view is not None:
            return f"{self.view('grad')} += {value}"
        if self.unique:
            return f"grad[{self.fancy}] += {value}"
        return f"add_at(grad, {self.fancy}, {value})"


def _runs(cols: list[int]) -> str | None:
    """``cols`` as a slice (``a:b`` or ``a:b:s``), or None if it is no progression."""
    if not cols:
        return None
    if len(cols) == 1:
        return f"{cols[0]}:{cols[0] + 1}"
    step = cols[1] - cols[0]
    if step < 1 or any(cols[i] != cols[0] + i * step for i in range(len(cols))):
        return None
    stop = cols[-1] + 1
    return f"{cols[0]}:{stop}" if step == 1 else f"{cols[0]}:{stop}:{step}"


class _Builder:
    """Finds the groups of one traced graph and writes the grouped program."""

    def __init__(
        self,
        np: Any,
        params: Sequence[Value],
        inputs: list[Value],
        target: Value | None,
        losses: list[Any],
        outputs: list[Any],
        layer_names: Callable[[list[int]], str],
    ) -> None:
        self.np = np
        self.params = list(params)
        self.param_index: dict[Value, int] = {}
        for i, p in enumerate(self.params):
            self.param_index.setdefault(p, i)
        self.inputs = inputs
        self.target = target
        self.losses = losses  # Values or numbers
        self.outputs = outputs
        self.layer_names = layer_names
        self.items: list[_Item] = []
        self.where: dict[Value, tuple[_Item, int]] = {}
        self.alias: dict[Value, Value] = {}
        self.spec: dict[Value, tuple[Any, ...]] = {}
        self.counter = itertools.count()
        self.dots = 0
        self.grouped = 0  # how many items have a width (groups and matrix products)

    # --- reading the graph --------------------------------------------------------------

    def resolve(self, v: Any) -> Any:
        while v in self.alias:
            v = self.alias[v]
        return v

    def analyse(self) -> None:
        """Aliases, chains, dots and sums: what each remaining node computes."""
        roots = [v for v in [*self.losses, *self.outputs] if isinstance(v, Value)]
        self.order = topological_order(roots)
        self.pos = {v: i for i, v in enumerate(self.order)}
        self.place_inputs()
        args = self.args = self.fold()
        uses: dict[Value, int] = Counter(itertools.chain.from_iterable(args.values()))
        for v in roots:
            v = self.resolve(v)
            uses[v] = uses.get(v, 0) + 2  # an output is never absorbed into a chain
        absorbed: set[Value] = set()
        maxima = self.maxima(uses, absorbed)
        self.find_sums(uses, maxima, absorbed)
        self.candidates = [v for v in args if v not in absorbed and v not in self.where]
        for v in self.candidates:
            if v not in self.spec:
                self.spec[v] = ("op", v._op, list(args[v]))

    def place_inputs(self) -> None:
        """The items every program starts from: the row ``x``, a group with one column per
        input, and the target ``t`` (a scalar) when the loss takes one."""
        x = _Item(next(self.counter), "input", list(self.inputs), len(self.inputs))
        x.name = "x"
        self.items.append(x)
        for j, v in enumerate(self.inputs):
            self.where[v] = (x, j)
        if self.target is not None:
            t = _Item(next(self.counter), "target", [self.target], None)
            t.name = "t"
            self.items.append(t)
            self.where[self.target] = (t, -1)

    def fold(self) -> dict[Value, tuple[Value, ...]]:
        """Each operation's inputs with aliases resolved, in graph order, for the operations
        that remain: ``x * 1`` and ``x / 1`` are aliases of x, and an operation of the losses
        seen before (the same primitive on the same inputs) is an alias of the first (a
        common subexpression). Written out for speed: a layer of 784 × 128 weights is
        200,000 nodes."""
        params, where, alias = self.param_index, self.where, self.alias
        special: set[Value] = {*params, *where}
        args: dict[Value, tuple[Value, ...]] = {}
        seen: dict[tuple[Any, ...], Value] = {}
        # The model's own nodes are not looked for twice (a model rarely computes anything
        # twice, and this loop meets 200,000 of them); the losses' are, as a loss traced once
        # per class repeats its softmax.
        model_end = max((v._stamp for v in self.outputs if isinstance(v, Value)), default=0)
        for v in self.order:
            op = v._op
            if op is None:
                continue
            a: Value = v._a  # type: ignore[assignment]
            a = alias.get(a, a)
            b = v._b
            if b is None:
                ins: tuple[Value, ...] = (a,)
            else:
                b = alias.get(b, b)
                ins = (a, b)
                if op is MUL or op is DIV:
                    if b._op is None and b.data == 1.0 and b not in special:
                        alias[v] = a
                        continue
                    if op is MUL and a._op is None and a.data == 1.0 and a not in special:
                        alias[v] = b
                        continue
            if v._stamp > model_end:
                key = (
                    op,
                    *(u if u._op is not None or u in special else _exact(u.data) for u in ins),
                )
                first = seen.setdefault(key, v)
                if first is not v:
                    alias[v] = first
                    continue
            args[v] = ins
        return args

    def find_sums(self, uses: dict[Value, int], maxima: set[Value], absorbed: set[Value]) -> None:
        """Chains of ``+`` read as n-ary sums: a *dot* when two or more of the terms are a
        parameter times a node or an input (the chain's nodes and those products are then
        absorbed), a plain sum when there are three terms or more, else left as they are."""
        args = self.args
        adds = [v for v in args if v._op is ADD and v not in maxima]
        summed = {u for v in adds for u in args[v] if u._op is ADD and u not in maxima}
        interior = {u for u in summed if uses[u] == 1}
        column = {v: j for j, v in enumerate(self.inputs)}
        pos = self.pos

        def place(u: Value) -> tuple[int, int]:
            return (0, column[u]) if u in column else (1, pos[u])

        for v in adds:
            if v in interior:
                continue
            terms, inside = self.chain_terms(v, interior)
            products, biases, const, others = self.split_terms(terms, uses)
            if len(products) == 1:  # w * u (+ b): elementwise, it groups across lanes as such
                others.append(products.pop()[2])
            if products:
                products.sort(key=lambda p: place(p[0]))
                absorbed.update(inside)
                absorbed.update(p[2] for p in products)
                us = tuple(p[0] for p in products)
                ws = [p[1] for p in products]
                self.spec[v] = ("dot", us, ws, biases, const, others)
            elif len(terms) >= 3:
                absorbed.update(inside)
                self.spec[v] = ("sum", terms)

    def chain_terms(self, v: Value, interior: set[Value]) -> tuple[list[Value], list[Value]]:
        """The terms of the ``+`` chain ending at ``v``, left to right, and the chain's own
        interior additions (used once each, so the sum can stand for them)."""
        args = self.args
        terms: list[Value] = []
        inside: list[Value] = []
        stack = list(reversed(args[v]))
        while stack:
            u = stack.pop()
            if u in interior:
                inside.append(u)
                ab = args[u]
                stack.append(ab[-1])
                stack.append(ab[0])
            else:
                terms.append(u)
        return terms, inside

    def split_terms(
        self, terms: list[Value], uses: dict[Value, int]
    ) -> tuple[list[tuple[Value, int, Value]], list[int], float, list[Value]]:
        """A sum's terms sorted by kind: the products ``w * u`` of a parameter and a node or
        an input, used only here, as (u, θ index of w, the ``*`` node); the bias parameters'
        θ indices; the constants, added up; and the other terms."""
        params, where, args = self.param_index, self.where, self.args
        products: list[tuple[Value, int, Value]] = []
        biases: list[int] = []
        const = 0.0
        others: list[Value] = []
        for term in terms:
            if term._op is None:
                if term in params:
                    biases.append(params[term])
                elif term in where:
                    others.append(term)
                else:
                    const += term.data
                continue
            if term._op is MUL and uses[term] == 1:
                fa, fb = args[term]
                if fa._op is None and fa in params and (fb._op is not None or fb in where):
                    products.append((fb, params[fa], term))
                    continue
                if fb._op is None and fb in params and (fa._op is not None or fa in where):
                    products.append((fa, params[fb], term))
                    continue
            others.append(term)
        return products, biases, const, others

    def maxima(self, uses: dict[Value, int], absorbed: set[Value]) -> set[Value]:
        """Chains of ``s = s + relu(u - s)``, the running maximum as ``log_softmax`` writes
        it, as one reduction over their terms: ``U.max(1)``, whose gradient goes to the
        first largest term, as the chain's own gradient does."""
        args = self.args
        steps: dict[Value, tuple[Value, Value, Value, Value]] = {}  # s -> (a, u, relu, sub)
        for v, ins in args.items():
            if v._op is not ADD:
                continue
            for a, r in (ins, ins[::-1]):
                if r._op is RELU and uses[r] == 1:
                    d = args[r][0]
                    if d._op is SUB and uses[d] == 1 and args[d][1] is a:
                        steps[v] = (a, args[d][0], r, d)
                        break
        inside = {s[0] for s in steps.values() if s[0] in steps and uses[s[0]] == 2}
        for v in steps:
            if v in inside:
                continue
            terms: list[Value] = []
            node = v
            while True:
                a, u, r, d = steps[node]
                terms.append(u)
                absorbed.update((r, d))
                if a not in inside:
                    break
                absorbed.add(a)
                node = a
            terms.append(a)
            self.spec[v] = ("max", terms[::-1])
        return set(steps)

    def dependencies(self, v: Value) -> list[Value]:
        spec = self.spec[v]
        if spec[0] == "dot":
            nodes = [*spec[1], *spec[5]]
        elif spec[0] in ("sum", "max"):
            nodes = spec[1]
        else:
            nodes = spec[2]
        return [u for u in dict.fromkeys(nodes) if u._op is not None and u not in self.where]

    # --- grouping: list scheduling by signature ---------------------------------------------

    def atom(self, v: Any) -> Atom:
        if not isinstance(v, Value):
            return ("c", float(v))
        v = self.resolve(v)
        if v in self.where:
            item, col = self.where[v]
            return ("g", item, col) if item.width is not None else ("s", item)
        if v._op is None:
            return ("p", self.param_index[v]) if v in self.param_index else ("c", v.data)
        raise AssertionError("a node was read before it was computed")  # pragma: no cover

    @staticmethod
    def describe(atom: Atom) -> tuple[Any, ...]:
        """What must agree for atoms to line up in one operand: the kind and the source."""
        kind = atom[0]
        return (kind, atom[1].index) if kind in ("g", "s") else (kind,)

    @staticmethod
    def order_key(atom: Atom) -> tuple[Any, ...]:
        kind = atom[0]
        if kind == "g":
            return (0, atom[1].index, atom[2])
        if kind == "s":
            return (1, atom[1].index, 0)
        if kind == "p":
            return (2, 0, atom[1])
        return (3, 0, 0)

    def signature(self, v: Value) -> tuple[Any, ...]:
        spec = self.spec[v]
        if spec[0] == "op":
            return ("op", spec[1], *(self.describe(self.atom(u)) for u in spec[2]))
        if spec[0] == "sum":
            atoms = sorted((self.atom(u) for u in spec[1]), key=self.order_key)
            return ("sum", tuple(self.describe(a) for a in atoms))
        if spec[0] == "max":
            return ("max", v)  # a maximum of its own
        extras = sorted((self.atom(u) for u in spec[5]), key=self.order_key)
        return ("dot", spec[1], len(spec[3]), tuple(self.describe(a) for a in extras))

    def schedule(self) -> None:
        waiting: dict[Value, list[Value]] = {}
        missing: dict[Value, int] = {}
        heap: list[int] = []
        ready: dict[tuple[Any, ...], list[Value]] = {}
        signature_of: dict[Value, tuple[Any, ...]] = {}

        def make_ready(v: Value) -> None:
            sig = self.signature(v)
            signature_of[v] = sig
            ready.setdefault(sig, []).append(v)
            heapq.heappush(heap, self.pos[v])

        for v in self.candidates:
            deps = self.dependencies(v)
            missing[v] = len(deps)
            for u in deps:
                waiting.setdefault(u, []).append(v)
            if not deps:
                make_ready(v)
        done: set[Value] = set()
        while heap:
            v = self.order[heapq.heappop(heap)]
            if v in done:
                continue
            members = sorted(ready.pop(signature_of[v]), key=self.pos.__getitem__)
            self.emit(members)
            done.update(members)
            for m in members:
                for u in waiting.get(m, ()):
                    missing[u] -= 1
                    if missing[u] == 0:
                        make_ready(u)
        if len(done) != len(self.candidates):  # pragma: no cover - a cycle cannot happen
            raise AssertionError("the grouped program lost a node")

    def emit(self, members: list[Value]) -> None:
        spec = self.spec[members[0]]
        kind = spec[0]
        k = len(members)
        item = _Item(next(self.counter), kind, members, None if k == 1 else k)
        if kind == "op":
            item.op = spec[1]
            item.operands["args"] = [
                [self.atom(self.spec[m][2][i]) for m in members] for i in range(len(spec[2]))
            ]
        elif kind == "max":
            item.operands["terms"] = [self.atom(u) for u in spec[1]]
        elif kind == "sum":
            rows = [
                sorted((self.atom(u) for u in self.spec[m][1]), key=self.order_key) for m in members
            ]
            item.operands["terms"] = [list(col) for col in zip(*rows)]
        else:
            us = spec[1]
            item.operands["U"] = [self.atom(u) for u in us]
            item.operands["W"] = [self.spec[m][2] for m in members]
            item.operands["b"] = [
                [self.spec[m][3][j] for m in members] for j in range(len(spec[3]))
            ]
            consts = [self.spec[m][4] for m in members]
            item.operands["c"] = consts if any(c != 0.0 for c in consts) else None
            rows = [
                sorted((self.atom(u) for u in self.spec[m][5]), key=self.order_key) for m in members
            ]
            item.operands["extras"] = [list(col) for col in zip(*rows)] if rows[0] else []
            self.dots += 1
        if item.width is not None:
            self.grouped += 1
        for col, m in enumerate(members):
            self.where[m] = (item, col if item.width is not None else -1)
        self.items.append(item)


# --- writing the program ------------------------------------------------------------------


class _Program:
    """Writes the forward and backward code of the items, in NumPy."""

    def __init__(self, b: _Builder, classes: Sequence[float] | None, gradient: bool) -> None:
        self.b = b
        self.np = b.np
        self.classes = classes
        self.gradient = gradient
        self.writer = _Writer("step")
        self.writer.taken.update(_RESERVED)
        self.globals: dict[str, Any] = {}
        self.lines: list[str] = []
        self.param_lines: list[str] = []
        self.gathers: dict[tuple[Any, ...], _Params] = {}
        self.texts: dict[int, str] = {}  # item index -> how the code reads it (its name)
        self.uses: dict[int, int] = {}
        self.reader: dict[int, _Item] = {}  # an item that reads it (the only one, if used once)
        self.fused: set[int] = set()
        self.layer_of: dict[int, str] = {}
        self.dot_count = 0

    # names ------------------------------------------------------------------------------

    def fresh(self, base: str) -> str:
        return self.writer.unique(base)

    def numbered(self, prefix: str) -> str:
        return self.writer.numbered(prefix)

    def constant_array(self, values: Any, prefix: str) -> str:
        name = self.numbered(prefix)
        self.globals[name] = values
        return name

    def gather(self, indices: Any, prefix: str, name: str = "") -> _Params:
        """The parameters at ``indices`` as a named array, gathered once at the top (named
        ``name``, or ``prefix`` and a number)."""
        array = self.np.asarray(indices, dtype=self.np.intp)
        key = (array.shape, array.tobytes())
        found = self.gathers.get(key)
        if found is None:
            found = _Params(array, len(self.b.params), self.np)
            if found.view is None:
                found.fancy = self.constant_array(found.indices, "I")
            found.name = self.fresh(name) if name else self.numbered(prefix)
            self.param_lines.append(f"    {found.name} = {found.read()}")
            self.gathers[key] = found
        return found

    # operands ----------------------------------------------------------------------------

    def read(self, atoms: list[Atom], group: bool, full: bool = False) -> tuple[str, str]:
        """How the code reads an operand: (text, kind) with kind "g", "s", "p", "c" or "mixed".
        In a group (``group``) the operand is (B, k) or broadcasts to it (exactly (B, k) if
        ``full``, as a matrix product needs); else (B,) or a number."""
        kinds = {a[0] for a in atoms}
        if full and kinds != {"g"}:
            return self.pieces_text(atoms), "mixed"
        first = atoms[0]
        if not group:
            kind = first[0]
            if kind == "g":
                return f"{self.texts[first[1].index]}[:, {first[2]}]", "g"
            if kind == "s":
                return self.texts[first[1].index], "s"
            if kind == "p":
                return f"theta[{first[1]}]", "p"
            return _literal(first[1]), "c"
        if len(kinds) == 1 and ("g" not in kinds or len({a[1].index for a in atoms}) == 1):
            kind = first[0]
            if kind == "g":
                item = first[1]
                cols = [a[2] for a in atoms]
                name = self.texts[item.index]
                if cols == list(range(item.width or 0)):
                    return name, "g"
                run = _runs(cols)
                if run is not None:
                    return f"{name}[:, {run}]", "g"
                return f"{name}[:, {self.constant_array(self.np.asarray(cols), 'I')}]", "g"
            if kind == "s":
                if len({a[1].index for a in atoms}) == 1:
                    return f"{self.texts[first[1].index]}[:, None]", "s"
            elif kind == "p":
                indices = [a[1] for a in atoms]
                if len(set(indices)) == 1:
                    return f"theta[{indices[0]}]", "p1"
                return self.gather(indices, "p").name, "p"
            elif kind == "c":
                values = [a[1] for a in atoms]
                if len(set(values)) == 1 and not math.isnan(values[0]):
                    return _literal(values[0]), "c"
                return self.constant_array(self.np.asarray(values, dtype=float), "C"), "c"
        return self.pieces_text(atoms), "mixed"

    def pieces(self, atoms: list[Atom]) -> list[tuple[int, int, Atom, list[int]]]:
        """Runs of consecutive atoms from one source: (start, stop, first atom, columns)."""
        found: list[tuple[int, int, Atom, list[int]]] = []
        start = 0
        while start < len(atoms):
            a = atoms[start]
            stop = start + 1
            if a[0] == "g":
                while stop < len(atoms) and atoms[stop][0] == "g" and atoms[stop][1] is a[1]:
                    stop += 1
                found.append((start, stop, a, [x[2] for x in atoms[start:stop]]))
            else:
                found.append((start, stop, a, []))
            start = stop
        return found

    def pieces_text(self, atoms: list[Atom]) -> str:
        parts = []
        for _, _, atom, cols in self.pieces(atoms):
            if atom[0] == "g":
                parts.append(self.read([(atom[0], atom[1], c) for c in cols], True)[0])
            else:
                text, _ = self.read([atom], False)
                parts.append(
                    f"broadcast_to({text}, (B,))[:, None]"
                    if atom[0] in "pc"
                    else f"{text}[:, None]"
                )
        return f"concatenate([{', '.join(parts)}], axis=1)"

    # the forward lines --------------------------------------------------------------------

    def count_uses(self) -> None:
        """How many items (and outputs) read each item."""
        for item in self.b.items:
            for source in {a[1].index for a in self.atoms_of(item) if a[0] in ("g", "s")}:
                self.uses[source] = self.uses.get(source, 0) + 1
                self.reader[source] = item
        for v in [*self.b.losses, *self.b.outputs]:
            atom = self.b.atom(v)
            if atom[0] in ("g", "s"):
                self.uses[atom[1].index] = self.uses.get(atom[1].index, 0) + 2

    @staticmethod
    def atoms_of(item: _Item) -> list[Atom]:
        ops = item.operands
        if item.kind == "op":
            return [a for atoms in ops["args"] for a in atoms]
        if item.kind == "sum":
            return [a for atoms in ops["terms"] for a in atoms]
        if item.kind == "dot":
            return [*ops["U"], *(a for atoms in ops["extras"] for a in atoms)]
        if item.kind == "max":
            return list(ops["terms"])
        return []

    def symbol(self, text: str) -> Term:
        term = Term("input")
        term.kind = "input"
        self.writer.names[term] = text
        return term

    def operand_symbol(self, text: str, kind: str, atoms: list[Atom]) -> Any:
        if kind == "c" and len({a[1] for a in atoms}) == 1:
            return atoms[0][1]  # a number: the rules fold it (x ** 2 never asks for log)
        return self.symbol(text)

    def forward(self) -> None:
        b = self.b
        self.count_uses()
        for item in b.items:
            if item.kind in ("input", "target"):
                self.texts[item.index] = item.name
                continue
            self.emit_item("forward", item)

    def emit_item(self, direction: str, item: _Item) -> None:
        """Emit ``item``'s ``direction`` ("forward" or "backward") code by its kind's method."""
        kind = item.kind if item.kind in ("dot", "max", "sum") else "op"
        getattr(self, f"{direction}_{kind}")(item)

    def layer(self, item: _Item) -> str:
        indices = [i for row in item.operands["W"] for i in row]
        indices += [i for row in item.operands["b"] for i in row]
        return self.b.layer_names(indices)

    def forward_dot(self, item: _Item) -> None:
        ops = item.operands
        number = self.dot_count
        self.dot_count += 1
        layer = self.layer(item)
        self.layer_of[item.index] = layer
        u_text, u_kind = self.read(ops["U"], True, full=True)
        if u_kind == "mixed":
            name = self.numbered("u")
            self.lines.append(f"    {name} = {u_text}  # the inputs of {layer or 'a product'}")
            u_text = name
        ops["U_text"] = u_text
        scalar = item.width is None
        W = self.gather(ops["W"][0] if scalar else ops["W"], "W", f"W{number}")
        ops["W_gather"] = W
        text = f"{u_text} @ {W.name}" if scalar else f"{u_text} @ {W.name}.T"
        biases = []
        for row in ops["b"]:
            if scalar:
                biases.append(("p1", f"theta[{row[0]}]", row))
            else:
                g = self.gather(row, "b", f"b{number}")
                biases.append(("p", g.name, g))
        ops["b_gathers"] = biases
        for _, name, _ in biases:
            text += f" + {name}"
        if ops["c"] is not None:
            if scalar:
                text += f" + {_literal(ops['c'][0])}"
            else:
                text += f" + {self.constant_array(self.np.asarray(ops['c'], dtype=float), 'C')}"
        extras = []
        for atoms in ops["extras"]:
            e_text, e_kind = self.read(atoms, not scalar)
            extras.append((e_text, e_kind, atoms))
            text += f" + {e_text}"
        ops["extras_read"] = extras
        item.name = self.fresh(f"z{number}")
        self.texts[item.index] = item.name
        item.needs_grad = True
        ops["expression"] = text
        fusable = self.fusion_target(item)
        if fusable is not None:
            self.fused.add(item.index)
            return
        self.lines.append(f"    {item.name} = {text}  # {layer or 'a matrix product'}")

    def fusion_target(self, item: _Item) -> _Item | None:
        """The activation that is the only reader of this product, if its derivative needs
        only its own output (relu, tanh, sigmoid, exp): then the product is not kept."""
        if self.uses.get(item.index, 0) != 1:
            return None
        other = self.reader[item.index]
        if other.kind != "op" or other.op.arity != 1 or other.op.name == "neg":
            return None
        atoms = other.operands["args"][0]
        if other.width != item.width:
            return None
        if item.width is not None and [a[2] for a in atoms] != list(range(item.width)):
            return None
        rule = other.op.partials[0]
        if callable(rule):
            probe, out = self.symbol("__in__"), self.symbol("__out__")
            if _mentions(rule(probe, out, CODE_MATH), probe):
                return None
        return other

    def read_named(self, atoms: list[Atom], group: bool) -> tuple[str, str]:
        """:meth:`read`, with a "mixed" read first bound to a fresh name ``u<n>``."""
        text, kind = self.read(atoms, group)
        if kind == "mixed":
            name = self.numbered("u")
            self.lines.append(f"    {name} = {text}")
            text = name
        return text, kind

    def forward_op(self, item: _Item) -> None:
        group = item.width is not None
        reads = []
        source = None
        for atoms in item.operands["args"]:
            text, kind = self.read_named(atoms, group)
            reads.append((text, kind, atoms))
            if atoms[0][0] in ("g", "s") and atoms[0][1].index in self.fused:
                source = atoms[0][1]
        item.operands["reads"] = reads
        symbols = [self.operand_symbol(t, k, a) for t, k, a in reads]
        if source is not None:  # h = relu(x @ W.T + b): the product read in place
            symbols = [self.symbol(source.operands["expression"])]
        expression = self.writer.expression(make(item.op, *symbols))
        row_dependent = any(k in ("g", "s", "mixed") for _, k, _ in reads)
        if not row_dependent:
            shape = "(B,)" if item.width is None else f"(B, {item.width})"
            expression = f"broadcast_to({expression}, {shape})"
        item.needs_grad = any(
            k in ("p", "p1")
            or (k in ("g", "s") and a[0][1].needs_grad)
            or (k == "mixed" and any(x[0] == "p" or (x[0] in "gs" and x[1].needs_grad) for x in a))
            for _, k, a in reads
        )
        if source is not None:
            number = source.name[1:]
            item.name = self.fresh(f"h{number}")
            comment = self.layer_of[source.index] or f"a matrix product, then {item.op.name}"
        else:
            item.name = self.numbered("g" if group else "v")
            comment = item.op.name
        self.texts[item.index] = item.name
        self.lines.append(f"    {item.name} = {expression}  # {comment}")

    def forward_max(self, item: _Item) -> None:
        atoms = item.operands["terms"]
        text, kind = self.read(atoms, True, full=True)
        if kind == "mixed":
            name = self.numbered("u")
            self.lines.append(f"    {name} = {text}")
            text = name
        item.operands["U_text"] = text
        item.needs_grad = any(a[0] == "p" or (a[0] in "gs" and a[1].needs_grad) for a in atoms)
        item.name = self.numbered("v")
        self.texts[item.index] = item.name
        self.lines.append(
            f"    {item.name} = {text}.max(1)  # the largest: s + relu(u - s), folded"
        )

    def forward_sum(self, item: _Item) -> None:
        group = item.width is not None
        reads: list[tuple[Any, ...]] = []
        parts = []
        if not group:
            by_source: dict[int, list[Atom]] = {}
            others = []
            for atoms in item.operands["terms"]:
                a = atoms[0]
                if a[0] == "g":
                    by_source.setdefault(a[1].index, []).append(a)
                else:
                    others.append(atoms)
            for atoms in list(by_source.values()):
                if len(atoms) == 1:
                    others.append(atoms)
                    continue
                g = atoms[0][1]
                cols = [a[2] for a in atoms]
                name = self.texts[g.index]
                if sorted(cols) == list(range(g.width or 0)):
                    parts.append(f"{name}.sum(1)")
                    reads.append(("reduce", name, g, None))
                else:
                    text, _ = self.read(atoms, True)
                    parts.append(f"{text}.sum(1)")
                    reads.append(("reduce", text, g, cols))
            for atoms in others:
                text, kind = self.read(atoms, False)
                parts.append(text)
                reads.append(("term", text, kind, atoms))
        else:
            for atoms in item.operands["terms"]:
                text, kind = self.read_named(atoms, True)
                parts.append(text)
                reads.append(("term", text, kind, atoms))
        item.operands["reads"] = reads
        item.needs_grad = any(
            (r[0] == "reduce" and r[2].needs_grad)
            or (
                r[0] == "term"
                and any(x[0] == "p" or (x[0] in "gs" and x[1].needs_grad) for x in r[3])
            )
            for r in reads
        )
        expression = " + ".join(parts)
        if not any(r[0] == "reduce" or r[2] in ("g", "s", "mixed") for r in reads):
            shape = "(B,)" if item.width is None else f"(B, {item.width})"
            expression = f"broadcast_to({expression}, {shape})"
        item.name = self.numbered("g" if group else "v")
        self.texts[item.index] = item.name
        self.lines.append(f"    {item.name} = {expression}  # Σ")

    # the backward lines -----------------------------------------------------------------

    def backward(self) -> list[str]:
        self.adjoint: dict[int, tuple[str, bool]] = {}  # item -> (name, owned)
        self.back: list[str] = []
        self.pack: list[str] = []
        b = self.b
        self.back.append("    grad = zeros(theta.shape[0])  # ∂loss/∂θ, summed over the rows")
        loss_atoms = [b.atom(v) for v in b.losses]
        if self.classes is not None:
            self.back.append("    d_L = zeros((B, L.shape[1]))")
            self.back.append("    d_L[rows, label] = 1.0  # ∂loss/∂L: each row's one-hot label")
            if len(loss_atoms) == 1:
                self.send(loss_atoms, "d_L[:, 0]", False, "the loss")
            else:
                self.send(loss_atoms, "d_L", True, "the loss of each class")
        else:
            self.back.append("    d_loss = ones(B)  # ∂loss/∂loss, one per row")
            self.send(loss_atoms, "d_loss", False, "the loss")
        for item in reversed(b.items):
            if item.index not in self.adjoint or item.kind in ("input", "target"):
                continue
            self.emit_item("backward", item)
        return self.back

    def accumulate(
        self, item: _Item, cols: list[int] | None, text: str, exact: bool, matrix: bool = False
    ) -> None:
        """Add ``text`` into the adjoint of ``item`` (its columns ``cols``, or all of it);
        ``matrix``: ``text`` has one column per entry of ``cols`` even when there is one."""
        if not item.needs_grad:
            return
        width = item.width
        full = cols is None or (width is not None and cols == list(range(width)))
        known = self.adjoint.get(item.index)
        name = known[0] if known else f"d_{item.name}"
        if full and exact:
            if known is None:
                self.back.append(f"    {name} = {text}")
                self.adjoint[item.index] = (name, not _is_name(text))
            elif known[1]:
                self.back.append(f"    {name} += {text}")
            else:
                self.back.append(f"    {name} = {name} + {text}")
                self.adjoint[item.index] = (name, True)
            return
        if known is None:
            shape = "B" if width is None else f"(B, {width})"
            self.back.append(f"    {name} = zeros({shape})")
        elif not known[1]:
            self.back.append(f"    {name} = {name}.copy()")
        self.adjoint[item.index] = (name, True)
        if full:
            self.back.append(f"    {name} += {text}")
        elif len(cols) == 1:  # type: ignore[arg-type]
            j = cols[0]  # type: ignore[index]
            self.back.append(f"    {name}[:, {f'{j}:{j + 1}' if matrix else j}] += {text}")
        elif len(set(cols)) == len(cols):  # type: ignore[arg-type]
            run = _runs(cols)  # type: ignore[arg-type]
            where = run if run is not None else self.constant_array(self.np.asarray(cols), "I")
            self.back.append(f"    {name}[:, {where}] += {text}")
        else:
            index = self.constant_array(self.np.asarray(cols), "I")
            self.back.append(f"    add_at({name}, (slice(None), {index}), {text})")

    def param_grad(self, gather: _Params, text: str) -> None:
        if not gather.grad_name:
            gather.grad_name = f"d_{gather.name}"
            self.back.append(f"    {gather.grad_name} = {text}")
            self.pack.append(f"    {gather.scatter(gather.grad_name)}")
        else:
            self.back.append(f"    {gather.grad_name} = {gather.grad_name} + {text}")

    def send(self, atoms: list[Atom], text: str, group: bool, what: str) -> None:
        """Route a contribution (B, k) — or (B,) outside a group — to the operand's sources."""
        kind = atoms[0][0]
        same = len({self.describe(a) for a in atoms}) == 1
        if not group:
            a = atoms[0]
            if kind == "g":
                self.accumulate(a[1], [a[2]], text, True)
            elif kind == "s":
                self.accumulate(a[1], None, text, True)
            elif kind == "p":
                self.back.append(f"    grad[{a[1]}] += {_paren(text)}.sum()")
            return
        if same and kind == "g":
            self.accumulate(atoms[0][1], [a[2] for a in atoms], text, True, matrix=True)
        elif same and kind == "s":
            self.accumulate(atoms[0][1], None, f"{_paren(text)}.sum(1)", True)
        elif same and kind == "p":
            indices = [a[1] for a in atoms]
            if len(set(indices)) == 1:
                self.back.append(f"    grad[{indices[0]}] += {_paren(text)}.sum()")
            else:
                self.param_grad(self.gather(indices, "p"), f"{_paren(text)}.sum(0)")
        elif same and kind == "c":
            return
        else:
            if not _is_name(text):
                name = self.numbered("d_u")
                self.back.append(f"    {name} = {text}  # into {what}, piece by piece")
                text = name
            for start, stop, atom, cols in self.pieces(atoms):
                if atom[0] == "g":
                    piece = f"{start}" if stop - start == 1 else f"{start}:{stop}"
                    self.accumulate(atom[1], cols, f"{text}[:, {piece}]", True)
                elif atom[0] == "s":
                    self.accumulate(atom[1], None, f"{text}[:, {start}]", True)
                elif atom[0] == "p":
                    self.back.append(f"    grad[{atom[1]}] += {text}[:, {start}].sum()")

    @staticmethod
    def describe(atom: Atom) -> tuple[Any, ...]:
        return _Builder.describe(atom)

    def backward_op(self, item: _Item) -> None:
        d_name = self.adjoint[item.index][0]
        group = item.width is not None
        reads = item.operands["reads"]
        symbols = [self.operand_symbol(t, k, a) for t, k, a in reads]
        out = self.symbol(item.name)
        d_out = self.symbol(d_name)
        fused = [a[0][1] for _, _, a in reads if a[0][0] in "gs" and a[0][1].index in self.fused]
        for i, (text, kind, atoms) in enumerate(reads):
            needs = kind in ("p", "p1") or any(
                x[0] == "p" or (x[0] in "gs" and x[1].needs_grad) for x in atoms
            )
            if not needs:
                continue
            rule = item.op.partials[i]
            local = rule if not callable(rule) else rule(*symbols, out, CODE_MATH)
            contribution = self.writer.expression(make(MUL, local, d_out))
            target = fused[0].name if fused else text
            note = (
                f"  # {item.op.name} edge {item.name} → {target}: ∂{item.name}/∂{target} · {d_name}"
            )
            start = len(self.back)
            if fused:
                self.accumulate(fused[0], None, contribution, True)
            else:
                self.send(atoms, contribution, group, item.name)
            if len(self.back) > start:
                self.back[-1] += note

    def backward_max(self, item: _Item) -> None:
        d_name = self.adjoint[item.index][0]
        atoms, U = item.operands["terms"], item.operands["U_text"]
        first = f"(arange({len(atoms)}) == {U}.argmax(1)[:, None]) * {d_name}[:, None]"
        start = len(self.back)
        self.send(atoms, first, True, item.name)
        if len(self.back) > start:
            self.back[-1] += f"  # max edge {item.name} → {U}: all of {d_name} to the first largest"

    def backward_sum(self, item: _Item) -> None:
        d_name = self.adjoint[item.index][0]
        group = item.width is not None
        for read in item.operands["reads"]:
            start = len(self.back)
            if read[0] == "reduce":
                _, _, g, cols = read
                self.accumulate(g, cols, f"{d_name}[:, None]", False)
            else:
                self.send(read[3], d_name, group, item.name)
            if len(self.back) > start:
                self.back[-1] += f"  # Σ edge {item.name} → its terms: 1 · {d_name}"

    def backward_dot(self, item: _Item) -> None:
        ops = item.operands
        d_name = self.adjoint[item.index][0]
        layer = self.layer_of[item.index] or "a matrix product"
        scalar = item.width is None
        U, W = ops["U_text"], ops["W_gather"]
        if scalar:
            self.param_grad(W, f"{d_name} @ {U}")
        else:
            self.param_grad(W, f"{d_name}.T @ {U}")
        self.back[-1] += f"  # ∂L/∂W of {layer}: δᵀ·{U}"
        for kind, _, gather in ops["b_gathers"]:
            if kind == "p1":
                self.back.append(
                    f"    grad[{gather[0]}] += {d_name}.sum()  # ∂L/∂b of {layer}: Σ δ"
                )
            else:
                self.param_grad(gather, f"{d_name}.sum(0)")
                self.back[-1] += f"  # ∂L/∂b of {layer}: δ summed over the batch"
        for text, _, atoms in ops["extras_read"]:
            start = len(self.back)
            self.send(atoms, d_name, not scalar, item.name)
            if len(self.back) > start:
                self.back[-1] += f"  # + edge {item.name} → {text}: 1 · {d_name}"
        atoms = ops["U"]
        if any(a[0] in "gs" and a[1].needs_grad for a in atoms):
            d_u = f"{d_name}[:, None] * {W.name}" if scalar else f"{d_name} @ {W.name}"
            start = len(self.back)
            self.send(atoms, d_u, True, "the inputs")
            if len(self.back) > start:
                self.back[-1] += f"  # ∂L/∂{U} through {layer}: δ·W"


def _exact(x: float) -> tuple[float, float]:
    """A constant as a key that tells 0.0 from -0.0 (equal as numbers, not as divisors)."""
    return x, math.copysign(1.0, x)


def _paren(text: str) -> str:
    return text if _is_name(text) else f"({text})"


def _is_name(text: str) -> bool:
    return text.replace("_", "a").isalnum() and not text[0].isdigit()


def _mentions(expression: Any, term: Term) -> bool:
    """Whether the term ``expression`` (or a number) reads ``term``."""
    stack = [expression]
    seen: set[int] = set()
    while stack:
        e = stack.pop()
        if e is term:
            return True
        if isinstance(e, Term) and id(e) not in seen:
            seen.add(id(e))
            stack.extend(e.args)
    return False


# --- the program and the entry points ------------------------------------------------------


class VectorProgram:
    """A grouped program: per-example losses, outputs and the summed gradient of a batch.

    ``run(theta, X, targets)`` takes θ (the parameters as one flat vector in ``params``
    order), the rows ``X`` (B, nin) and their targets, and returns ``(losses (B,),
    outputs (B, k), gradient (P,))``, the gradient summed over the rows. ``forward`` gives
    the losses and outputs alone. Both run under ``numpy.errstate(all="ignore")``: a row
    outside a primitive's domain gives NaN or inf where the eager engine raises, so a
    caller that wants the eager error runs such rows again eagerly.

    Attributes:
        source: the training program's code (``forward_source`` without the gradient).
        classes: the targets the program knows when the label picks the loss (the loss
            traced once per class), else None (the target is a number per row).
        width: outputs per row; size: parameters (θ's length); nin: numbers per row.
        stats: traced nodes, lines written, groups and matrix products found.
    """

    def __init__(
        self,
        source: str,
        forward_source: str,
        globals_: dict[str, Any],
        classes: tuple[float, ...] | None,
        width: int,
        size: int,
        nin: int,
        stats: dict[str, int],
        gradient: bool,
    ) -> None:
        self.source = source
        self.forward_source = forward_source
        self.classes = classes
        self.width = width  # how many outputs per row
        self.size = size  # how many parameters
        self.nin = nin  # how many numbers per row
        self.stats = stats
        self._np = numpy()
        namespace: dict[str, Any] = {}
        exec(compile(forward_source, "<vectorized forward>", "exec"), globals_, namespace)  # noqa: S102
        if gradient:
            exec(compile(source, "<vectorized step>", "exec"), globals_, namespace)  # noqa: S102
        self._step = namespace.get("step")
        self._forward = namespace["forward"]
        if classes is not None:
            self._class_index = {c: i for i, c in enumerate(classes)}

    def labels(self, targets: Any) -> Any:
        """Each target's position in ``classes``; ``ValueError`` for a target that is none."""
        np = self._np
        t = np.asarray(targets, dtype=float).reshape(-1)
        if self.classes == tuple(float(i) for i in range(len(self.classes or ()))):
            index = t.astype(np.intp)
            if (
                not np.array_equal(index, t)
                or (index < 0).any()
                or (index >= len(self.classes)).any()
            ):
                raise ValueError(f"a target is not one of the classes {self.classes}")
            return index
        try:
            return np.asarray([self._class_index[float(v)] for v in t], dtype=np.intp)
        except KeyError as error:
            raise ValueError(
                f"target {error.args[0]!r} is not one of the classes {self.classes}"
            ) from None

    def _call(self, function: Callable[..., Any], theta: Any, X: Any, targets: Any) -> Any:
        np = self._np
        x = np.asarray(X, dtype=float)
        if x.ndim != 2 or x.shape[1] != self.nin:
            raise ValueError(f"X must be rows of {self.nin} numbers (B, {self.nin}), got {x.shape}")
        rows = x.shape[0]
        if self.classes is not None:
            target = self.labels(targets)
        elif targets is None:
            target = np.zeros(rows)
        else:
            target = np.asarray(targets, dtype=float).reshape(-1)
        with np.errstate(all="ignore"):
            return function(np.asarray(theta, dtype=float), x, target), rows

    def run(self, theta: Any, X: Any, targets: Any = None) -> tuple[Any, Any, Any]:
        """``(losses (B,), outputs (B, k), gradient (P,))`` of the rows ``X``."""
        if self._step is None:
            raise RuntimeError("this program was built without its gradient (gradient=False)")
        (loss, out, grad), rows = self._call(self._step, theta, X, targets)
        return (*self._shaped(loss, out, rows), grad)

    def forward(self, theta: Any, X: Any, targets: Any = None) -> tuple[Any, Any]:
        """``(losses (B,), outputs (B, k))`` of the rows ``X``, without the gradient."""
        (loss, out), rows = self._call(self._forward, theta, X, targets)
        return self._shaped(loss, out, rows)

    def _shaped(self, loss: Any, out: Any, rows: int) -> tuple[Any, Any]:
        np = self._np
        loss = np.broadcast_to(np.asarray(loss, dtype=float), (rows,))
        out = np.asarray(out, dtype=float)
        if out.ndim < 2:
            out = np.broadcast_to(out.reshape(-1, 1) if out.ndim == 1 else out, (rows, 1))
        return loss, out

    def __repr__(self) -> str:
        return f"<VectorProgram: {self.stats}>"


Namer = Callable[[list[int]], str]
"""Names the module that owns some parameters, given their positions in θ."""


def _common_prefix(paths: set[str]) -> str:
    """The longest dotted prefix the paths share (``layers.0`` for ``layers.0.neurons.3``
    and ``layers.0.neurons.7``)."""
    parts = [path.split(".") if path else [] for path in paths]
    common = parts[0]
    for p in parts[1:]:
        n = 0
        while n < min(len(common), len(p)) and common[n] == p[n]:
            n += 1
        common = common[:n]
    return ".".join(common)


def _names_namer(names: Sequence[str] | None) -> Namer:
    """Parameters named by dotted names: the part all of a group's names share."""

    def name(indices: list[int]) -> str:
        if names is None or not indices:
            return ""
        return _common_prefix(
            {names[i].rsplit(".", 1)[0] if "." in names[i] else "" for i in indices}
        )

    return name


def _owners(model: Any) -> tuple[dict[Value, str], set[str]]:
    """Each Value a module holds itself (not through a submodule), and that module's path
    (as ``named_children`` names it: ``layers.0.neurons.3``, ``0`` in a Sequential); and
    every module's path."""
    found: dict[Value, str] = {}
    modules: set[str] = set()
    stack: list[tuple[str, Any]] = [("", model)]
    while stack:
        path, module = stack.pop()
        modules.add(path)
        values = list(vars(module).values())
        while values:
            value = values.pop()
            if isinstance(value, Value):
                found.setdefault(value, path)
            elif isinstance(value, (list, tuple)):
                values.extend(value)
        children = getattr(module, "named_children", None)
        if children is not None:
            stack.extend((f"{path}.{name}" if path else name, child) for name, child in children())
    return found, modules


def _owner_namer(model: Any, params: Sequence[Value]) -> Namer:
    """Parameters named by the deepest module that holds them all (its class for the root)."""
    if not hasattr(model, "named_children"):  # a plain function, not a module
        return _names_namer(None)
    owners, modules = _owners(model)
    paths = [owners.get(p) for p in params]
    root = type(model).__name__
    sizes: Counter[str] = Counter()  # how many parameters each module holds, all told
    for path, count in Counter(owners.values()).items():
        sizes[""] += count
        parts = path.split(".") if path else []
        for n in range(1, len(parts) + 1):
            prefix = ".".join(parts[:n])
            if prefix in modules:
                sizes[prefix] += count

    def parent(path: str) -> str:
        return path.rsplit(".", 1)[0] if "." in path else ""

    def name(indices: list[int]) -> str:
        found = {paths[i] for i in indices}
        if not indices or None in found:
            return ""
        prefix = _common_prefix(found)  # type: ignore[arg-type]
        while prefix not in modules:  # layers.0.neurons is a list: layers.0 holds it
            prefix = parent(prefix)
        while prefix:  # the outermost module of the same parameters: a layer of one neuron
            outer = parent(prefix)
            while outer not in modules:
                outer = parent(outer)
            if sizes[outer] != sizes[prefix]:
                break
            prefix = outer
        return prefix or root

    return name


def _flatten_outputs(out: Any) -> list[Any]:
    if isinstance(out, (list, tuple)):
        return [x for item in out for x in _flatten_outputs(item)]
    return [out]


Traced = tuple[list[Any], list[Any], "tuple[float, ...] | None"]


def _build_program(
    run: Callable[[list[Value], Value | None], Traced],
    params: Sequence[Value],
    row: Sequence[float],
    target: float | None,
    gradient: bool,
    namer: Namer,
) -> VectorProgram | None:
    """Trace ``run`` on placeholders for ``row`` (and ``target``), group its graph and write
    the program; None without NumPy or when nothing groups."""
    np = numpy()
    if np is None:
        return None
    with gc_paused():  # the graph is acyclic and freed by reference counting: no cycles to find
        inputs = [Value(float(v), label=f"x_{j}") for j, v in enumerate(row)]
        target_value = None if target is None else Value(float(target), label="t")
        with tracing("vectorize"), inside_transform():
            losses, outputs, classes = run(inputs, target_value)
        if classes is not None:
            target_value = None
        builder = _Builder(np, params, inputs, target_value, losses, outputs, namer)
        builder.analyse()
        builder.schedule()
        if builder.grouped == 0 and builder.dots == 0:
            return None
        program = _Program(builder, classes, gradient and bool(losses))
        program.forward()
        forward_lines = list(program.lines)
        loss_atoms = [builder.atom(v) for v in losses]
        out_atoms = [builder.atom(v) for v in outputs]
        ending = [*_loss_lines(program, loss_atoms, classes), _out_line(program, out_atoms)]
        back = program.backward() if program.gradient else []
        source, forward_source = _sources(program, classes, forward_lines, ending, back)
        stats = {
            "nodes": len(builder.order),
            "lines": len(forward_lines) + len(back),
            "groups": builder.grouped,
            "products": builder.dots,
        }
        return VectorProgram(
            source, forward_source, _namespace(np, program), classes, len(out_atoms), len(params),
            len(row), stats, program.gradient,
        )  # fmt: skip


def _loss_lines(
    program: _Program, loss_atoms: list[Atom], classes: tuple[float, ...] | None
) -> list[str]:
    """The lines that set ``loss``, each row's loss: zeros without a loss, the loss for
    each class picked at the row's label when the loss was traced once per class."""
    if not loss_atoms:
        return ["    loss = zeros(B)  # no loss: the model alone"]
    if classes is None:
        text, _ = program.read(loss_atoms, False)
        return [f"    loss = {text}  # each row's loss"]
    text, kind = program.read(loss_atoms, len(loss_atoms) > 1)
    if len(loss_atoms) == 1:
        text = f"{_paren(text)}[:, None]"
    if len(loss_atoms) == 1 or kind not in ("g", "mixed"):
        text = f"broadcast_to({text}, (B, {len(loss_atoms)}))"
    return [
        f"    L = {text}  # the loss for each class",
        "    loss = L[rows, label]  # each row's loss, at its own label",
    ]


def _out_line(program: _Program, out_atoms: list[Atom]) -> str:
    """The line that sets ``out``, the model's outputs as a (B, k) array (or (B,) for one
    output that is a parameter or a constant)."""
    if not out_atoms:
        return "    out = zeros((B, 0))"
    text, kind = program.read(out_atoms, len(out_atoms) > 1)
    if kind in ("p", "p1", "c"):  # outputs that are parameters or constants
        shape = f"(B, {len(out_atoms)})" if len(out_atoms) > 1 else "(B,)"
        text = f"broadcast_to({text}, {shape})"
    return f"    out = {text}  # the model's outputs"


def _sources(
    program: _Program,
    classes: tuple[float, ...] | None,
    forward_lines: list[str],
    ending: list[str],
    back: list[str],
) -> tuple[str, str]:
    """The program's text, ``step`` (forward and backward) when it takes the gradient and
    ``forward`` otherwise, and the text of ``forward`` alone."""
    header = ["    B = x.shape[0]"] + (["    rows = arange(B)"] if classes is not None else [])
    head = [*header, "    # the parameters, gathered from θ", *program.param_lines, "    # forward"]
    target_arg = "label" if classes is not None else "t"
    forward_source = "\n".join(
        [f"def forward(theta, x, {target_arg}):", *head, *forward_lines, *ending,
         "    return loss, out", ""]
    )  # fmt: skip
    if not program.gradient:
        return forward_source, forward_source
    source = "\n".join(
        [
            f"def step(theta, x, {target_arg}):",
            *head,
            *forward_lines,
            *ending,
            "    # backward: the chain rule, one grouped operation at a time",
            *back,
            "    # the gradient, packed as θ is",
            *program.pack,
            "    return loss, out, grad",
            "",
        ]
    )
    return source, forward_source


def _namespace(np: Any, program: _Program) -> dict[str, Any]:
    """The globals the program's text runs in: its primitives as array functions (element
    by element for one without a NumPy form), NumPy's few helpers, and its constants."""
    functions: dict[str, Any] = {}
    for name, op in program.writer.written.functions.items():
        functions[name] = (
            array_form(op, np) if op.array is not None else _elementwise(np, op.forward)
        )
    return {
        **functions,
        "where": np.where,
        "inf": math.inf,
        "nan": math.nan,
        "zeros": np.zeros,
        "ones": np.ones,
        "arange": np.arange,
        "concatenate": np.concatenate,
        "broadcast_to": np.broadcast_to,
        "add_at": np.add.at,
        "slice": slice,
        **program.globals,
    }


def _elementwise(np: Any, f: Callable[..., float]) -> Callable[..., Any]:
    """A primitive without a NumPy twin, applied element by element (exact, not fast)."""
    arity = f.__code__.co_argcount if hasattr(f, "__code__") else 1
    ufunc = np.frompyfunc(f, arity, 1)
    return lambda *args: np.asarray(ufunc(*args), dtype=float)


def decisions(objective: Objective, outputs: Any) -> Any:
    """The label each row of ``outputs`` (B, k) predicts under a named objective, as its
    ``decide`` gives it one row at a time (the first largest score for cross-entropy, the
    sign for bce and hinge); None for regression and for objectives of one's own.

    >>> import numpy as np
    >>> decisions(OBJECTIVES["cross_entropy"], np.array([[0.1, 2.0, 2.0], [3.0, 0.0, 1.0]]))
    array([1., 0.])
    """
    np = numpy()
    scores = np.asarray(outputs, dtype=float)
    if objective is OBJECTIVES["cross_entropy"]:
        return scores.argmax(1).astype(float)
    if objective is OBJECTIVES["bce"]:
        return np.where(scores[:, 0] > 0.0, 1.0, 0.0)
    if objective is OBJECTIVES["hinge"]:
        return np.where(scores[:, 0] > 0.0, 1.0, -1.0)
    return None


def vectorize_loss(
    model: Callable[[list[Value]], Any],
    loss: Callable[[list[Any], list[Any]], Any] | None,
    row: Sequence[float],
    *,
    params: Sequence[Value] | None = None,
    classes: Sequence[float] | str | None = "auto",
    gradient: bool = True,
) -> VectorProgram | None:
    """The grouped program of ``loss([model(x)], [t])`` for one row, run over batches.

    ``model`` (an ``nn`` module or any function of a list of Values) is traced once on
    ``row``; ``loss(outputs, targets)`` is a batch loss as in :mod:`autograd_lite.losses`.
    The target is an input of the program: a number per row when the loss takes a Value
    target (``mse``, ``bce``, ``hinge``); otherwise (``cross_entropy`` picks a score by the
    label) the loss is traced once per class — ``classes``, or with ``"auto"`` the
    positions of the model's outputs — and each row's loss is picked by its label, so one
    program serves every class. ``loss=None`` gives the model alone (``forward`` only).

    ``params`` (default ``model.parameters()``) fixes θ's order. Returns None without NumPy
    or when nothing groups. The model is traced in its current mode (``train``/``eval``).

    Raises:
        TraceError: the model or loss cannot be traced (control flow on a Value, Dropout
            in training mode), as for :func:`autograd_lite.compile`.
        ValueError: what the model or the loss raises for this row (a class loss on a
            model with one output, a domain error at the traced row).

    >>> from autograd_lite import nn
    >>> from autograd_lite.losses import cross_entropy
    >>> model = nn.MLP(4, [8, 3], seed=0)
    >>> program = vectorize_loss(model, cross_entropy, [0.1, 0.2, 0.3, 0.4])
    >>> program.classes, program.stats["products"]
    ((0.0, 1.0, 2.0), 2)
    """
    if params is None:
        params = model.parameters()  # type: ignore[attr-defined]

    def run(inputs: list[Value], t: Value | None) -> Traced:
        out = model(inputs)
        outs = _flatten_outputs(out)
        if loss is None:
            return [], outs, None
        if classes is None or classes == "auto":
            try:
                return [loss([out], [t])], outs, None
            except (TypeError, ValueError, TraceError):
                if classes is None:
                    raise
        chosen = range(len(outs)) if classes == "auto" else classes
        labels = tuple(float(c) for c in chosen)
        return [loss([out], [c]) for c in labels], outs, labels

    return _build_program(run, params, row, 0.0, gradient, _owner_namer(model, params))


def vectorize(
    f: Callable[..., Any],
    params: Sequence[Value],
    row: Sequence[float],
    target: float | None = None,
    *,
    names: Sequence[str] | None = None,
    gradient: bool = True,
) -> VectorProgram | None:
    """The grouped program of a per-example function ``f(x)`` or ``f(x, t)``.

    ``f`` gets the row as a list of Values (and the target as a Value when ``target`` is
    given) and returns its loss, or ``(loss, output)`` with ``output`` a Value or a list.
    ``params`` are the Values ``f`` closes over that the gradient is taken for (θ's order);
    any other Value it closes over is a constant. Returns None without NumPy or when
    nothing groups.

    >>> from autograd_lite import Value
    >>> w = [Value(0.5), Value(-1.0)]
    >>> program = vectorize(lambda x: (w[0] * x[0] + w[1] * x[1]).tanh(), w, [1.0, 2.0])
    >>> losses, outputs, grad = program.run([0.5, -1.0], [[1.0, 2.0], [0.0, 0.0]])
    >>> losses.round(6).tolist(), grad.round(6).tolist()  # tanh(-1.5), and (1 - tanh²)·x
    ([-0.905148, 0.0], [0.180707, 0.361413])
    """

    def run(inputs: list[Value], t: Value | None) -> Traced:
        result = f(inputs) if t is None else f(inputs, t)
        if isinstance(result, tuple):
            value, out = result
            return [value], _flatten_outputs(out), None
        return [result], [], None

    return _build_program(run, params, row, target, gradient, _names_namer(names))
