"""Compiled mode: trace a function once, then run it as generated straight-line Python.

``ag.compile(f)`` calls ``f`` once on placeholder ``Value`` s, reads the graph they
recorded (in :func:`~autograd_lite.engine.topological_order`) and writes one Python
function with one line per node. Later calls with arguments of the same structure run
that function on plain floats: no graph, no objects, many times faster.

Composed with a functional transform (``ag.compile(ag.value_and_grad(f))``, like JAX's
``jit(grad(f))``) it writes the backward pass too, by a reverse sweep over the traced
program. The sweep gets each local derivative from the op table's own partial rules,
called on symbolic :class:`Term` s with a math namespace that writes code instead of
computing, so no derivative is written twice. Constants are folded, and no line is
written for a gradient nobody asked for.

>>> import autograd_lite as ag
>>> neuron = ag.compile(ag.value_and_grad(lambda w, x: (w[0] * x + w[1]).tanh()))
>>> value, (dw0, dw1) = neuron([0.5, 0.1], 2.0)
>>> round(value, 6), round(dw0, 6), round(dw1, 6)
(0.800499, 0.718403, 0.359201)
>>> print(neuron.source)  # doctest: +NORMALIZE_WHITESPACE
def value_and_grad_lambda(w, x):
    w_0, w_1 = w
    v0 = w_0 * x  # *
    v1 = v0 + w_1  # +
    v2 = tanh(v1)  # tanh
    d_v1 = 1.0 - v2 * v2  # tanh edge v2 → v1: ∂v2/∂v1 · 1.0
    d_w_0 = x * d_v1  # * edge v0 → w_0: ∂v0/∂w_0 · d_v1
    return (v2, [d_w_0, d_v1])

Values that ``f`` closes over are constants, frozen at their value when it was traced:
pass what changes as an argument. Python control flow on a traced Value (``if``,
comparisons, ``float()``, ``bool()``, reading ``.data`` of it or of a Value computed from
it) raises :class:`TraceError`; branches *inside* primitives (``relu``, ``abs``) are part of
the generated code.

The stages, one module each, in the order they run (:func:`~.compiled.generate` is the
pipeline):

- :mod:`~autograd_lite.compiler.terms` — :class:`Term`, :func:`make` (constant folding)
  and the code-writing math namespace the op table's rules are called with;
- :mod:`~autograd_lite.compiler.tracing` — run ``f`` on placeholder Values, read the
  graph back as terms;
- :mod:`~autograd_lite.compiler.sweep` — the reverse sweep on terms (the backward pass);
- (a vectorising stage goes here, between the sweep and the writer);
- :mod:`~autograd_lite.compiler.writer` — name the terms, write the source;
- :mod:`~autograd_lite.compiler.arrays` — bind the code's calls to NumPy array forms;
- :mod:`~autograd_lite.compiler.compiled` — :class:`Generated` (compile and run the
  source), :class:`Compiled` and :func:`compile`, :func:`trace`, :func:`trace_gradient`.
"""

from ..grad_mode import TraceError
from .compiled import Compiled, Generated, compile, trace, trace_gradient
from .terms import Term, make

__all__ = [
    "Compiled",
    "Generated",
    "Term",
    "TraceError",
    "compile",
    "make",
    "trace",
    "trace_gradient",
]
