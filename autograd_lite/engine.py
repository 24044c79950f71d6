"""The engine: ``Value`` nodes, the op table applied to them, and reverse-mode differentiation.

A ``Value`` holds a float, the primitive that made it, its inputs (``inputs``, a tuple
in operand order) and the local partial derivatives ∂self/∂input as plain numbers,
computed once in the forward pass from :mod:`autograd_lite.ops`. Nodes never hold
closures, so a graph has no reference cycles and is freed by reference counting alone.
A node keeps its one or two inputs and their partials in four slots, not in tuples: one
object per node (why: the documentation's "Design rationale").

``backward`` and :func:`gradients` share one reverse sweep, :func:`reverse_sweep`: visit the
nodes in reverse :func:`topological_order` (found iteratively, so depth is unlimited) and add
``partial * grad(node)`` into each input's gradient. With ``create_graph=True`` the
same sweep asks the op table for the partials as ``Value`` s, so the gradients are
themselves differentiable. Grad mode (``no_grad``) and the tracing guard live in
:mod:`autograd_lite.grad_mode`, below this module.
"""

from __future__ import annotations

import functools
import itertools
import numbers
import operator
import threading
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from types import SimpleNamespace
from typing import Any, ClassVar

from . import grad_mode
from .grad_mode import enable_grad, gc_paused, refuse_while_tracing
from .ops import (
    ABS,
    ADD,
    ATAN,
    COS,
    DIV,
    EXP,
    FLOAT_MATH,
    LOG,
    MATH,
    MUL,
    NEG,
    POW,
    RELU,
    SIGMOID,
    SIN,
    SOFTPLUS,
    SQRT,
    SUB,
    TANH,
    Primitive,
)  # fmt: skip

__all__ = ["Value", "apply", "gradients", "reverse_sweep", "topological_order"]

# --- Value -------------------------------------------------------------------------


def _as_float(data: object) -> float:
    if type(data) is float:
        return data
    if isinstance(data, Value):
        raise TypeError("Value() takes a number, not a Value; use v.detach() for a copy")
    if isinstance(data, numbers.Real):  # every number entering a graph comes through here
        try:
            return float(data)
        except OverflowError:  # an int past 1.8e308: say so, not just "int too large"
            raise ValueError(
                "Value() and its operators take a number that fits in a float (|x| < 1.8e308),"
                f" got {type(data).__name__} {str(data)[:12]}... that does not"
            ) from None
    raise TypeError(
        f"Value() takes a real number (int, float or bool), got {type(data).__name__}: {data!r}"
    )


