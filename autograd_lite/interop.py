"""The way out to PyTorch: :func:`to_torch` and :func:`from_torch`.

Prototype a model here, where every number and gradient can be looked at, then carry on in
PyTorch, which trains the same network on GPUs and many machines. A model goes over as a
``torch.nn.Sequential`` of ``Linear`` layers (float64, the same weights) and ``ReLU``/``Tanh``/
``Sigmoid`` layers, and computes the same outputs and gradients (to rounding, ~1e-16).

PyTorch is imported only when one of these functions is called; autograd_lite never depends
on it (``pip install torch`` to use them).
"""

from __future__ import annotations

import importlib
from typing import Any

from .engine import Value
from .nn import MLP, Dropout, Layer, Linear, Module, Neuron, ReLU, Sequential, Sigmoid, Tanh

__all__ = ["from_torch", "to_torch"]

_ACTIVATION_MODULES: dict[str, type[ReLU | Tanh | Sigmoid]] = {
    "relu": ReLU,
    "tanh": Tanh,
    "sigmoid": Sigmoid,
}
_TORCH_NAMES = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid"}

Affine = tuple[list[list[Value]], list[Value] | None]
"""A linear map as its weight rows (one per output) and its bias (None: no bias)."""
PlanEntry = Affine | str | float
"""An entry of a plan: a linear map, an activation's name, or a dropout probability."""


def _torch() -> Any:
    try:
        return importlib.import_module("torch")  # lazily: autograd_lite never depends on it
    except ImportError as error:
        raise ImportError(
            "moving a model to or from PyTorch needs PyTorch, which autograd_lite does not "
            "install: pip install torch"
        ) from error


def _activation_entries(name: str) -> list[PlanEntry]:
    return [] if name == "linear" else [name]


def _plan(model: Module) -> list[PlanEntry]:
    """``model`` as a flat list of steps: linear maps (the parameter Values themselves) and
    activation names and dropout probabilities, in the order they are applied. ``TypeError``
    for any other module."""
    kind = type(model)
    if kind is Linear:
        return [(model.weight, model.bias)]  # type: ignore[attr-defined]
    if kind is Neuron:
        return [([model.w], [model.b]), *_activation_entries(model.activation)]  # type: ignore[attr-defined]
    if kind is Layer:
        neurons: list[Neuron] = model.neurons  # type: ignore[attr-defined]
        affine = ([n.w for n in neurons], [n.b for n in neurons])
        return [affine, *_activation_entries(neurons[0].activation)]
    if kind is MLP:
        layers: list[Layer] = model.layers  # type: ignore[attr-defined]
        dropouts: list[Dropout] = model.dropouts  # type: ignore[attr-defined]
        plan = [step for layer in layers for step in _plan(layer)]
        if dropouts:  # after each hidden layer's activation
            hidden = [[*_plan(layer), dropout.p] for layer, dropout in zip(layers, dropouts)]
            plan = [step for steps in hidden for step in steps] + _plan(layers[-1])
        return plan
    if kind is Sequential:
        children: list[Module] = model.layers  # type: ignore[attr-defined]
        return [step for child in children for step in _plan(child)]
    if kind is Dropout:
        return [model.p]  # type: ignore[attr-defined]
    if kind in _ACTIVATION_MODULES.values():
        return [model.function]  # type: ignore[attr-defined]
    raise TypeError(
        f"to_torch takes MLP, Layer, Neuron, Linear, ReLU, Tanh, Sigmoid, Dropout and Sequential "
        f"models of them, not {kind.__name__}"
    )


