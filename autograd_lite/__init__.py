"""autograd_lite: a small, readable scalar reverse-mode automatic differentiation engine.

>>> import autograd_lite as ag
>>> x = ag.Value(2.0)
>>> y = (x * x).tanh()
>>> y.backward()
>>> round(x.grad, 6)    # d tanh(x²)/dx = 2x (1 - tanh²(x²))
0.005364
"""

from . import collector, data, losses, nn, optim, teach
from ._version import __version__
from .compiler import Compiled, TraceError, compile
from .engine import Value, apply, gradients, topological_order
from .explorer import explore
from .functional import grad, hessian, value_and_grad
from .grad_mode import enable_grad, is_grad_enabled, no_grad
from .gradient_check import GradcheckError, gradcheck, gradgradcheck
from .interop import from_torch, to_torch
from .play import playground
from .seeding import manual_seed
from .serialize import ModelFileError, load, save
from .steps import backward_steps, forward_steps
from .teach import chain_rule
from .train import History, evaluate, fit, predict
from .viz import Stepper, animate_backward, draw_dot

__all__ = [
    "Compiled",
    "GradcheckError",
    "History",
    "ModelFileError",
    "Stepper",
    "TraceError",
    "Value",
    "__version__",
    "animate_backward",
    "apply",
    "backward_steps",
    "chain_rule",
    "collector",
    "compile",
    "data",
    "draw_dot",
    "enable_grad",
    "evaluate",
    "explore",
    "fit",
    "forward_steps",
    "from_torch",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "gradients",
    "hessian",
    "is_grad_enabled",
    "load",
    "losses",
    "manual_seed",
    "nn",
    "no_grad",
    "optim",
    "playground",
    "predict",
    "save",
    "teach",
    "to_torch",
    "topological_order",
    "value_and_grad",
]