class Value:
    """A scalar in a computation graph, with the gradient that ``backward`` finds.

    Attributes:
        data: the number (always a float).
        grad: ∂root/∂self after ``root.backward()``; leaves accumulate, call after call.
        grad_value: for leaves after ``backward(create_graph=True)``, the same gradient
            as a differentiable ``Value`` (``None`` otherwise); always equal to ``grad``.
        requires_grad: whether gradients flow to this node.
        label: a name for drawings and ``repr``.

    Args:
        data: A real number (int, float or bool).
        label: A name for drawings and ``repr``.
        requires_grad: Whether gradients flow to this node.

    Raises:
        TypeError: For data that is not a real number (a ``Value`` included: use ``detach``),
            or a ``requires_grad`` that is not a bool.
        ValueError: For an int too large for a float.

    >>> x = Value(3.0, label="x")
    >>> y = x * x + 2 * x
    >>> y.backward(); x.grad    # d(x² + 2x)/dx = 2x + 2
    8.0
    """

    __slots__ = (
        "__weakref__", "_a", "_b", "_da", "_db", "_grad_value", "_op", "_stamp", "data", "grad",
        "label", "requires_grad",
    )  # fmt: skip

    data: float
    grad: float
    requires_grad: bool
    label: str
    _op: Primitive | None  # the primitive that made this node; None for a leaf
    _a: Value | None  # first input (None for a leaf) and ∂self/∂_a
    _da: float
    _b: Value | None  # second input (None for a leaf or a unary op) and ∂self/∂_b
    _db: float
    _stamp: int  # creation order of interior nodes (inputs are always older); 0 for leaves
    _grad_value: tuple[Value, float] | None  # (differentiable gradient, .grad when it was set)
    _traced: ClassVar[bool] = False  # the compiler's subclass for traced Values sets it

    def __init__(self, data: float, label: str = "", requires_grad: bool = True) -> None:
        if not isinstance(requires_grad, bool):
            raise TypeError(f"requires_grad must be True or False, got {requires_grad!r}")
        self.data = _as_float(data)
        self.grad = 0.0
        self._grad_value = None
        self.requires_grad = requires_grad
        self.label = str(label)
        self._op = self._a = self._b = None
        self._da = self._db = 0.0
        self._stamp = 0

    @property
    def grad_value(self) -> Value | None:
        """The gradient as a differentiable Value, left by ``backward(create_graph=True)``.

        Its ``data`` always equals ``grad``: what later float-only ``backward()`` calls
        added has no history, so it joins as a constant.
        """
        if self._grad_value is None:
            return None
        value, grad_then = self._grad_value
        return value if self.grad == grad_then else value + (self.grad - grad_then)

    @grad_value.setter
    def grad_value(self, value: Value | None) -> None:
        self._grad_value = None if value is None else (value, value.data)

    def __reduce_ex__(self, protocol: object) -> tuple[Any, ...]:
        """Copying and pickling (``copy``, ``deepcopy``, ``pickle``) take a leaf's number,
        gradient, label and flag; a Value with history refuses, as PyTorch's non-leaf
        tensors do: copying a graph node by node is neither cheap nor safe at depth."""
        if self._a is not None:
            raise TypeError(
                f"cannot copy or pickle a Value computed by {self._op.name!r}: only leaves "  # type: ignore[union-attr]
                "can be. Copy v.detach(), or save a model with ag.save"
            )
        return _leaf, (self.data, self.grad, self.label, self.requires_grad)

    @property
    def inputs(self) -> tuple[Value, ...]:
        """The Values this one was computed from, in operand order (``()`` for a leaf)."""
        if self._a is None:
            return ()
        return (self._a,) if self._b is None else (self._a, self._b)

    @property
    def op(self) -> Primitive | None:
        """The primitive from :mod:`autograd_lite.ops` that made this node (None for a leaf)."""
        return self._op

    @property
    def local_grads(self) -> tuple[float, ...]:
        """∂self/∂input for each of ``inputs``, as computed in the forward pass."""
        return (self._da, self._db)[: len(self.inputs)]

    # Every method below is one line: the op table does the work (see `apply`).
    def __add__(self, other: Value | float) -> Value:
        return _binary(ADD, self, other)

    def __radd__(self, other: Value | float) -> Value:
        return _binary(ADD, other, self)

    def __sub__(self, other: Value | float) -> Value:
        return _binary(SUB, self, other)

    def __rsub__(self, other: Value | float) -> Value:
        return _binary(SUB, other, self)

    def __mul__(self, other: Value | float) -> Value:
        return _binary(MUL, self, other)

    def __rmul__(self, other: Value | float) -> Value:
        return _binary(MUL, other, self)

    def __truediv__(self, other: Value | float) -> Value:
        return _binary(DIV, self, other)

    def __rtruediv__(self, other: Value | float) -> Value:
        return _binary(DIV, other, self)

    def __pow__(self, exponent: Value | float) -> Value:
        return _binary(POW, self, exponent)

    def __rpow__(self, base: Value | float) -> Value:
        return _binary(POW, base, self)

    def __neg__(self) -> Value:
        return _unary(NEG, self)

    def __pos__(self) -> Value:
        return self

    def __abs__(self) -> Value:
        return _unary(ABS, self)

    def exp(self) -> Value:
        """e^x. ∂/∂x = e^x. Overflow gives inf."""
        return _unary(EXP, self)

    def log(self) -> Value:
        """Natural logarithm, for x > 0. ∂/∂x = 1/x."""
        return _unary(LOG, self)

    def sqrt(self) -> Value:
        """√x, for x ≥ 0. ∂/∂x = 1/(2√x), inf at 0."""
        return _unary(SQRT, self)

    def sin(self) -> Value:
        """sin x. ∂/∂x = cos x."""
        return _unary(SIN, self)

    def cos(self) -> Value:
        """cos x. ∂/∂x = -sin x."""
        return _unary(COS, self)

    def tanh(self) -> Value:
        """tanh x, exact for any input. ∂/∂x = 1 - tanh²x."""
        return _unary(TANH, self)

    def sigmoid(self) -> Value:
        """1/(1 + e^-x), stable for any input. ∂/∂x = σ(x)(1 - σ(x))."""
        return _unary(SIGMOID, self)

    def softplus(self) -> Value:
        """log(1 + e^x), stable for any input. ∂/∂x = σ(x)."""
        return _unary(SOFTPLUS, self)

    def relu(self) -> Value:
        """max(x, 0). ∂/∂x = 1 for x > 0, else 0 (so relu'(0) = 0, as PyTorch)."""
        return _unary(RELU, self)

    def atan(self) -> Value:
        """arctan x, in (-π/2, π/2). ∂/∂x = 1/(1 + x²)."""
        return _unary(ATAN, self)

    # Comparisons look at .data; == and hash stay identity-based (Values live in sets).
    def __lt__(self, other: Value | float) -> bool:
        return _compare(operator.lt, self, other)

    def __le__(self, other: Value | float) -> bool:
        return _compare(operator.le, self, other)

    def __gt__(self, other: Value | float) -> bool:
        return _compare(operator.gt, self, other)

    def __ge__(self, other: Value | float) -> bool:
        return _compare(operator.ge, self, other)

    def __float__(self) -> float:
        refuse_while_tracing("float()")
        return self.data

    def item(self) -> float:
        """The number, as PyTorch's ``tensor.item()``: ``float(self)`` (read outside tracing).

        >>> (Value(2.0) * 3).item()
        6.0
        """
        return self.__float__()

    def __bool__(self) -> bool:
        refuse_while_tracing("bool() (an `if`, `and`, `or` or `not`)")
        return self.data != 0.0

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data!r}, grad={self.grad!r}{label})"

    def detach(self) -> Value:
        """A new leaf with the same data and label, no history and ``requires_grad=False``.

        >>> Value(2.0).detach().requires_grad
        False
        """
        refuse_while_tracing("detach()")
        return Value(self.data, self.label, requires_grad=False)

    def backward(self, gradient: Value | float = 1.0, *, create_graph: bool = False) -> None:
        """Fill ``.grad`` of every node this one depends on with ∂self/∂node.

        The rules (PyTorch's):

        - the root is seeded with ``gradient``; each node adds ``partial * grad`` into
          every input it uses, once per use (``x * x`` has two edges: 2x);
        - nodes are visited in reverse topological order found without recursion, so
          any depth works at the default recursion limit;
        - interior nodes get their ``.grad`` recomputed from zero on every call, while
          leaves *accumulate* across calls until zeroed: calling twice doubles them;
        - leaves with ``requires_grad=False`` and number constants get no gradient;
        - with ``create_graph=True`` each leaf also gets ``grad_value``, the gradient
          as a ``Value`` that can be differentiated again.

        Args:
            gradient: The seed, ∂(something)/∂self; 1.0 for ∂self/∂self.
            create_graph: Make the gradients differentiable (see ``grad_value``).

        Raises:
            TypeError: If ``gradient`` is neither a number nor a ``Value``.
            RuntimeError: If this Value does not require grad.

        >>> x = Value(3.0)
        >>> y = x ** 3
        >>> y.backward(); y.backward(); x.grad   # 27 + 27
        54.0
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward() on a Value that does not require grad: it was computed from "
                "constants only, or under no_grad()"
            )
        seed = _seed(gradient, create_graph)
        with _backward_lock:  # threads may share nodes: one sweep at a time uses .grad
            if create_graph:
                for node, g in reverse_sweep(self, seed, create_graph=True).items():
                    interior = node._a is not None
                    previous = node.grad_value
                    node.grad = (0.0 if interior else node.grad) + _to_value(g).data
                    if not interior:
                        node.grad_value = _to_value(g if previous is None else previous + g)
            else:
                self._float_sweep(seed)  # type: ignore[arg-type]

    def _float_sweep(self, seed: float) -> None:
        # The float fast path: the running sums live on the nodes themselves.
        order = topological_order(self, leaves=False)
        for node in order:
            node.grad = 0.0  # interior gradients are recomputed from zero on every call
        self.grad = float(seed) if self._a is not None else self.grad + float(seed)
        for node in reversed(order):
            g = node.grad
            a, b = node._a, node._b
            if a.requires_grad:  # type: ignore[union-attr]  # interior: a is set
                a.grad += node._da * g  # type: ignore[union-attr]  # leaves accumulate
            if b is not None and b.requires_grad:
                b.grad += node._db * g


def _compare(relation: Callable[[float, float], bool], a: Value, b: object) -> bool:
    refuse_while_tracing(f"a comparison ({relation.__name__})")
    other = b if isinstance(b, Value) else _constant(b)
    return NotImplemented if other is None else relation(a.data, other.data)


def _to_value(x: Value | float) -> Value:
    return x if isinstance(x, Value) else _node(x)


_backward_lock = threading.Lock()
_allocate = object.__new__
_clock = itertools.count(1)  # stamps interior nodes in creation order (atomic under the GIL)


def _node(
    data: float,
    op: Primitive | None = None,
    a: Value | None = None,
    da: float = 0.0,
    b: Value | None = None,
    db: float = 0.0,
) -> Value:
    """A Value made without ``__init__``'s checks: ``data`` is already a float.

    With no ``op`` it is a constant leaf (``requires_grad=False``); otherwise an
    interior node, which always requires grad.
    """
    node = _allocate(_traced_class(a, b) if grad_mode.threads_tracing else Value)
    node.data = data
    node.grad = 0.0
    node._grad_value = None
    node.requires_grad = op is not None
    node.label = ""
    node._op = op
    node._a = a
    node._da = da
    node._b = b
    node._db = db
    node._stamp = next(_clock) if op is not None else 0
    return node


def _traced_class(a: Value | None, b: Value | None) -> type[Value]:
    """While tracing, a node computed from a traced Value is traced too (takes its class)."""
    if a is not None and a._traced:
        return type(a)
    return type(b) if b is not None and b._traced else Value


def _leaf(data: float, grad: float, label: str, requires_grad: bool) -> Value:
    """A leaf rebuilt from what ``__reduce_ex__`` kept: how copies and unpickling make one."""
    node = Value(data, label, requires_grad)
    node.grad = grad
    return node


def _constant(x: object) -> Value | None:
    """A number operand as a leaf that needs no gradient; None if it is no number."""
    if type(x) is float:  # the common case, before the slower abstract check
        return _node(x)
    return _node(_as_float(x)) if isinstance(x, numbers.Real) else None


def domain_error(op: Primitive, args: tuple[float, ...], error: Exception) -> ValueError:
    """The error for ``op`` outside its domain, naming the op and the values (eager or compiled).

    Args:
        op: The primitive.
        args: The numbers it was applied to.
        error: What its forward rule raised.

    Returns:
        A ``ValueError`` to raise.
    """
    shown = f"{args[0]!r} {op.name} {args[1]!r}" if len(args) == 2 else f"{op.name}({args[0]!r})"
    return ValueError(f"{shown} is undefined ({error})")


def _without_history(data: float) -> Value:
    refuse_while_tracing("an operation under no_grad()")  # its result would be a constant
    return _node(data)


def _unary(op: Primitive, a: Value) -> Value:
    x = a.data
    try:
        data = op.forward(x)
    except (ValueError, ArithmeticError) as error:
        raise domain_error(op, (x,), error) from error
    if not a.requires_grad:
        return _node(data)
    if grad_mode.threads_without_grad and not grad_mode.mode.enabled:
        return _without_history(data)
    rule = op.partials[0]
    partial = rule if op.constant else rule(x, data, FLOAT_MATH)  # type: ignore[operator]
    return _node(data, op, a, partial)  # type: ignore[arg-type]


def _binary(op: Primitive, a: Value | float, b: Value | float) -> Value:
    if not isinstance(a, Value):
        a = _constant(a)  # type: ignore[assignment]
        if a is None:
            return NotImplemented
    if not isinstance(b, Value):
        b = _constant(b)  # type: ignore[assignment]
        if b is None:
            return NotImplemented
    x, y = a.data, b.data  # type: ignore[union-attr]
    try:
        data = op.forward(x, y)
    except (ValueError, ArithmeticError) as error:
        raise domain_error(op, (x, y), error) from error
    a_needs, b_needs = a.requires_grad, b.requires_grad  # type: ignore[union-attr]
    if not (a_needs or b_needs):
        return _node(data)
    if grad_mode.threads_without_grad and not grad_mode.mode.enabled:
        return _without_history(data)
    da, db = op.partials
    if not op.constant:  # only the partials someone needs: `x ** 2` never takes log(x)
        da = da(x, y, data, FLOAT_MATH) if a_needs else 0.0  # type: ignore[operator]
        db = db(x, y, data, FLOAT_MATH) if b_needs else 0.0  # type: ignore[operator]
    return _node(data, op, a, da, b, db)  # type: ignore[arg-type]


def apply(op: Primitive, *inputs: Value | float) -> Value:
    """Apply a primitive from the op table to Values or numbers, recording the node.

    The public hook the operators and methods of ``Value`` go through.

    Args:
        op: An entry of ``ops.PRIMITIVES``.
        *inputs: One Value or number per input of ``op``.

    Returns:
        The new node.

    Raises:
        TypeError: For the wrong number or kind of inputs.
        ValueError: Naming the op and values, outside the op's domain.

    >>> apply(MUL, Value(3.0), 4).data
    12.0
    """
    lifted = [x if isinstance(x, Value) else _constant(x) for x in inputs]
    if len(lifted) != op.arity or any(x is None for x in lifted):
        names = ", ".join(type(x).__name__ for x in inputs)
        raise TypeError(f"{op.name} takes {op.arity} Value(s) or number(s), got ({names})")
    return _unary(op, *lifted) if op.arity == 1 else _binary(op, *lifted)  # type: ignore[arg-type]


# --- reverse mode ------------------------------------------------------------------


def topological_order(roots: Value | Iterable[Value], *, leaves: bool = True) -> list[Value]:
    """Every node the roots depend on, the roots included, each after all its inputs.

    The one graph order of the package: ``backward`` walks it in reverse, drawings
    number their nodes by it, the compiler writes its lines in it. An input is always
    created before the nodes that use it, so one depth-first loop collects the nodes
    (no recursion: any depth works at the default recursion limit) and one sort by
    creation stamp orders them, deterministically. Leaves come first, in the order
    found; ``leaves=False`` leaves them out (backward has nothing to do there).

    Args:
        roots: A Value or several.
        leaves: Whether to include the leaves.

    Returns:
        The nodes, inputs before the nodes that use them.

    >>> x = Value(2.0, label="x")
    >>> [v.label or v.op.name for v in topological_order((x * x).exp())]
    ['x', '*', 'exp']
    """
    found: set[Value] = set()
    order: list[Value] = []
    for root in [roots] if isinstance(roots, Value) else roots:
        if (leaves or root._a is not None) and root not in found:
            found.add(root)
            order.append(root)
    stack = order.copy()
    while stack:  # written out for the two inputs: this loop is most of backward's time
        node = stack.pop()
        a, b = node._a, node._b
        if a is not None and (leaves or a._a is not None) and a not in found:
            found.add(a)
            order.append(a)
            stack.append(a)
        if b is not None and (leaves or b._a is not None) and b not in found:
            found.add(b)
            order.append(b)
            stack.append(b)
    order.sort(key=_by_stamp)  # found depth-first from the roots: nearly sorted already
    return order


_by_stamp = operator.attrgetter("_stamp")


def _value_partials(node: Value) -> list[Value | float]:
    """The node's local partials as differentiable Values (0.0 where none is needed)."""
    inputs = node.inputs
    rules = node._op.partials  # type: ignore[union-attr]  # interior nodes have an op
    return [
        0.0
        if not x.requires_grad
        else rule
        if isinstance(rule, float)
        else rule(*inputs, node, VALUE_MATH)
        for rule, x in zip(rules, inputs, strict=True)
    ]