def to_torch(model: Module) -> Any:
    """A ``torch.nn.Sequential`` computing what ``model`` computes, in float64.

    ``model`` is an MLP, Layer, Neuron, Linear, activation module, or a Sequential of them
    (nested ones are flattened). Each linear map becomes a ``torch.nn.Linear`` holding the
    same weights (``weight[i][j]`` is output i's weight for input j, PyTorch's layout), each
    activation a ``ReLU``/``Tanh``/``Sigmoid``. PyTorch's module takes a batch: ``(n, nin)``
    in, ``(n, nout)`` out, so an output of width 1 is a column where ``model`` gives a Value.
    The weights are copied: training one leaves the other as it was. Torch's random state is
    left untouched.

    Args:
        model: The model to convert.

    Returns:
        The ``torch.nn.Sequential``.

    Raises:
        ImportError: Without PyTorch.
        TypeError: For another kind of module.

    >>> import autograd_lite as ag
    >>> module = ag.to_torch(ag.nn.MLP(2, [4, 1], seed=0))  # doctest: +SKIP
    >>> module                                              # doctest: +SKIP
    Sequential(
      (0): Linear(in_features=2, out_features=4, bias=True)
      (1): ReLU()
      (2): Linear(in_features=4, out_features=1, bias=True)
    )
    """
    steps = _plan(model)
    torch = _torch()
    layers = []
    with torch.no_grad():
        for step in steps:
            if isinstance(step, str):
                layers.append(getattr(torch.nn, _TORCH_NAMES[step])())
                continue
            if isinstance(step, float):
                layers.append(torch.nn.Dropout(step))
                continue
            weight, bias = step
            linear = torch.nn.utils.skip_init(  # no random initialisation to overwrite
                torch.nn.Linear, len(weight[0]), len(weight), bias=bias is not None,
                dtype=torch.float64,
            )  # fmt: skip
            rows = [[w.data for w in row] for row in weight]
            linear.weight.copy_(torch.tensor(rows, dtype=torch.float64))
            if bias is not None:
                linear.bias.copy_(torch.tensor([b.data for b in bias], dtype=torch.float64))
            layers.append(linear)
    return torch.nn.Sequential(*layers).train(model.training)  # eval mode stays eval mode


def from_torch(module: Any) -> Module:
    """An autograd_lite model computing what a PyTorch ``module`` computes.

    ``module`` is a ``torch.nn.Sequential`` (nested ones are flattened) of ``Linear``,
    ``ReLU``, ``Tanh`` and ``Sigmoid`` layers, which gives a :class:`~autograd_lite.nn.
    Sequential` of the same; or one such layer, which gives that layer. Weights of any
    floating dtype are read as float64. Each module keeps its training flag, so a module in
    eval mode gives a model in eval mode (dropout off). ``ag.save`` writes the result like
    any other model.

    Args:
        module: The PyTorch module to convert.

    Returns:
        The autograd_lite model.

    Raises:
        ImportError: Without PyTorch.
        TypeError: For any other layer.
    """
    torch = _torch()
    if isinstance(module, torch.nn.Sequential):
        model: Module = Sequential(
            *[_from_torch_layer(torch, layer) for layer in _flatten(torch, module)]
        )
    else:
        model = _from_torch_layer(torch, module)
    model.training = bool(module.training)  # each layer already carries its own flag
    return model


def _flatten(torch: Any, module: Any) -> list[Any]:
    if isinstance(module, torch.nn.Sequential):
        return [layer for child in module for layer in _flatten(torch, child)]
    return [module]


def _from_torch_layer(torch: Any, layer: Any) -> Module:
    model = _from_torch_weights(torch, layer)
    for module in model.modules():  # eval mode stays eval mode, layer by layer, as in torch
        module.training = bool(layer.training)
    return model


def _from_torch_weights(torch: Any, layer: Any) -> Module:
    for name, torch_name in _TORCH_NAMES.items():
        if type(layer) is getattr(torch.nn, torch_name):
            return _ACTIVATION_MODULES[name]()
    if type(layer) is torch.nn.Dropout:
        return Dropout(layer.p, seed=0)  # seed=0: leave the global generator where it was
    if type(layer) is not torch.nn.Linear:
        raise TypeError(
            f"from_torch takes Linear, ReLU, Tanh, Sigmoid and Dropout layers in a Sequential, not "
            f"{type(layer).__name__}"
        )
    weight = layer.weight.detach().to(torch.float64).tolist()
    bias = None if layer.bias is None else layer.bias.detach().to(torch.float64).tolist()
    # seed=0: the weights are replaced, so leave the global generator where it was
    linear = Linear(layer.in_features, layer.out_features, bias is not None, seed=0)
    for row_values, row in zip(weight, linear.weight, strict=True):
        for value, parameter in zip(row_values, row, strict=True):
            parameter.data = float(value)
    if bias is not None and linear.bias is not None:
        for value, parameter in zip(bias, linear.bias, strict=True):
            parameter.data = float(value)
    return linear
