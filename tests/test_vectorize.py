"""The vectorising pass: grouped programs against the eager engine, and their structure."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from autograd_lite import Value, nn, ops
from autograd_lite.compiler import trace_gradient, vectorize
from autograd_lite.engine import apply
from autograd_lite.grad_mode import TraceError
from autograd_lite.losses import OBJECTIVES, cross_entropy, mse_loss
from autograd_lite.testing import Expression, expressions

np = pytest.importorskip("numpy")

TOLERANCE = 1e-9


def eager(
    f: Callable[[list[Value], float], Value], params: Sequence[Value], X: Any, y: Any
) -> tuple[Any, Any]:
    """Per-row losses and the summed gradient, by backward() row after row."""
    for p in params:
        p.grad = 0.0
    losses = []
    for row, t in zip(X, y, strict=True):
        loss = f([float(v) for v in row], float(t))
        losses.append(loss.data)
        loss.backward()
    return np.array(losses), np.array([p.grad for p in params])


def assert_close(ours: Any, theirs: Any) -> None:
    ours, theirs = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    scale = max(1.0, float(np.nanmax(np.abs(theirs)))) if theirs.size else 1.0
    assert ours.shape == theirs.shape
    assert np.array_equal(np.isnan(ours), np.isnan(theirs))
    finite = ~np.isnan(theirs)
    assert np.allclose(ours[finite], theirs[finite], rtol=TOLERANCE, atol=TOLERANCE * scale)


def theta_of(params: Sequence[Value]) -> Any:
    return np.array([p.data for p in params])


def targets_for(loss: str, rows: int, classes: int, rng: random.Random) -> list[float]:
    if loss == "mse":
        return [rng.uniform(-2, 2) for _ in range(rows)]
    if loss == "bce":
        return [float(rng.randrange(2)) for _ in range(rows)]
    if loss == "hinge":
        return [rng.choice([-1.0, 1.0]) for _ in range(rows)]
    return [float(rng.randrange(classes)) for _ in range(rows)]


def forward_lines(program: vectorize.VectorProgram) -> list[str]:
    body = program.forward_source.split("    # forward\n")[1]
    return [line.strip() for line in body.splitlines() if line.strip()]


def products(program: vectorize.VectorProgram) -> list[str]:
    """The lines of the forward pass that multiply matrices, without their comments."""
    return [line.split("  #")[0] for line in forward_lines(program) if " @ " in line]


# --- structure: what groups --------------------------------------------------------------


def test_a_linear_layer_is_one_matrix_product() -> None:
    layer = nn.Linear(5, 3, seed=0)
    program = vectorize.vectorize_loss(
        layer, lambda o, t: mse_loss(o[0][0], t[0]), [0.1, 0.2, 0.3, 0.4, 0.5]
    )
    assert program is not None
    assert products(program) == ["z0 = x @ W0.T + b0"]
    assert "    z0 = x @ W0.T + b0  # Linear\n" in program.source
    assert "W0 = theta[0:15].reshape(3, 5)" in program.source  # a view of θ, no copy
    assert "b0 = theta[15:18]" in program.source


def test_a_layer_written_as_a_loop_is_one_matrix_product_too() -> None:
    rng = random.Random(0)
    W = [[Value(rng.uniform(-1, 1)) for _ in range(4)] for _ in range(6)]
    b = [Value(rng.uniform(-1, 1)) for _ in range(6)]
    params = [p for row in W for p in row] + b

    def example(x: list[Value], t: Value) -> Value:
        h = [
            (sum(w * xi for w, xi in zip(row, x, strict=True)) + bk).tanh()
            for row, bk in zip(W, b, strict=True)
        ]
        return sum(h) - t  # type: ignore[return-value]

    program = vectorize.vectorize(example, params, [0.5, -0.5, 0.25, 1.0], 0.0)
    assert program is not None
    assert products(program) == ["h0 = tanh(x @ W0.T + b0)"]
    assert program.stats["products"] == 1
    assert "W0 = theta[0:24].reshape(6, 4)" in program.source
    assert "d_W0 = d_z0.T @ x  # ∂L/∂W of a matrix product: δᵀ·x" in program.source
    X = np.array([[rng.uniform(-1, 1) for _ in range(4)] for _ in range(9)])
    y = np.array([rng.uniform(-1, 1) for _ in range(9)])
    losses, _, grad = program.run(theta_of(params), X, y)
    want_losses, want_grad = eager(example, params, X, y)  # type: ignore[arg-type]
    assert_close(losses, want_losses)
    assert_close(grad, want_grad)


def test_an_mlp_reads_like_the_textbook() -> None:
    model = nn.MLP(4, [8, 3], seed=0)
    program = vectorize.vectorize_loss(model, cross_entropy, [0.1, 0.2, 0.3, 0.4])
    assert program is not None
    source = program.source
    assert "    h0 = relu(x @ W0.T + b0)  # layers.0\n" in source
    assert "    z1 = h0 @ W1.T + b1  # layers.1\n" in source
    assert "    d_W1 = d_z1.T @ h0  # ∂L/∂W of layers.1: δᵀ·h0\n" in source
    assert "    d_h0 = d_z1 @ W1  # ∂L/∂h0 through layers.1: δ·W\n" in source
    assert "d_z0 = where(h0 > 0.0, 1.0, 0.0) * d_h0  # relu edge h0 → z0" in source
    assert "    d_W0 = d_z0.T @ x  # ∂L/∂W of layers.0: δᵀ·x\n" in source
    assert "    d_b0 = d_z0.sum(0)  # ∂L/∂b of layers.0: δ summed over the batch\n" in source
    assert program.classes == (0.0, 1.0, 2.0)  # one program for every label
    assert "= exp(" in source
    assert ".sum(1)" in source  # softmax's sum is a reduction


def test_a_shared_weight_stays_exact() -> None:
    w, c = Value(0.7), Value(-0.3)
    W = [[Value(0.1 * (i + j)) for j in range(3)] for i in range(2)]
    params = [w, c, *(p for row in W for p in row)]

    def example(x: list[Value], t: Value) -> Value:
        h = [(sum(wi * xi for wi, xi in zip(row, x, strict=True)) + w).sigmoid() for row in W]
        shared = w * x[0] + w * x[1] + c * h[0]  # w in three places, none of them a layer
        return (shared - t) ** 2 + h[1]

    program = vectorize.vectorize(example, params, [0.2, 0.4, 0.6], 1.0)
    assert program is not None
    X = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75], [0.0, 0.1, 0.2]])
    y = np.array([0.3, -0.2, 1.0])
    losses, _, grad = program.run(theta_of(params), X, y)
    want_losses, want_grad = eager(example, params, X, y)  # type: ignore[arg-type]
    assert_close(losses, want_losses)
    assert_close(grad, want_grad)


def test_a_skip_connection_stays_exact() -> None:
    first, second = nn.Linear(3, 3, seed=1), nn.Linear(3, 3, seed=2)
    params = first.parameters() + second.parameters()

    def example(x: list[Value], t: Value) -> Value:
        h = [v.tanh() for v in first(x)]
        out = [a + b for a, b in zip(second(h), h, strict=True)]  # the skip
        return sum((o - t) ** 2 for o in out) + out[0] * x[2]  # type: ignore[return-value]

    program = vectorize.vectorize(example, params, [0.1, 0.2, 0.3], 0.5)
    assert program is not None
    assert len(products(program)) == 2
    X = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
    y = np.array([0.3, -0.2])
    losses, _, grad = program.run(theta_of(params), X, y)
    want_losses, want_grad = eager(example, params, X, y)  # type: ignore[arg-type]
    assert_close(losses, want_losses)
    assert_close(grad, want_grad)


CUBE = ops.Primitive("cube", lambda x: x * x * x, (lambda x, out, m: 3.0 * x * x,))


def test_a_primitive_of_ones_own_runs_element_by_element() -> None:
    layer = nn.Linear(2, 3, seed=0)

    def example(x: list[Value], t: Value) -> Value:
        return sum(apply(CUBE, v) for v in layer(x)) * t  # type: ignore[no-any-return]

    program = vectorize.vectorize(example, layer.parameters(), [0.5, 0.5], 1.0)
    assert program is not None
    assert "cube(" in program.source
    X, y = np.array([[0.5, -1.0], [2.0, 0.25]]), np.array([0.5, 2.0])
    losses, _, grad = program.run(theta_of(layer.parameters()), X, y)
    want_losses, want_grad = eager(example, layer.parameters(), X, y)  # type: ignore[arg-type]
    assert_close(losses, want_losses)
    assert_close(grad, want_grad)


def test_nothing_to_group_gives_none() -> None:
    w = Value(2.0)
    assert vectorize.vectorize(lambda x: (w * x[0]).tanh(), [w], [1.0]) is None


def test_without_numpy_there_is_no_grouped_program(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vectorize, "numpy", lambda: None)
    model = nn.MLP(2, [4, 1], seed=0)
    assert vectorize.vectorize_loss(model, OBJECTIVES["mse"].loss, [1.0, 2.0]) is None


# --- grouped against eager: MLPs, every activation, every loss ----------------------------


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "linear"])
@pytest.mark.parametrize("hidden", [[5], [4, 3], [3, 4, 2]])
@pytest.mark.parametrize(
    ("loss", "outputs"),
    [("mse", 1), ("bce", 1), ("hinge", 1), ("cross_entropy", 2), ("cross_entropy", 10)],
)
def test_mlps_train_as_the_eager_engine(
    activation: str, hidden: list[int], loss: str, outputs: int
) -> None:
    rng = random.Random(f"{activation}{hidden}{loss}{outputs}")
    model = nn.MLP(3, [*hidden, outputs], activation=activation, seed=rng.randrange(10**6))
    params, objective = model.parameters(), OBJECTIVES[loss]
    program = vectorize.vectorize_loss(model, objective.loss, [0.0, 0.0, 0.0])
    assert program is not None
    assert len(products(program)) == len(hidden) + 1  # one product per layer
    for k in range(len(hidden) + 1):  # each named after its layer, a layer of one neuron too
        assert f"  # layers.{k}\n" in program.source

    def example(x: list[Value], t: float) -> Value:
        return objective.loss([model(x)], [t])

    for rows in (1, 7, 130):
        X = np.array([[rng.uniform(-2, 2) for _ in range(3)] for _ in range(rows)])
        y = targets_for(loss, rows, outputs, rng)
        losses, out, grad = program.run(theta_of(params), X, y)
        want_losses, want_grad = eager(example, params, X, y)
        assert_close(losses, want_losses)
        assert_close(grad, want_grad)
        scores = [model(list(row)) for row in X[:3]]
        want_out = [[v.data for v in (s if isinstance(s, list) else [s])] for s in scores]
        assert_close(out[:3], want_out)
        assert_close(program.forward(theta_of(params), X, y)[0], want_losses)


def test_labels_must_be_classes() -> None:
    model = nn.MLP(2, [3], seed=0)
    program = vectorize.vectorize_loss(model, cross_entropy, [0.0, 0.0])
    assert program is not None
    theta = theta_of(model.parameters())
    with pytest.raises(ValueError, match="not one of the classes"):
        program.run(theta, [[0.0, 0.0]], [3.0])
    with pytest.raises(ValueError, match="not one of the classes"):
        program.run(theta, [[0.0, 0.0]], [0.5])
    with pytest.raises(ValueError, match="rows of 2 numbers"):
        program.run(theta, [[0.0, 0.0, 0.0]], [1.0])


def test_a_forward_only_program() -> None:
    model = nn.Sequential(nn.Linear(3, 4, seed=0), nn.Tanh(), nn.Linear(4, 2, seed=1))
    program = vectorize.vectorize_loss(model, None, [0.0, 0.0, 0.0])
    assert program is not None
    X = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
    _, out = program.forward(theta_of(model.parameters()), X)
    assert_close(out, [[v.data for v in model(list(row))] for row in X])
    assert "# 0\n" in program.forward_source
    assert "# 2\n" in program.forward_source
    with pytest.raises(RuntimeError, match="without its gradient"):
        program.run(theta_of(model.parameters()), X)


# --- grouped against eager on random graphs --------------------------------------------


@st.composite
def lanes(draw: st.DrawFn) -> tuple[Expression, int, list[str], list[int]]:
    """A random expression applied in ``width`` lanes, each leaf a parameter per lane, a
    parameter shared by every lane, or an input column (possibly out of order)."""
    expr = draw(expressions(max_leaves=3, max_steps=6))
    width = draw(st.integers(1, 4))
    kinds = draw(
        st.lists(
            st.sampled_from(["param", "shared", "input"]),
            min_size=len(expr.leaves),
            max_size=len(expr.leaves),
        )
    )
    columns = draw(st.permutations(range(width * len(expr.leaves))))
    return expr, width, kinds, list(columns)


@settings(max_examples=120, deadline=None)
@given(lanes(), st.integers(1, 5), st.integers(0, 3))
def test_grouped_equals_eager_and_scalar_code_on_random_graphs(
    case: tuple[Expression, int, list[str], list[int]], rows: int, shift: int
) -> None:
    expr, width, kinds, columns = case
    leaves = len(expr.leaves)
    own = [[Value(expr.leaves[i] * (1 + 0.01 * j)) for i in range(leaves)] for j in range(width)]
    shared = [Value(expr.leaves[i]) for i in range(leaves)]
    weights = [Value(0.5 - 0.25 * j) for j in range(width)]
    bias = Value(0.125)
    params = [*(p for lane in own for p in lane), *shared, *weights, bias]
    nin = width * leaves

    def example(x: list[Value], t: Value) -> Value:
        outs = []
        for j in range(width):
            args = []
            for i, kind in enumerate(kinds):
                if kind == "param":
                    args.append(own[j][i])
                elif kind == "shared":
                    args.append(shared[i])
                else:
                    args.append(x[columns[j * leaves + i]])
            outs.append(expr(*args))
        total = sum(w * o for w, o in zip(weights, outs, strict=True)) + bias  # a dot
        mixed = [o * outs[(j + shift) % width] for j, o in enumerate(outs)]  # lanes crossed
        spread = sum(m.tanh().exp() for m in mixed)  # a reduction
        return total * t + outs[0] * outs[-1] + spread  # and a scalar tail

    row = [0.0] * nin
    for j in range(width):
        for i in range(leaves):
            row[columns[j * leaves + i]] = expr.leaves[i]
    X = np.array([[v * (1 + 0.001 * r) for v in row] for r in range(rows)])
    y = np.array([1.0 + 0.5 * r for r in range(rows)])
    try:
        want_losses, want_grad = eager(example, params, X, y)  # type: ignore[arg-type]
    except (ValueError, OverflowError):
        assume(False)
    program = vectorize.vectorize(example, params, row, 1.0)
    if program is None:  # nothing grouped: a plain scalar expression
        return
    losses, _, grad = program.run(theta_of(params), X, y)
    assert_close(losses, want_losses)
    assert_close(grad, want_grad)
    scalar = trace_gradient(example, [row, 1.0], params)  # the scalar program, one row
    scalar_loss, scalar_grad = scalar.function([p.data for p in params], list(X[0]), y[0])
    assert_close(losses[:1], [scalar_loss])
    assert_close(program.run(theta_of(params), X[:1], y[:1])[2], scalar_grad)


def test_sequential_layers_without_bias_and_dropout_in_eval_mode() -> None:
    model = nn.Sequential(
        nn.Linear(3, 5, bias=False, seed=0), nn.Sigmoid(), nn.Dropout(0.5, seed=0),
        nn.Linear(5, 4, seed=1),
    )  # fmt: skip
    objective = OBJECTIVES["cross_entropy"]
    model.eval()
    program = vectorize.vectorize_loss(model, objective.loss, [0.0, 0.0, 0.0])
    assert program is not None
    assert products(program) == ["h0 = sigmoid(x @ W0.T)", "z1 = h0 @ W1.T + b1"]
    rng = random.Random(0)
    X = np.array([[rng.uniform(-2, 2) for _ in range(3)] for _ in range(11)])
    y = [float(rng.randrange(4)) for _ in range(11)]
    params = model.parameters()
    losses, _, grad = program.run(theta_of(params), X, y)
    want_losses, want_grad = eager(lambda x, t: objective.loss([model(x)], [t]), params, X, y)
    assert_close(losses, want_losses)
    assert_close(grad, want_grad)
    model.train()  # a new mask on every call cannot be traced
    with pytest.raises(TraceError, match="Dropout"):
        vectorize.vectorize_loss(model, objective.loss, [0.0, 0.0, 0.0])


def test_softmax_maximum_is_one_reduction_and_ties_go_where_eager_sends_them() -> None:
    model = nn.MLP(3, [4, 5], seed=3)
    last = model.layers[-1]
    for neuron in last.neurons[1:4]:  # three outputs tied for the largest, in every row
        for w in neuron.w:
            w.data = 0.0
        neuron.b.data = 2.0
    for neuron in (last.neurons[0], last.neurons[4]):
        for w in neuron.w:
            w.data = 0.0
        neuron.b.data = -1.0
    objective = OBJECTIVES["cross_entropy"]
    program = vectorize.vectorize_loss(model, objective.loss, [0.0, 0.0, 0.0])
    assert program is not None
    assert "    v0 = z1.max(1)  # the largest: s + relu(u - s), folded\n" in program.source
    assert "relu(v" not in program.source  # no chain of maxima left
    X = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75], [0.0, 0.0, 0.0]])
    y = [1.0, 3.0, 0.0]
    params = model.parameters()
    losses, _, grad = program.run(theta_of(params), X, y)
    want_losses, want_grad = eager(lambda x, t: objective.loss([model(x)], [t]), params, X, y)
    assert_close(losses, want_losses)
    assert_close(grad, want_grad)


def test_outputs_that_are_parameters_or_constants_fill_every_row() -> None:
    w = [Value(0.5), Value(-1.0), Value(2.0)]

    def example(x: list[Value]) -> tuple[Value, list[Value]]:
        loss = (w[0] * x[0] + w[1] * x[1]).tanh()
        return loss, [w[2], Value(7.0, requires_grad=False)]

    program = vectorize.vectorize(example, w, [1.0, 2.0])
    assert program is not None
    losses, out = program.forward(theta_of(w), [[1.0, 2.0], [0.0, 0.0]])
    assert_close(losses, [math.tanh(-1.5), 0.0])
    assert out.tolist() == [[2.0, 7.0], [2.0, 7.0]]


ACTIVATIONS = {
    "tanh": Value.tanh,
    "relu": Value.relu,
    "sigmoid": Value.sigmoid,
    "softplus": Value.softplus,
    "linear": lambda v: v,
}


@st.composite
def networks(draw: st.DrawFn) -> dict[str, Any]:
    """A network written by hand: random widths, activations, the order of each neuron's
    sum, skip connections, and weights shared between layers."""
    nin = draw(st.integers(1, 4))
    widths = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3))
    layers = [
        {
            "width": w,
            "activation": draw(st.sampled_from(sorted(ACTIVATIONS))),
            "style": draw(st.sampled_from(["bias first", "bias last", "reversed", "no bias"])),
            "skip": draw(st.booleans()),
            "share": draw(st.booleans()),
        }
        for w in widths
    ]
    return {"nin": nin, "layers": layers, "loss": draw(st.sampled_from(["mse", "softmax"]))}


@settings(max_examples=80, deadline=None)
@given(networks(), st.integers(1, 6), st.integers(0, 10**6))
def test_hand_written_networks_train_as_the_eager_engine(
    net: dict[str, Any], rows: int, seed: int
) -> None:
    rng = random.Random(seed)
    params: list[Value] = []
    built = []
    fan_in = net["nin"]
    for layer in net["layers"]:
        W = [[Value(rng.uniform(-1, 1)) for _ in range(fan_in)] for _ in range(layer["width"])]
        b = [Value(rng.uniform(-1, 1)) for _ in range(layer["width"])]
        params += [p for row in W for p in row] + b
        if layer["share"] and built:  # a weight of the layer before, used here too
            W[0][0] = built[-1][0][0][0]
        built.append((W, b, layer))
        fan_in = layer["width"]

    def example(x: list[Value], t: Value) -> Value:
        h: list[Value] = x
        for W, b, layer in built:
            out = []
            for row, bias in zip(W, b, strict=True):
                pairs = list(zip(row, h, strict=True))
                if layer["style"] == "reversed":
                    pairs.reverse()
                total = sum(w * v for w, v in pairs)
                if layer["style"] == "bias first":
                    total = bias + sum((w * v for w, v in pairs), Value(0.0, requires_grad=False))
                elif layer["style"] != "no bias":
                    total = total + bias
                out.append(ACTIVATIONS[layer["activation"]](total))  # type: ignore[arg-type]
            if layer["skip"] and len(out) == len(h):
                out = [o + v for o, v in zip(out, h, strict=True)]
            h = out
        if net["loss"] == "softmax" and len(h) > 1:
            return cross_entropy(h, 0) * t
        return sum((o - t) * (o - t) for o in h)  # type: ignore[return-value]

    row = [rng.uniform(-1, 1) for _ in range(net["nin"])]
    program = vectorize.vectorize(example, params, row, 0.5)
    X = np.array([[rng.uniform(-2, 2) for _ in range(net["nin"])] for _ in range(rows)])
    y = np.array([rng.uniform(-1, 1) for _ in range(rows)])
    want_losses, want_grad = eager(example, params, X, y)  # type: ignore[arg-type]
    if program is None:  # nothing grouped: one input and one neuron per layer
        return
    losses, _, grad = program.run(theta_of(params), X, y)
    assert_close(losses, want_losses)
    assert_close(grad, want_grad)


@pytest.mark.parametrize(("loss", "width"), [("cross_entropy", 4), ("bce", 1), ("hinge", 1)])
def test_decisions_are_the_objectives_own(loss: str, width: int) -> None:
    objective = OBJECTIVES[loss]
    rng = random.Random(loss)
    outputs = np.array(
        [[rng.choice([-1.0, 0.0, 0.5, 2.0]) for _ in range(width)] for _ in range(40)]
    )
    want = [
        objective.decide(  # type: ignore[misc]
            [Value(v) for v in row] if width > 1 else Value(row[0])
        )
        for row in outputs
    ]
    assert vectorize.decisions(objective, outputs).tolist() == want
    assert vectorize.decisions(OBJECTIVES["mse"], outputs) is None