def reverse_sweep(
    root: Value,
    gradient: Value | float = 1.0,
    *,
    create_graph: bool = False,
    on_edge: Callable[[Value, Any, Value, Any, Any], object] | None = None,
) -> dict[Value, Any]:
    """∂root/∂node for every node ``root`` depends on, keyed by node, touching no ``.grad``.

    The one reverse sweep of the package: ``backward(create_graph=True)`` and
    :func:`gradients` run it, and ``on_edge`` lets a caller watch it (``backward_steps`` does).
    Nodes are visited in reverse :func:`topological_order`; at each node ``n`` with gradient
    ``g``, every input ``x`` that requires grad gets ``total(x) += ∂n/∂x · g``. The sums are
    floats, or with ``create_graph`` Values recorded in the graph (the partials then come
    from the op table as Values), so they can be differentiated again. The root maps to
    ``gradient``; a node the root does not depend on is absent.

    Args:
        root: the Value to differentiate.
        gradient: the seed ∂L/∂root (a number, or a Value with ``create_graph``).
        create_graph: return differentiable Values instead of floats.
        on_edge: called as ``on_edge(node, g, input, partial, total)`` after each edge is
            added, in visiting order, with the input's running total.

    Returns:
        A dict from each node to ∂root/∂node.

    >>> from autograd_lite import Value
    >>> x = Value(3.0, label="x")
    >>> edges = []
    >>> reverse_sweep(x * x, on_edge=lambda *edge: edges.append(edge[3:]))[x]
    6.0
    >>> edges          # (partial, running total) for each of the two edges into x
    [(3.0, 3.0), (3.0, 6.0)]
    """
    seed = _seed(gradient, create_graph)
    grads: dict[Value, Any] = {root: seed}
    with enable_grad() if create_graph else nullcontext(), gc_paused():  # no cycles made
        for node in reversed(topological_order(root, leaves=False)):
            g = grads[node]
            local = _value_partials(node) if create_graph else (node._da, node._db)
            for child, partial in zip(node.inputs, local):
                if child.requires_grad:
                    previous = grads.get(child)
                    grads[child] = partial * g if previous is None else previous + partial * g
                    if on_edge is not None:
                        on_edge(node, g, child, partial, grads[child])
    return grads


