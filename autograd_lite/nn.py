"""Neural-network building blocks on Values: Module, Neuron, Layer, MLP.

Each module describes itself: ``config()`` gives the constructor arguments that rebuild it,
and every subclass is registered by name in ``MODULES``, which is how ``load`` finds it again.

>>> from autograd_lite.nn import MLP
>>> model = MLP(2, [4, 1], seed=0)
>>> len(model.parameters())      # (2·4 + 4) + (4·1 + 1)
17
>>> isinstance(model([1.0, -2.0]), Value)
True
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

from .engine import Value

__all__ = ["ACTIVATIONS", "MLP", "MODULES", "Layer", "Module", "Neuron"]

ACTIVATIONS: dict[str, Callable[[Value], Value]] = {
    "relu": Value.relu,
    "tanh": Value.tanh,
    "sigmoid": Value.sigmoid,
    "linear": lambda v: v,
}
"""The activations a Neuron accepts, by name."""

Inputs = Sequence[Value | float]
M = TypeVar("M", bound="Module")

MODULES: dict[str, type[Module]] = {}
"""Every Module subclass by its registered name (the class name unless it passes ``name=``)."""


class Module:
    """Base class: parameters found by walking attributes (Values, Modules, lists of them).

    A subclass registers itself in ``MODULES`` when it is defined; to be saved with
    ``ag.save`` it returns its constructor arguments from :meth:`config`:

    >>> class Scale(Module, name="doctest.Scale"):
    ...     def __init__(self, factor: float) -> None:
    ...         self.factor = Value(factor)
    ...     def __call__(self, x): return [self.factor * v for v in x]
    ...     def config(self): return {"factor": self.factor.data}
    >>> MODULES["doctest.Scale"].from_config({"factor": 2.0})([3.0])[0].data
    6.0
    """

    training: bool = True
    registry_name: ClassVar[str] = "Module"  # the key in MODULES, written to saved files

    def __init_subclass__(cls, *, name: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        key = name or cls.__name__
        known = MODULES.get(key)
        # Redefining the same class (a re-run notebook cell) replaces it; a different class
        # under a taken name would make files load as the wrong type.
        if known is not None and _where(known) != _where(cls):
            raise TypeError(
                f"a Module named {key!r} is already registered ({_where(known)}); "
                f"register yours under another: class {cls.__name__}(Module, name='...')"
            )
        MODULES[key] = cls
        cls.registry_name = key

    def config(self) -> dict[str, Any]:
        """The constructor arguments (JSON values) that rebuild this module, weights aside."""
        raise TypeError(
            f"{type(self).__name__} cannot be saved: give it a config() method returning its "
            "constructor arguments (as MLP, Layer and Neuron do), or save its state_dict() "
            "and rebuild it with load_state_dict()"
        )

    @classmethod
    def from_config(cls: type[M], config: Mapping[str, Any]) -> M:
        """A new module (fresh weights) from :meth:`config`'s arguments."""
        return cls(**config)

    @classmethod
    def parameter_count(cls, config: Mapping[str, Any]) -> int | None:
        """How many parameters ``from_config(config)`` would make, worked out without building
        anything; None when the class cannot tell (the default).

        ``load`` compares it with the weights in the file before building the model, so a
        small file cannot ask for a huge one. Raises ``TypeError``/``ValueError``/``KeyError``
        for a config the constructor would refuse.
        """
        return None

    def __call__(self, x: Inputs) -> Value | list[Value]:
        raise NotImplementedError(f"{type(self).__name__} must define __call__")

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Value]]:
        """``(dotted name, parameter)`` pairs in a stable order, e.g. ``layers.0.neurons.1.w.0``."""
        for name, attribute in vars(self).items():
            yield from _named(attribute, f"{prefix}{name}")

    def parameters(self) -> list[Value]:
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = 0.0
            p.grad_value = None

    def train(self, mode: bool = True) -> Module:
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        return self.train(False)

    def modules(self) -> Iterator[Module]:
        yield self
        for attribute in vars(self).values():
            children = attribute if isinstance(attribute, list) else [attribute]
            for child in children:
                if isinstance(child, Module):
                    yield from child.modules()

    def state_dict(self) -> dict[str, float]:
        """Every parameter's value by dotted name."""
        return {name: p.data for name, p in self.named_parameters()}

    def load_state_dict(
        self, state: Mapping[str, float], strict: bool = True
    ) -> tuple[list[str], list[str]]:
        """Copy values in by name; returns ``(missing_keys, unexpected_keys)``.

        Everything is checked before anything is written: with ``strict`` any missing or
        unexpected key raises ``KeyError``, and a value that is not a finite number raises
        ``ValueError``; either way the model is left as it was.
        """
        params = dict(self.named_parameters())
        missing = [name for name in params if name not in state]
        unexpected = [name for name in state if name not in params]
        if strict and (missing or unexpected):
            raise KeyError(
                f"state does not match the model: missing {missing}, unexpected {unexpected}"
            )
        values = {}
        for name in params.keys() & state.keys():
            value = state[name]
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
            ):
                raise ValueError(f"parameter {name!r} must be a finite number, got {value!r}")
            values[name] = float(value)
        for name, value in values.items():
            params[name].data = value
        return missing, unexpected


