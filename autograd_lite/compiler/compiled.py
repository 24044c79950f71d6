"""The compiler's entry points: the stages in one pipeline, and what runs the result.

:func:`trace` and :func:`trace_gradient` run the stages in order (see :func:`generate`);
:class:`Generated` compiles the written source and runs it, on floats or over NumPy
columns; :class:`Compiled` (what :func:`compile` returns) keeps one program per argument
structure.

>>> step = trace_gradient(lambda x: x * x, [3.0], [])
>>> step.function([], 3.0)
(9.0, [])
"""

from __future__ import annotations

import builtins
import functools
import inspect
import itertools
import keyword
import linecache
import math
import numbers
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

from ..engine import Value, domain_error
from ..ops import Primitive
from .arrays import array_functions
from .sweep import differentiate
from .terms import Program, Term
from .tracing import describe, innermost, new_input, program, single, trace_values
from .vectorize import VectorProgram, vectorize
from .writer import Written, write

__all__ = ["Compiled", "Generated", "compile", "generate", "trace", "trace_gradient"]

_serial = itertools.count()  # makes each program's file name unique


def generate(traced: Program) -> Generated:
    """The last stages of the compiler's pipeline, run on a traced program.

    :func:`trace` and :func:`trace_gradient` run the first two, then call this:

    1. trace: :func:`~autograd_lite.compiler.tracing.program` ran ``f`` on placeholders
       and read its graph back as terms;
    2. sweep: :func:`~autograd_lite.compiler.sweep.differentiate` wrote each gradient
       asked for as terms (inside ``program`` for a transform);
    3. write: :func:`~autograd_lite.compiler.writer.write` names the terms and writes
       the source;
    4. compile: :class:`Generated` turns the source into a function.

    The grouping pass, :mod:`~autograd_lite.compiler.vectorize`, is the batched
    alternative to stages 2-4: it groups the traced forward graph into array operations
    and writes the backward pass with the matrix transposes (:meth:`Compiled.grouped`,
    and ``fit`` with NumPy).

    Args:
        traced: the program as stages 1 and 2 left it.

    Returns:
        The program, generated and compiled.
    """
    written = write(traced)  # 3. write
    return Generated(written)  # 4. compile


class Generated:
    """One traced program: its source, its function, and what each line computes.

    Attributes:
        name: the function's name.
        source: its Python source, one line per node (shown as the file
            ``filename`` in tracebacks for as long as the program lives).
        function: the function, on floats.
    """

    def __init__(self, written: Written) -> None:
        self.name = written.name
        self.source = written.source
        self.forward_lines: dict[int, Term] = written.line_map
        self.names = written.names
        self.functions = written.functions
        self.filename = f"<autograd_lite.compile {self.name} #{next(_serial)}>"
        _show_in_tracebacks(self, self.filename, self.source)
        self.globals: dict[str, Any] = {
            **{name: op.forward for name, op in self.functions.items()},
            "inf": math.inf,
            "nan": math.nan,
            "__builtins__": {},
        }
        self.code = builtins.compile(self.source, self.filename, "exec")
        self.function: Callable[..., Any] = self._define(self.globals)

    def _define(self, namespace: dict[str, Any]) -> Callable[..., Any]:
        local: dict[str, Any] = {}
        exec(self.code, namespace, local)  # noqa: S102
        return local[self.name]  # type: ignore[no-any-return]

    def run(self, *args: Any) -> Any:
        """Call the generated function; a domain error reads as the eager engine's.

        Args:
            *args: The generated function's arguments.

        Returns:
            What it returns.

        Raises:
            ValueError: Naming the op and values, for a domain error, as the eager engine does.
        """
        try:
            return self.function(*args)
        except (ValueError, ArithmeticError) as error:
            raise self.explain(error) from error

    def array_function(self) -> Callable[..., Any] | None:
        """The same code over NumPy arrays (one row per element), or None without NumPy
        or when a primitive of the program has no array form."""
        return self._over_columns

    @functools.cached_property
    def _over_columns(self) -> Callable[..., Any] | None:
        functions = array_functions(self.functions)
        return None if functions is None else self._define({**self.globals, **functions})

    def explain(self, error: Exception) -> Exception:
        """A domain error from a forward line, reported as the eager engine reports it.

        Args:
            error: What a line of the generated code raised.

        Returns:
            The error to raise.
        """
        tb: TracebackType | None = error.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != self.filename:
            tb = tb.tb_next
        term = self.forward_lines.get(tb.tb_lineno) if tb is not None else None
        if tb is None or term is None or not isinstance(term.op, Primitive):
            return error
        frame = tb.tb_frame.f_locals
        values = tuple(frame[self.names[a]] if isinstance(a, Term) else a for a in term.args)
        return domain_error(term.op, values, error)


def _show_in_tracebacks(program: Generated, filename: str, source: str) -> None:
    """Let tracebacks and ``inspect`` show ``source`` as ``filename`` while ``program``
    lives: the entry leaves ``linecache`` when the program is freed."""
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    weakref.finalize(program, linecache.cache.pop, filename, None)


