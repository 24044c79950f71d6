"""Compiled mode: generated code gives what the eager engine gives, on every primitive."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd_lite as ag
from autograd_lite import Value, ops
from autograd_lite.testing import Expression, expressions


def close(ours: Any, eager: Any, rel: float = 1e-12) -> bool:
    """Same structure, and every number equal to 1e-12 relative (NaN equals NaN)."""
    if isinstance(eager, (tuple, list)):
        return (
            type(ours) is type(eager)
            and len(ours) == len(eager)
            and all(close(a, b, rel) for a, b in zip(ours, eager, strict=True))
        )
    if isinstance(eager, float) and math.isnan(eager):
        return isinstance(ours, float) and math.isnan(ours)
    return isinstance(ours, float) and ours == pytest.approx(eager, rel=rel, abs=1e-300)


def all_leaves(expr: Expression) -> tuple[int, ...]:
    return tuple(range(len(expr.leaves)))


@settings(max_examples=150, deadline=None)
@given(expressions(max_leaves=3, max_steps=10))
def test_compiled_value_and_gradient_equal_eager_on_random_graphs(expr: Expression) -> None:
    transform = ag.value_and_grad(expr, argnums=all_leaves(expr))
    compiled = ag.compile(transform)
    assert close(compiled(*expr.leaves), transform(*expr.leaves))
    shifted = [x * 0.9 + 0.01 for x in expr.leaves]  # a second point, same code
    try:
        eager = transform(*shifted)
    except ValueError:
        with pytest.raises(ValueError, match="is undefined"):
            compiled(*shifted)
    else:
        assert close(compiled(*shifted), eager)


def test_the_random_graphs_cover_every_primitive() -> None:
    seen: set[str] = set()

    @settings(max_examples=300, deadline=None)
    @given(expressions(max_leaves=3, max_steps=10))
    def collect(expr: Expression) -> None:
        seen.update(name for name, _ in expr.steps)

    collect()
    assert seen == set(ops.PRIMITIVES)


@settings(max_examples=60, deadline=None)
@given(expressions(max_leaves=3, max_steps=8), st.integers(0, 1))
def test_compiled_gradient_with_list_arguments_equals_eager(
    expr: Expression, scale_index: int
) -> None:
    def f(xs: list[Value], scale: Value) -> Value:
        return expr(*xs) * scale

    for argnums in (0, (0, 1)):
        transform = ag.value_and_grad(f, argnums=argnums)
        args = (list(expr.leaves), 1.5 + scale_index)
        assert close(ag.compile(transform)(*args), transform(*args))


@settings(max_examples=60, deadline=None)
@given(expressions(max_leaves=3, max_steps=6))
def test_compiled_hessian_equals_eager(expr: Expression) -> None:
    hessian = ag.hessian(expr)
    assert close(ag.compile(hessian)(*expr.leaves), hessian(*expr.leaves), rel=1e-10)


def test_shared_nodes_and_repeated_uses_collect_every_contribution() -> None:
    def f(x: Value, y: Value) -> Value:
        shared = x * y
        return shared * shared + shared.tanh() * x + x * x

    transform = ag.value_and_grad(f, argnums=(0, 1))
    assert close(ag.compile(transform)(0.7, -1.3), transform(0.7, -1.3))


def test_compile_returns_the_structure_f_returns() -> None:
    def f(x: Value, ys: list[Value]) -> Any:
        return x * 2, [y.exp() for y in ys], ((x + 1).relu(), 3)

    compiled = ag.compile(f)
    assert compiled(1.5, [0.0, 1.0]) == (3.0, [1.0, math.e], (2.5, 3.0))
    assert ag.compile(lambda x: 7)(1.0) == 7.0  # a constant function


def test_grad_and_nested_grad_compile() -> None:
    cube = lambda x: x * x * x
    assert ag.compile(ag.grad(cube))(2.0) == 12.0
    assert ag.compile(ag.grad(ag.grad(cube)))(2.0) == 12.0
    assert ag.compile(ag.grad(ag.grad(ag.grad(cube))))(2.0) == 6.0


def test_branches_inside_primitives_follow_the_data() -> None:
    compiled = ag.compile(ag.value_and_grad(lambda x: x.relu() + abs(x) * 2))
    assert compiled(3.0) == (9.0, 3.0)
    assert compiled(-3.0) == (6.0, -2.0)
    assert compiled(0.0) == (0.0, 0.0)  # relu'(0) = abs'(0) = 0, as eager


@pytest.mark.parametrize(
    ("f", "operation"),
    [
        (lambda x: x * 2 if x > 0 else x, "comparison"),
        (lambda x: x if x <= 1.0 else -x, "comparison"),
        (lambda x: x * float(x), "float()"),
        (lambda x: x if x else x + 1, "bool()"),
        (lambda x: (x and x) * 2, "bool()"),
        (lambda x: max(x, Value(0.0)), "comparison"),
        (lambda x: x * 2 if x.data > 0 else -x, r"reading \.data"),
        (lambda x: x * x.data, r"reading \.data"),
        (ag.grad(lambda x: x * 2 if x.data > 0 else -x), r"reading \.data"),
        (lambda x: x * 2 if (x + 1).data > 1 else -x, r"reading \.data"),  # an intermediate
        (lambda x: x * 2 if (2 - x).tanh().data > 0 else -x, r"reading \.data"),
        (lambda x: x * abs((x * x).data - 4.0), r"reading \.data"),  # a number made from it
        (ag.grad(lambda x: x * 2 if (x * 3).data > 0 else -x), r"reading \.data"),
        (lambda x: x * 2 if (x + 1).item() > 1 else -x, "float()"),
        (lambda x: x * 2 if x.item() > 0 else -x, "float()"),
    ],
)
def test_data_dependent_control_flow_is_a_trace_error(f: Any, operation: str) -> None:
    compiled = ag.compile(f)
    with pytest.raises(ag.TraceError, match=operation) as info:
        compiled(1.0)
    assert isinstance(info.value, RuntimeError)
    assert "without ag.compile" in str(info.value)  # the way out: run it eagerly
    assert f(Value(1.0)) is not None  # the same function runs eagerly


def test_after_a_trace_error_values_compare_again() -> None:
    with pytest.raises(ag.TraceError):
        ag.compile(lambda x: x if x > 0 else -x)(1.0)
    assert Value(2.0) > 1.0
    assert float(Value(2.0)) == 2.0


def test_a_rule_that_branches_in_python_is_refused_with_advice() -> None:
    step = ops.Primitive("step", lambda x: max(x, 0.0), (lambda x, out, m: 1.0 if x > 0 else 0.0,))
    compiled = ag.compile(ag.grad(lambda x: ag.apply(step, x)))
    with pytest.raises(ag.TraceError, match=r"m\.where"):
        compiled(1.0)


def test_a_new_structure_traces_again_and_the_cache_is_bounded() -> None:
    traced: list[int] = []

    def total(xs: list[Value]) -> Value:
        traced.append(len(xs))
        return sum(xs[1:], xs[0])

    compiled = ag.compile(total, cache_size=2)
    assert compiled([1.0, 2.0]) == 3.0
    assert compiled([4.0, 5.0]) == 9.0  # same structure: no new trace
    assert traced == [2]
    assert compiled([1.0, 2.0, 3.0]) == 6.0
    assert compiled([1.0]) == 1.0
    assert traced == [2, 3, 1]
    assert compiled.cache_info == {"structures": 2, "max": 2}
    compiled([1.0, 1.0])  # evicted (least recently used): traced again
    assert traced == [2, 3, 1, 2]


def test_bad_arguments_are_type_errors() -> None:
    compiled = ag.compile(lambda x: x * 2)
    with pytest.raises(TypeError, match=r"pass v\.data"):
        compiled(Value(1.0))
    with pytest.raises(TypeError, match="numbers"):
        compiled("1.0")
    with pytest.raises(TypeError, match="function"):
        ag.compile(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cache_size"):
        ag.compile(abs, cache_size=0)
    with pytest.raises(RuntimeError, match="first call"):
        _ = compiled.source


@pytest.mark.parametrize(
    ("f", "x", "message"),
    [
        (lambda x: x.log(), -1.0, "log(-1.0) is undefined"),
        (lambda x: x.sqrt() * 2, -4.0, "sqrt(-4.0) is undefined"),
        (lambda x: 1.0 / x, 0.0, "1.0 / 0.0 is undefined"),
        (lambda x: (x - 1.0) ** 0.5, 0.0, "-1.0 ** 0.5 is undefined"),
    ],
)
def test_domain_errors_read_as_eager_ones(f: Any, x: float, message: str) -> None:
    compiled = ag.compile(ag.value_and_grad(f))
    compiled(4.0)  # traced where it is defined
    with pytest.raises(ValueError, match=re.escape(message)):
        compiled(x)
    with pytest.raises(ValueError, match=re.escape(message)):
        ag.value_and_grad(f)(x)


def test_nan_and_inf_propagate_as_in_eager() -> None:
    f = ag.value_and_grad(lambda x: (x * 2.0).exp() + x.tanh())
    compiled = ag.compile(f)
    compiled(0.5)
    for x in (math.inf, -math.inf, math.nan, 400.0):
        assert close(compiled(x), f(x))


def test_source_reads_as_the_chain_rule_of_a_neuron() -> None:
    def neuron(w: list[Value], x: list[Value], b: Value) -> Value:
        return (w[0] * x[0] + w[1] * x[1] + b).tanh()

    compiled = ag.compile(ag.value_and_grad(neuron, argnums=(0, 2)))
    compiled([0.5, -1.0], [2.0, 3.0], 0.1)
    source = compiled.source
    assert source.startswith("def value_and_grad_neuron(w, x, b):\n")
    lines = source.splitlines()
    assert "    v4 = tanh(v3)  # tanh" in lines
    assert "    d_v3 = 1.0 - v4 * v4  # tanh edge v4 → v3: ∂v4/∂v3 · 1.0" in lines
    assert "    d_w_0 = x_0 * d_v3  # * edge v0 → w_0: ∂v0/∂w_0 · d_v3" in lines
    assert not any(line.lstrip().startswith("d_x") for line in lines)  # nobody asked for it
    assert all("  # " in line for line in lines[3:-1])  # every computing line says what it is
    compile(source, "<test>", "exec")  # valid Python


def test_constants_are_folded_and_closures_are_frozen() -> None:
    scale = Value(3.0)
    compiled = ag.compile(ag.value_and_grad(lambda x: x * (scale * 2.0) + 1.0 * x))
    assert compiled(2.0) == (14.0, 7.0)
    assert "6.0" in compiled.source
    assert "1.0 *" not in compiled.source
    scale.data = 100.0  # frozen at trace time, as documented
    assert compiled(2.0) == (14.0, 7.0)


def test_source_is_deterministic_across_processes() -> None:
    code = (
        "import autograd_lite as ag\n"
        "f = ag.compile(ag.hessian(lambda x, y: (x * y).tanh() + x.relu() * y.sigmoid()))\n"
        "f(0.3, 0.7)\n"
        "print(f.source)\n"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        for _ in range(2)
    }
    assert len(runs) == 1


def test_compiled_log_softmax_shifts_by_each_calls_own_maximum() -> None:
    from autograd_lite import losses

    def f(z: list[Value]) -> Value:
        return losses.cross_entropy(z, 0)

    transform = ag.value_and_grad(f)
    compiled = ag.compile(transform)
    compiled([0.0, 0.0])  # traced where the maximum is 0
    for z in ([1000.0, 0.0], [800.0, 790.0], [-800.0, -790.0], [0.5, 700.0]):
        assert close(compiled(z), transform(z))


@pytest.mark.parametrize(
    ("f", "x"),
    [
        (lambda x: x.log(), -1.0),
        (lambda x: x.log(), 0.0),
        (lambda x: x**0.5, -1.0),
        (lambda x: x ** (-1.0), 0.0),
        (lambda x: (x * 2.0).log().tanh(), -3.0),
    ],
)
def test_a_gradient_alone_still_checks_every_forward_step(f: Any, x: float) -> None:
    """compile(grad(f)) computes the forward steps too, so domain errors are raised."""
    compiled = ag.compile(ag.grad(f))
    compiled(2.0)
    with pytest.raises(ValueError, match="is undefined") as ours:
        compiled(x)
    with pytest.raises(ValueError, match="is undefined") as eager:
        ag.grad(f)(x)
    assert str(ours.value) == str(eager.value)


def test_transforms_inside_a_traced_function_are_traced_too() -> None:
    def f(x: Value) -> Value:
        return x * ag.grad(lambda y: x * y)(1.0)  # = x², so f' = 2x

    assert ag.compile(ag.grad(f))(1.0) == ag.grad(f)(1.0) == 2.0
    assert ag.compile(ag.grad(f))(3.0) == 6.0
    with pytest.raises(ag.TraceError, match=r"ag\.compile\(ag\.grad\(f\)\)"):
        ag.compile(lambda x: ag.grad(lambda y: y.relu() * y)(x))(2.0)


@pytest.mark.parametrize("point", [(0.0, 0.0), (-1.0, 2.0), (0.0, 0.5), (2.0, 0.0), (0.0, 2.0)])
def test_hessians_of_pow_at_singular_points_equal_eager(point: tuple[float, float]) -> None:
    hessian = ag.hessian(lambda x, y: x**y)
    assert close(ag.compile(hessian)(*point), hessian(*point))


@pytest.mark.parametrize(
    ("f", "x"),
    [
        (lambda x: x**0, 0.0),
        (lambda x: x**1, 0.0),
        (lambda x: x**2, 0.0),
        (lambda x: abs(x) * x, 0.0),
    ],
)
def test_third_derivatives_at_zero_equal_eager(f: Any, x: float) -> None:
    third = ag.grad(ag.grad(ag.grad(f)))
    assert close(ag.compile(third)(x), third(x))


@pytest.mark.parametrize(
    ("f", "operation"),
    [
        (lambda x: x * x.detach(), "detach"),
        (lambda x: _under_no_grad(x), "no_grad"),
    ],
)
def test_values_frozen_by_detach_or_no_grad_are_trace_errors(f: Any, operation: str) -> None:
    with pytest.raises(ag.TraceError, match=operation):
        ag.compile(f)(3.0)


def _under_no_grad(x: Value) -> Value:
    with ag.no_grad():
        y = x * 2
    return x + y


def test_numbers_that_do_not_fit_and_empty_lists_are_refused() -> None:
    with pytest.raises(ValueError, match="fit in a float"):
        ag.compile(lambda x: x * 2)(10**400)
    with pytest.raises(ValueError, match="empty list"):
        ag.compile(ag.grad(lambda xs, y: y * 2))([], 1.0)


def test_reading_data_while_tracing_never_bakes_in_the_traced_call() -> None:
    """`x.data` is the number of the call being traced: compiled code must not keep it."""
    f = lambda x: x * 2 if x.data > 0 else -x
    assert f(Value(-3.0)).data == 3.0
    with pytest.raises(ag.TraceError, match=r"\.data"):
        ag.compile(f)(-3.0)
    kept: list[Value] = []
    square = ag.compile(lambda x: kept.append(x) or x * x)
    assert square(3.0) == 9.0
    assert kept[0].data == 3.0  # read after tracing, a placeholder is a number again
    assert ag.compile(lambda x: (x * 2).relu().log())(4.0) == math.log(8.0)  # the engine reads it


def test_no_value_computed_from_a_traced_one_gives_its_number_while_tracing() -> None:
    """Every node computed from a placeholder stands for a number that changes per call."""
    f = lambda x: x * 2 if (x + 1).data > 0 else -x
    assert f(Value(-3.0)).data == 3.0
    with pytest.raises(ag.TraceError, match=r"\.data"):
        ag.compile(f)(-3.0)

    def g(x: Value) -> Value:
        y = x * 2
        return y * 3 if y.data > 0 else -x

    assert g(Value(-3.0)).data == 3.0
    with pytest.raises(ag.TraceError, match=r"\.data"):
        ag.compile(g)(-3.0)
    kept: list[Value] = []
    double = ag.compile(lambda x: kept.append(y := (x * 2).exp().log()) or y)
    assert double(3.0) == 6.0
    assert kept[0].data == 6.0  # read after tracing, an intermediate is a number again
    c = Value(2.0)
    assert ag.compile(lambda x: x * (c * 3.0).data)(1.0) == 6.0  # constants stay numbers
    assert type(Value(2.0) * 3.0) is Value  # eager nodes made afterwards are plain


def test_a_bound_parameter_is_traced_too() -> None:
    """In ``trace_gradient`` a closed-over weight is an input: its number changes per call."""
    from autograd_lite.compiler import trace_gradient

    w = Value(3.0)
    for f in (
        lambda x: w * x if (w * 2.0).data > 0 else -x,
        lambda x: w * x if w.data > 0 else -x,
        lambda x: w * x if (w * x).data > 0 else -x,
    ):
        with pytest.raises(ag.TraceError, match=r"\.data"):
            trace_gradient(f, [2.0], [w])
    assert type(w) is Value  # a plain Value again
    assert w.data == 3.0
    assert ag.grad_mode.threads_tracing == 0  # and eager nodes are plain Values again
    step = trace_gradient(lambda x: (w * x) ** 2, [2.0], [w])
    assert step.function([3.0], 2.0) == (36.0, [24.0])
    assert type(w) is Value


def test_the_first_call_inside_no_grad_traces_and_runs() -> None:
    square = ag.compile(lambda x: x * x)
    slope = ag.compile(ag.grad(lambda x: x.atan() * x))
    with ag.no_grad():
        assert square(3.0) == 9.0
        assert slope(1.0) == ag.grad(lambda x: x.atan() * x)(1.0)
        assert not ag.is_grad_enabled()  # and no_grad still holds afterwards
    with ag.no_grad(), pytest.raises(ag.TraceError, match="no_grad"):
        ag.compile(_under_no_grad)(3.0)  # no_grad inside the function is still refused


def test_a_primitive_name_is_written_into_comments_only() -> None:
    """A name is any text: a newline in it must not end a comment and become code."""
    evil = ops.Primitive("evil\n    return 42.0\n#", lambda x: x, (1.0,))
    hostile = ops.Primitive("a\u2028b\rc", lambda x: x, (1.0,))

    def f(x: Value) -> Value:
        return ag.apply(hostile, ag.apply(evil, x)) * 2.0

    compiled = ag.compile(ag.value_and_grad(f))
    assert compiled(3.0) == (6.0, 2.0)
    assert "evil\\n    return 42.0\\n#" in compiled.source  # escaped, inside a comment
    assert compiled.source.splitlines() == compiled.source.rstrip("\n").split("\n")
    assert [line for line in compiled.source.splitlines() if "return" in line.split("#")[0]] == [
        compiled.source.splitlines()[-1]
    ]


def test_the_source_is_in_linecache_while_its_program_lives() -> None:
    """Tracebacks show generated lines; the entry goes when the program is freed."""
    import gc
    import linecache

    def entries() -> set[str]:
        return {name for name in linecache.cache if name.startswith("<autograd_lite.compile")}

    gc.collect()
    before = entries()  # programs of other tests: they may go meanwhile, none may come
    compiled = ag.compile(lambda x: (x * 3.0).log())
    program = compiled.generated(2.0)
    assert linecache.getline(program.filename, 2).strip() == program.source.splitlines()[1].strip()
    for k in range(20):
        ag.compile(lambda x, k=k: x * k)(1.0)  # made, run and dropped
    gc.collect()
    assert entries() - before == {program.filename}
    del compiled, program
    gc.collect()
    assert not entries() - before


def test_the_writer_changes_no_term_and_writes_the_same_source_twice() -> None:
    from autograd_lite.compiler.terms import Program, dependencies, flatten
    from autograd_lite.compiler.tracing import new_input, program
    from autograd_lite.compiler.writer import write

    x = new_input(0.5, "x")
    traced: list[Any] = []
    out = program(ag.value_and_grad(lambda v: (v * v).tanh() * v), [x], traced)
    terms = dependencies([*flatten(out), *traced])
    before = [(t.name, t.kind, t.grad_of, t.note, t.args) for t in terms]
    first = write(Program("f", [("x", x)], out, tuple(traced)))
    second = write(Program("f", [("x", x)], out, tuple(traced)))
    assert first.source == second.source
    assert [(t.name, t.kind, t.grad_of, t.note, t.args) for t in terms] == before
    assert all(t.name == "" for t in terms if t.op != "input")
    assert set(first.line_map.values()) == set(traced)  # a line for every node of the graph
    assert set(first.functions) == {"tanh"}


def test_programs_are_made_of_table_primitives_only() -> None:
    """where and the conditions are op-table entries: the writer knows no other ops."""
    compiled = ag.compile(ag.hessian(lambda x, y: (x * y).relu() + abs(x) ** y))
    assert compiled(0.5, 2.0) == ag.hessian(lambda x, y: (x * y).relu() + abs(x) ** y)(0.5, 2.0)
    ops_used = {term.op for term in compiled.generated(0.5, 2.0).names}
    assert all(op == "input" or isinstance(op, ops.Primitive) for op in ops_used)
    assert ops.WHERE in ops_used
    assert ops.CONDITIONS[">"] in ops_used
    assert "where(" in compiled.source
    assert " > " in compiled.source


# --- the grouped program of a compiled function --------------------------------------------


def hand_layer_loss(w: list[Value], x: list[Value], t: Value) -> Value:
    """Four relu neurons of three inputs, then one linear neuron, written by hand."""
    hidden = [sum((w[4 * i + j] * x[j] for j in range(3)), w[4 * i + 3]).relu() for i in range(4)]
    out = sum((w[16 + i] * hidden[i] for i in range(4)), w[20])
    return (out - t) ** 2


def hand_layer_example() -> tuple[list[float], list[float]]:
    import random

    rng = random.Random(0)
    return [rng.uniform(-1.0, 1.0) for _ in range(21)], [0.1, -0.2, 0.3]


def test_a_hand_written_layer_is_one_matrix_product_in_the_grouped_source() -> None:
    pytest.importorskip("numpy")
    w0, x0 = hand_layer_example()
    step = ag.compile(ag.value_and_grad(hand_layer_loss))
    program = step.grouped(w0, x0, 1.0)
    assert program is not None
    forward = program.source.split("# backward")[0]
    code = [line.split("#")[0].strip() for line in forward.splitlines()]
    assert [line for line in code if "relu" in line or "x" in line.split()] == [
        "h0 = relu(x @ W0.T + b0)"  # the four neurons: one line, no neuron by itself
    ]
    assert program.stats["products"] == 2  # the layer and the output neuron


@pytest.mark.parametrize("transform", [ag.value_and_grad, ag.grad, lambda f: f])
def test_the_grouped_program_gives_the_compiled_gradients(transform: Any) -> None:
    np = pytest.importorskip("numpy")
    w0, x0 = hand_layer_example()
    step = ag.compile(ag.value_and_grad(hand_layer_loss))
    program = ag.compile(transform(hand_layer_loss)).grouped(w0, x0, 1.0)
    assert program is not None
    rng = np.random.default_rng(1)
    theta = rng.uniform(-1.0, 1.0, 21)  # not the parameters it was traced at
    X, targets = rng.normal(size=(7, 3)), rng.normal(size=7)
    losses, outputs, grad = program.run(theta, X, targets)
    compiled = [step(theta.tolist(), x.tolist(), float(t)) for x, t in zip(X, targets, strict=True)]
    assert outputs.shape == (7, 0)
    assert losses.tolist() == pytest.approx([loss for loss, _ in compiled], rel=1e-12, abs=1e-300)
    summed = np.sum([g for _, g in compiled], axis=0)
    assert grad.tolist() == pytest.approx(summed.tolist(), rel=1e-12, abs=1e-12)


def test_grouped_without_a_target_and_with_an_output() -> None:
    np = pytest.importorskip("numpy")

    def layer(w: list[Value], x: list[Value]) -> tuple[Value, list[Value]]:
        z = [(w[3 * i] * x[0] + w[3 * i + 1] * x[1] + w[3 * i + 2]).tanh() for i in range(3)]
        return sum(z, Value(0.0)), z

    w0 = [0.1 * k - 0.4 for k in range(9)]
    program = ag.compile(layer).grouped(w0, [1.0, 2.0])
    assert program is not None
    assert "x @ W0.T + b0" in program.source
    X = np.array([[1.0, 2.0], [-0.5, 0.25]])
    losses, outputs, grad = program.run(w0, X)
    eager = [ag.compile(layer)(w0, x.tolist()) for x in X]
    assert losses.tolist() == pytest.approx([loss for loss, _ in eager], rel=1e-12)
    assert outputs.ravel().tolist() == pytest.approx([v for _, z in eager for v in z], rel=1e-12)
    slopes = ag.compile(ag.grad(lambda w, x: layer(w, x)[0]))
    summed = np.sum([slopes(w0, x.tolist()) for x in X], axis=0)
    assert grad.tolist() == pytest.approx(summed.tolist(), rel=1e-12)


def test_grouped_is_none_without_numpy_or_without_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("numpy")
    from autograd_lite.compiler import vectorize

    w0, x0 = hand_layer_example()
    step = ag.compile(ag.value_and_grad(hand_layer_loss))
    assert ag.compile(lambda w, x: (w[0] * x[0]).tanh()).grouped([2.0], [1.0]) is None
    monkeypatch.setattr(vectorize, "numpy", lambda: None)
    assert step.grouped(w0, x0, 1.0) is None


@pytest.mark.parametrize(
    "args",
    [([1.0, 2.0],), (1.0, [2.0]), ([1.0], 2.0), ([1.0], [2.0], [3.0]), ([1.0], [2.0], 3.0, 4.0)],
)
def test_grouped_takes_a_parameter_list_a_row_and_an_optional_target(args: tuple[Any, ...]) -> None:
    step = ag.compile(ag.value_and_grad(lambda w, x: w[0] * x[0]))
    with pytest.raises(TypeError, match=r"grouped takes \(params, x\) or \(params, x, t\)"):
        step.grouped(*args)


def test_grouped_raises_trace_error_for_control_flow_on_a_traced_value() -> None:
    pytest.importorskip("numpy")

    def branchy(w: list[Value], x: list[Value]) -> Value:
        return w[0] * x[0] if w[0] * x[0] > 0 else w[0]

    with pytest.raises(ag.TraceError, match="comparison"):
        ag.compile(branchy).grouped([1.0], [2.0])