def _size(value: object, name: str) -> int:
    """``value`` if it is a positive int (not a bool), else ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def _activation(value: object) -> str:
    """``value`` if it names an activation, else ``ValueError``."""
    if not isinstance(value, str) or value not in ACTIVATIONS:
        raise ValueError(f"unknown activation {value!r}; choose from {sorted(ACTIVATIONS)}")
    return value


def _where(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _named(attribute: object, name: str) -> Iterator[tuple[str, Value]]:
    if isinstance(attribute, Value):
        if attribute.requires_grad:
            yield name, attribute
    elif isinstance(attribute, Module):
        yield from attribute.named_parameters(f"{name}.")
    elif isinstance(attribute, list):
        for i, item in enumerate(attribute):
            yield from _named(item, f"{name}.{i}")


def _rng(seed: int | random.Random | None) -> random.Random:
    return seed if isinstance(seed, random.Random) else random.Random(seed)


class Neuron(Module):
    """activation(w · x + b), weights and bias drawn from U(-1/√nin, 1/√nin) as PyTorch's Linear."""

    def __init__(
        self, nin: int, activation: str = "relu", seed: int | random.Random | None = None
    ) -> None:
        _size(nin, "nin")
        _activation(activation)
        rng, bound = _rng(seed), 1.0 / math.sqrt(nin)
        self.w = [Value(rng.uniform(-bound, bound)) for _ in range(nin)]
        self.b = Value(rng.uniform(-bound, bound))
        self.activation = activation

    def config(self) -> dict[str, Any]:
        return {"nin": len(self.w), "activation": self.activation}

    @classmethod
    def parameter_count(cls, config: Mapping[str, Any]) -> int:
        _activation(config.get("activation", "relu"))
        return _size(config["nin"], "nin") + 1

    def __call__(self, x: Inputs) -> Value:
        if len(x) != len(self.w):
            raise ValueError(f"expected {len(self.w)} inputs, got {len(x)}")
        total = self.b
        for wi, xi in zip(self.w, x, strict=True):
            total = total + wi * xi
        return ACTIVATIONS[self.activation](total)

    def __repr__(self) -> str:
        return f"Neuron({len(self.w)}, activation={self.activation!r})"


class Layer(Module):
    """``nout`` neurons reading the same inputs; always returns a list."""

    def __init__(
        self,
        nin: int,
        nout: int,
        activation: str = "relu",
        seed: int | random.Random | None = None,
    ) -> None:
        _size(nout, "nout")
        rng = _rng(seed)
        self.neurons = [Neuron(nin, activation, rng) for _ in range(nout)]

    def config(self) -> dict[str, Any]:
        first = self.neurons[0]
        return {"nin": len(first.w), "nout": len(self.neurons), "activation": first.activation}

    @classmethod
    def parameter_count(cls, config: Mapping[str, Any]) -> int:
        _activation(config.get("activation", "relu"))
        return _size(config["nout"], "nout") * (_size(config["nin"], "nin") + 1)

    def __call__(self, x: Inputs) -> list[Value]:
        return [neuron(x) for neuron in self.neurons]

    def __repr__(self) -> str:
        first = self.neurons[0]
        return f"Layer({len(first.w)}, {len(self.neurons)}, activation={first.activation!r})"


class MLP(Module):
    """A multi-layer perceptron: hidden layers with ``activation``, a linear last layer.

    Returns a single Value when the last layer has one output, else a list.
    """

    def __init__(
        self, nin: int, nouts: Sequence[int], activation: str = "relu", seed: int | None = None
    ) -> None:
        if isinstance(nouts, str) or not isinstance(nouts, Sequence) or not nouts:
            raise ValueError(f"nouts must list at least one layer size, got {nouts!r}")
        _size(nin, "nin")
        for size in nouts:
            _size(size, "every size in nouts")
        _activation(activation)
        rng = _rng(seed)
        sizes = [nin, *nouts]
        self.activation = activation
        self.layers = [
            Layer(sizes[i], sizes[i + 1], activation if i < len(nouts) - 1 else "linear", rng)
            for i in range(len(nouts))
        ]

    @property
    def sizes(self) -> list[int]:
        return [len(self.layers[0].neurons[0].w)] + [len(layer.neurons) for layer in self.layers]

    def config(self) -> dict[str, Any]:
        return {"nin": self.sizes[0], "nouts": self.sizes[1:], "activation": self.activation}

    @classmethod
    def parameter_count(cls, config: Mapping[str, Any]) -> int:
        """Σ (inputs + 1) · outputs over the layers, e.g. MLP(2, [4, 1]): 3·4 + 5·1 = 17.

        >>> MLP.parameter_count({"nin": 2, "nouts": [4, 1]})
        17
        """
        nouts = config["nouts"]
        if not isinstance(nouts, (list, tuple)) or not nouts:
            raise ValueError(f"nouts must list at least one layer size, got {nouts!r}")
        sizes = [_size(config["nin"], "nin")] + [_size(n, "every size in nouts") for n in nouts]
        _activation(config.get("activation", "relu"))
        return sum((a + 1) * b for a, b in itertools.pairwise(sizes))

    def __call__(self, x: Inputs) -> Value | list[Value]:
        out: Inputs = x
        for layer in self.layers:
            out = layer(out)
        return out[0] if len(out) == 1 else list(out)  # type: ignore[return-value, arg-type]

    def __repr__(self) -> str:
        return f"MLP({self.sizes[0]}, {self.sizes[1:]}, activation={self.activation!r})"