# --- the public callable ----------------------------------------------------------------


def _floats(args: Sequence[Any]) -> tuple[tuple[int | None, ...], list[Any]]:
    """The arguments as floats, and the shape compiled code depends on: None for a
    number, the length of a list."""
    key: list[int | None] = []
    floats: list[Any] = []
    for arg in args:
        if isinstance(arg, (list, tuple)) and all(isinstance(x, numbers.Real) for x in arg):
            key.append(len(arg))
            floats.append([_float_argument(x) for x in arg])
        elif isinstance(arg, numbers.Real):
            key.append(None)
            floats.append(_float_argument(arg))
        else:
            hint = " (pass v.data)" if isinstance(arg, Value) else ""
            raise TypeError(
                "a compiled function takes numbers and flat lists of numbers, got "
                f"{type(arg).__name__}{hint}"
            )
    return tuple(key), floats


def _float_argument(x: Any) -> float:
    try:
        return float(x)
    except OverflowError:
        raise ValueError("a compiled function takes numbers that fit in a float") from None


def _parameter_names(f: Callable[..., Any], count: int) -> list[str]:
    try:
        parameters = list(inspect.signature(innermost(f)).parameters.values())
    except (TypeError, ValueError):
        parameters = []
    names = []
    for k in range(count):
        p = parameters[k] if k < len(parameters) else None
        plain = p is not None and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        names.append(p.name if plain and p is not None else f"a{k}")
    return names


def _function_name(f: Callable[..., Any]) -> str:
    text = describe(f).replace("<lambda>", "lambda").replace("<locals>", "")
    name = "".join(c if c.isalnum() else "_" for c in text.replace(")", "")).strip("_")
    while "__" in name:
        name = name.replace("__", "_")
    return name if name.isidentifier() and not keyword.iskeyword(name) else "compiled"


def _input_terms(names: list[str], args: Sequence[Any]) -> list[Term | list[Term]]:
    """One input term per number of ``args`` (a list of them for a list), named after
    the parameter it is passed as."""
    return [
        [new_input(x, f"{n}_{i}") for i, x in enumerate(a)]
        if isinstance(a, (list, tuple))
        else new_input(a, n)
        for n, a in zip(names, args, strict=True)
    ]


def trace(f: Callable[..., Any], args: Sequence[Any]) -> Generated:
    """Trace ``f`` on ``args`` (numbers, flat lists) and generate its code.

    Args:
        f: The function.
        args: Example arguments: numbers and flat lists of numbers.

    Returns:
        The :class:`Generated` program.
    """
    names = _parameter_names(f, len(args))
    inputs = _input_terms(names, args)
    traced: list[Term] = []
    output = program(f, inputs, traced)  # stages 1 and 2: trace, and sweep for transforms
    parameters = list(zip(names, inputs, strict=True))
    return generate(Program(_function_name(f), parameters, output, tuple(traced)))


def trace_gradient(
    f: Callable[..., Any],
    args: Sequence[Any],
    variables: Sequence[Value],
    name: str = "step",
    *,
    gradient: bool = True,
) -> Generated:
    """Trace ``f`` and the gradient of its first output with respect to ``variables``.

    ``variables`` are Values that ``f`` closes over, such as a model's parameters: the
    generated function takes their numbers as its first argument, a list, and returns
    ``(f's output, [∂first output/∂v for v in variables])`` (an empty list with
    ``gradient=False``). This is how ``fit`` compiles a model's per-example loss.

    Args:
        f: The function of ``args``.
        args: Example arguments: numbers and flat lists of numbers.
        variables: The closed-over Values to differentiate by.
        name: The generated function's name.
        gradient: Whether to write the gradient.

    Returns:
        The :class:`Generated` program.

    >>> w = Value(3.0)
    >>> step = trace_gradient(lambda x: (w * x) ** 2, [2.0], [w])
    >>> step.function([3.0], 2.0)   # (w x)², and its slope in w: 2 w x²
    (36.0, [24.0])
    """
    names = _parameter_names(f, len(args))
    inputs = _input_terms(names, args)
    weights = [new_input(v.data, f"p_{i}") for i, v in enumerate(variables)]
    traced: list[Term] = []
    out = trace_values(f, inputs, traced, dict(zip(variables, weights, strict=True)))  # 1
    first = single(f, out[0] if isinstance(out, tuple) else out)
    output = (out, differentiate(first, weights) if gradient else [])  # 2
    parameters = [("params", weights), *zip(names, inputs, strict=True)]
    return generate(Program(name, parameters, output, tuple(traced)))