def _seed(gradient: object, create_graph: bool) -> Value | float:
    if isinstance(gradient, Value):
        return gradient if create_graph else gradient.data
    if isinstance(gradient, numbers.Real):
        return _as_float(gradient)
    raise TypeError(f"gradient must be a number or a Value, got {type(gradient).__name__}")


def gradients(
    output: Value,
    inputs: Iterable[Value],
    *,
    gradient: Value | float = 1.0,
    create_graph: bool = False,
) -> list[Value]:
    """∂output/∂x for each x of ``inputs``, as Values, leaving every ``.grad`` untouched.

    Like ``torch.autograd.grad``. An input the output does not depend on gets 0.0.
    With ``create_graph=True`` the results are part of the graph, so they can be
    differentiated again, to any order.

    Args:
        output: The Value to differentiate.
        inputs: The Values to differentiate by (each with ``requires_grad``).
        gradient: The seed, as in :meth:`Value.backward`.
        create_graph: Make the results differentiable.

    Returns:
        One ``Value`` per input.

    Raises:
        TypeError: If ``output`` or an input is not a ``Value``.
        ValueError: For an input with ``requires_grad=False``.

    >>> x = Value(3.0)
    >>> (dx,) = gradients(x ** 3, [x], create_graph=True)
    >>> dx.data, gradients(dx, [x])[0].data     # 3x², 6x
    (27.0, 18.0)
    """
    if not isinstance(output, Value):
        raise TypeError(f"output must be a Value, got {type(output).__name__}")
    inputs = list(inputs)
    for x in inputs:
        if not isinstance(x, Value):
            raise TypeError(f"inputs must be Values, got {type(x).__name__}")
        if not x.requires_grad:
            raise ValueError(f"{x!r} has requires_grad=False: it has no gradient")
    if not output.requires_grad:
        return [Value(0.0, requires_grad=False) for _ in inputs]
    grads = reverse_sweep(output, gradient, create_graph=create_graph)
    return [_to_value(grads.get(x, 0.0)) for x in inputs]


VALUE_MATH = SimpleNamespace(
    **{name: functools.partial(apply, op) for name, op in MATH.items()}, where=FLOAT_MATH.where
)
"""The math namespace partial rules get on Values: each function of ``ops.MATH`` recorded
as a node, so gradients can be differentiated again. ``where`` chooses by the data."""