class Compiled:
    """``f``, traced once per structure of arguments and run as generated Python.

    Call it like ``f`` with numbers and flat lists of numbers; it returns what ``f``
    returns, with floats for Values. ``source`` is the code of the latest structure;
    :meth:`grouped` is the program the vectorising pass makes of ``f(params, x)``.

    Args:
        f: The function (or a transform of one) to compile.
        cache_size: How many argument structures stay compiled.

    Raises:
        TypeError: If ``f`` is not callable.
        ValueError: If ``cache_size`` is not a positive int.
    """

    def __init__(self, f: Callable[..., Any], cache_size: int = 8) -> None:
        if not callable(f):
            raise TypeError(f"compile takes a function, got {type(f).__name__}")
        if not isinstance(cache_size, int) or cache_size < 1:
            raise ValueError(f"cache_size must be a positive int, got {cache_size!r}")
        self.f = f
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[int | None, ...], Generated] = OrderedDict()
        self._latest: Generated | None = None
        functools.update_wrapper(self, innermost(f), updated=())

    def __call__(self, *args: Any) -> Any:
        key, floats = _floats(args)
        return self._generated(key, floats).run(*floats)

    def generated(self, *args: Any) -> Generated:
        """The program for arguments shaped like ``args``, traced now if it is new."""
        return self._generated(*_floats(args))

    def grouped(self, *args: Any) -> VectorProgram | None:
        """The grouped program of ``f`` for a parameter list, a row and maybe a target.

        The vectorising pass (:func:`~autograd_lite.compiler.vectorize.vectorize`) reads
        the compiled function (inside any transform) as ``f(params, x)`` or
        ``f(params, x, t)``: the first argument, a list, holds the parameters the
        gradient is taken for, θ; the second, a list, is one input row; the optional
        third, a number, is the row's target. ``f`` returns its loss, or ``(loss,
        output)``. Dot products of ``x`` with parameters become matrix products over a
        batch, whatever transform is compiled (the program always differentiates by θ).
        The result's ``run(theta, X, targets)`` gives each row's loss, the outputs and the
        gradient summed over the rows of ``X`` (B, len(x)). It is built anew at each call:
        keep it.

        Args:
            *args: Example arguments: ``(params, x)`` or ``(params, x, t)``.

        Returns:
            The :class:`~autograd_lite.compiler.vectorize.VectorProgram`, or None
            without NumPy or when nothing in the graph groups.

        Raises:
            TypeError: If the arguments are not two lists of numbers and an optional number.
            TraceError: If ``f`` cannot be traced, as when it is called compiled.

        >>> import autograd_lite as ag
        >>> def layer(w, x):  # three relu neurons of two inputs, summed
        ...     return sum((w[3*i] * x[0] + w[3*i+1] * x[1] + w[3*i+2]).relu() for i in range(3))
        >>> program = ag.compile(ag.value_and_grad(layer)).grouped([0.5] * 9, [1.0, 2.0])
        >>> print("\\n".join(line for line in program.source.splitlines() if " @ " in line))
            h0 = relu(x @ W0.T + b0)  # a matrix product, then relu
            d_W0 = d_z0.T @ x  # ∂L/∂W of a matrix product: δᵀ·x
        """
        key, floats = _floats(args)
        if len(key) not in (2, 3) or None in key[:2] or key[2:] not in ((), (None,)):
            raise TypeError(
                "grouped takes (params, x) or (params, x, t): two lists of numbers "
                "and an optional number"
            )
        f = innermost(self.f)
        params = [Value(w) for w in floats[0]]
        target = floats[2] if len(floats) == 3 else None
        return vectorize(
            (lambda x: f(params, x)) if target is None else (lambda x, t: f(params, x, t)),
            params,
            floats[1],
            target,
        )

    def _generated(self, key: tuple[int | None, ...], args: list[Any]) -> Generated:
        generated = self._cache.get(key)
        if generated is None:
            generated = trace(self.f, args)
            self._cache[key] = generated
            if len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)  # the least recently used structure
        else:
            self._cache.move_to_end(key)
        self._latest = generated
        return generated

    @property
    def source(self) -> str:
        """The generated Python of the latest call, one line per node."""
        if self._latest is None:
            raise RuntimeError("nothing is compiled yet: the code is written at the first call")
        return self._latest.source

    @property
    def cache_info(self) -> dict[str, int]:
        """How many argument structures are compiled now, and the most kept."""
        return {"structures": len(self._cache), "max": self.cache_size}

    def __repr__(self) -> str:
        return f"<compiled {describe(self.f)}: {len(self._cache)} structure(s)>"


def compile(f: Callable[..., Any], *, cache_size: int = 8) -> Compiled:
    """``f`` as generated straight-line Python, traced once per argument structure.

    ``f`` takes numbers and flat lists of numbers (lists become lists of Values) and
    returns a Value, a number, or nested tuples/lists of them. Wrap a transform to
    compile gradients too: ``compile(value_and_grad(f))``, ``compile(hessian(f))``.
    Up to ``cache_size`` structures (argument counts and list lengths) stay compiled.

    Args:
        f: The function, or a transform such as ``value_and_grad(f)``.
        cache_size: How many argument structures stay compiled.

    Returns:
        A :class:`Compiled` function.

    Raises:
        TypeError: If ``f`` is not callable.
        ValueError: If ``cache_size`` is not a positive int.

    >>> square = compile(lambda x: x * x)
    >>> square(3.0), square(4)
    (9.0, 16.0)
    """
    return Compiled(f, cache_size)
