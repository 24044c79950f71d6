"""Neural-network building blocks on Values: Module, Neuron, Layer, MLP, Linear, Sequential,
the activation modules ReLU, Tanh and Sigmoid, Dropout, and :func:`clip_grad_norm_`.

Each module describes itself: ``config()`` gives the constructor arguments that rebuild it,
and every subclass is registered by name in ``MODULES``, which is how ``load`` finds it again.

A module whose last width is 1 returns a single Value, a wider one a list of Values: ``Layer(8,
1)``, ``Linear(8, 1)`` and ``MLP(2, [16, 1])`` give a Value, ``Layer(8, 3)`` a list of three.
A width-1 output also feeds a width-1 input (``Linear(1, 4)`` takes a Value). The output is
typed :data:`ModelOutput` (``Any``), so that both ``model(x).data`` and ``model(x)[0].data``
type-check under ``mypy --strict``; annotate it (``score: Value = model(x)``) to have mypy check
what follows.

Random initialisation (and Dropout's masks) follow the package's seed rule
(:mod:`autograd_lite.seeding`): ``seed=None``, the default, draws from the global generator
that ``ag.manual_seed`` resets. ``init=`` names how weights are drawn (:data:`INITS`).

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
import reprlib  # reprlib.repr cuts a value short: a hostile file may hold megabytes
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, TypeVar, overload

from .engine import Value
from .grad_mode import TraceError, tracing_now
from .seeding import generator

__all__ = [
    "ACTIVATIONS",
    "DEFAULT_INIT",
    "INITS",
    "MLP",
    "MODULES",
    "Dropout",
    "Layer",
    "Linear",
    "ModelOutput",
    "Module",
    "Neuron",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Tanh",
    "architecture",
    "clip_grad_norm_",
]

ACTIVATIONS: dict[str, Callable[[Value], Value]] = {
    "relu": Value.relu,
    "tanh": Value.tanh,
    "sigmoid": Value.sigmoid,
    "linear": lambda v: v,
}
"""The activations a Neuron, Layer or MLP accepts, by name (``None`` means ``"linear"``)."""

INITS: dict[str, Callable[[random.Random, int, int], float]] = {
    "pytorch": lambda rng, fan_in, fan_out: rng.uniform(
        -1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in)
    ),
    "uniform": lambda rng, fan_in, fan_out: rng.uniform(-1.0, 1.0),
    "xavier": lambda rng, fan_in, fan_out: rng.uniform(
        -math.sqrt(6 / (fan_in + fan_out)), math.sqrt(6 / (fan_in + fan_out))
    ),
    "xavier_normal": lambda rng, fan_in, fan_out: rng.gauss(0.0, math.sqrt(2 / (fan_in + fan_out))),
    "he": lambda rng, fan_in, fan_out: rng.uniform(-math.sqrt(6 / fan_in), math.sqrt(6 / fan_in)),
    "he_normal": lambda rng, fan_in, fan_out: rng.gauss(0.0, math.sqrt(2 / fan_in)),
}
"""How Neuron, Layer, MLP and Linear draw a weight, by name: ``f(rng, fan_in, fan_out) ->
float``, where ``fan_in`` is the layer's inputs and ``fan_out`` its outputs. Each keeps a
variance:

- ``"pytorch"`` (the default): PyTorch's ``nn.Linear`` default, U(-1/√fan_in, 1/√fan_in),
  variance 1/(3·fan_in).
- ``"uniform"``: micrograd's U(-1, 1), variance 1/3 whatever the width (so wide or deep
  networks saturate: the "before" picture of the initialisation lesson).
- ``"xavier"`` (Glorot, ``torch.nn.init.xavier_uniform_``): U(-a, a) with
  a = √(6/(fan_in+fan_out)), variance 2/(fan_in+fan_out), which keeps the signal's variance
  through tanh and sigmoid layers forwards and backwards; ``"xavier_normal"``: N(0, that).
- ``"he"`` (Kaiming, ``torch.nn.init.kaiming_uniform_(nonlinearity="relu")``): U(-a, a) with
  a = √(6/fan_in), variance 2/fan_in, which keeps it through ReLU layers (ReLU halves it);
  ``"he_normal"``: N(0, 2/fan_in).

Biases are always drawn as PyTorch draws them, U(-1/√fan_in, 1/√fan_in). Add an entry to name
a new scheme.
"""

DEFAULT_INIT = "pytorch"
"""The ``init=`` every module uses unless told otherwise."""

Seed = int | random.Random | None
Inputs = Sequence[Value | float]
ModelOutput = Any
"""What a model returns for one example: a Value when its last width is 1, else a list of
Values. ``Any`` to the type checker, which cannot know the width from ``MLP(2, [16, 1])``."""
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
        if known is not None and _qualified_name(known) != _qualified_name(cls):
            raise TypeError(
                f"a Module named {key!r} is already registered ({_qualified_name(known)}); "
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
        """A new module (fresh weights) from :meth:`config`'s arguments.

        Args:
            config: What :meth:`config` returned.

        Returns:
            The new module.
        """
        return cls(**config)

    @classmethod
    def parameter_count(cls, config: Mapping[str, Any]) -> int | None:
        """How many parameters ``from_config(config)`` would make, worked out without building
        anything; None when the class cannot tell (the default).

        ``load`` compares it with the weights in the file before building the model, so a
        small file cannot ask for a huge one.

        Args:
            config: What :meth:`config` would return.

        Returns:
            The parameter count, or None.

        Raises:
            TypeError: For a config the constructor would refuse (also ``ValueError``,
                ``KeyError``).
        """
        return None

    def __call__(self, x: Inputs) -> ModelOutput:
        raise NotImplementedError(f"{type(self).__name__} must define __call__")

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Value]]:
        """``(dotted name, parameter)`` pairs in a stable order, e.g. ``layers.0.neurons.1.w.0``.

        Args:
            prefix: Put before every name (a parent passes its own path).

        Returns:
            A list of ``(name, parameter)`` pairs.
        """
        for name, attribute in vars(self).items():
            yield from _named(attribute, f"{prefix}{name}")

    def parameters(self) -> list[Value]:
        """Every parameter once, in :meth:`named_parameters` order, as PyTorch's: a parameter
        used in two places (tied weights) is listed where it first appears."""
        return list(dict.fromkeys(p for _, p in self.named_parameters()))

    def _named_values(self, prefix: str = "") -> Iterator[tuple[str, Value]]:
        """Like :meth:`named_parameters`, frozen Values (``requires_grad=False``) included:
        the state a model is saved and restored with, as PyTorch's ``state_dict`` keeps
        frozen parameters and buffers."""
        for name, attribute in vars(self).items():
            yield from _named(attribute, f"{prefix}{name}", frozen=True)

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

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """The direct submodules, named as their parameters are (``layers.0`` in an MLP,
        ``0`` in a Sequential), as PyTorch's ``named_children``.

        >>> [name for name, _ in MLP(2, [3, 1], seed=0).named_children()]
        ['layers.0', 'layers.1']
        """
        for name, attribute in vars(self).items():
            if isinstance(attribute, Module):
                yield name, attribute
            elif isinstance(attribute, list):
                for i, item in enumerate(attribute):
                    if isinstance(item, Module):
                        yield f"{name}.{i}", item

    def state_dict(self) -> dict[str, float]:
        """Every parameter's value by dotted name, frozen ones (``requires_grad=False``)
        included, as in PyTorch.

        >>> model = Linear(2, 1, seed=0)
        >>> model.bias[0].requires_grad = False
        >>> list(model.state_dict()), len(model.parameters())
        (['weight.0.0', 'weight.0.1', 'bias.0'], 2)
        """
        return {name: p.data for name, p in self._named_values()}

    def load_state_dict(
        self, state: Mapping[str, float], strict: bool = True
    ) -> tuple[list[str], list[str]]:
        """Copy values in by name (frozen parameters too; ``requires_grad`` flags stay as
        they are); returns ``(missing_keys, unexpected_keys)``.

        Everything is checked before anything is written: on any error the model is left as
        it was.

        Args:
            state: Parameter values by name, as :meth:`state_dict` gives them.
            strict: Whether a missing or unexpected key is an error.

        Returns:
            ``(missing_keys, unexpected_keys)``.

        Raises:
            KeyError: With ``strict``, for a missing or unexpected key.
            ValueError: For a value that is not a finite number.
        """
        params = dict(self._named_values())
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


def architecture(module: Module) -> dict[str, Any]:
    """What rebuilds ``module``: its registered name as ``type``, then its :meth:`Module.config`.

    Args:
        module: The module to describe.

    Returns:
        A JSON-ready dict.

    Raises:
        ValueError: If the module's ``config()`` uses the key ``"type"``.

    >>> architecture(Linear(3, 2, seed=0))
    {'type': 'Linear', 'nin': 3, 'nout': 2, 'bias': True, 'init': 'pytorch'}
    """
    config = module.config()
    if "type" in config:
        raise ValueError(f"{type(module).__name__}.config() may not use the key 'type'")
    return {"type": type(module).registry_name, **config}


def _module_class(spec: object) -> tuple[type[Module], dict[str, Any]]:
    """The registered class an :func:`architecture` names, and the config beside its type."""
    if not isinstance(spec, Mapping):
        raise TypeError(f"a module's architecture must be a JSON object, got {reprlib.repr(spec)}")
    kind = spec.get("type")
    cls = MODULES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(f"unknown architecture type {reprlib.repr(kind)}")
    return cls, {key: value for key, value in spec.items() if key != "type"}


def _size(value: object, name: str) -> int:
    """``value`` if it is a positive int (not a bool), else ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def _activation(value: object) -> str:
    """The activation ``value`` names (None: ``"linear"``), else ``ValueError``."""
    if value is None:
        return "linear"
    if not isinstance(value, str) or value not in ACTIVATIONS:
        raise ValueError(f"unknown activation {value!r}; choose from {sorted(ACTIVATIONS)}")
    return value


def _init(value: object) -> str:
    """The init scheme ``value`` names, else ``ValueError``."""
    if not isinstance(value, str) or value not in INITS:
        raise ValueError(f"unknown init {value!r}; choose from {sorted(INITS)}")
    return value


def _settings(init: str, dropout: float = 0.0) -> dict[str, Any]:
    """``init`` and ``dropout`` for a config, each only when not the default: files of models
    without them keep the format older versions read."""
    settings: dict[str, Any] = {} if init == DEFAULT_INIT else {"init": init}
    return {**settings, "dropout": dropout} if dropout else settings


def _probability(value: object) -> float:
    """``value`` as a probability in [0, 1], else ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"dropout probability must be a number in [0, 1], got {value!r}")
    return float(value)


def _qualified_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _named(attribute: object, name: str, frozen: bool = False) -> Iterator[tuple[str, Value]]:
    """The Values in ``attribute`` by dotted name: those that require grad, or with
    ``frozen`` every one."""
    if isinstance(attribute, Value):
        if frozen or attribute.requires_grad:
            yield name, attribute
    elif isinstance(attribute, Module):
        if frozen:
            yield from attribute._named_values(f"{name}.")
        else:
            yield from attribute.named_parameters(f"{name}.")
    elif isinstance(attribute, list):
        for i, item in enumerate(attribute):
            yield from _named(item, f"{name}.{i}", frozen)


def _inputs(x: Inputs | Value | float, nin: int) -> Inputs:
    """``x`` as a sequence of ``nin`` inputs: a lone Value or number is one input."""
    inputs = [x] if isinstance(x, (Value, int, float)) else x
    if len(inputs) != nin:
        raise ValueError(f"expected {nin} inputs, got {len(inputs)}")
    return inputs


def _output(values: list[Value]) -> ModelOutput:
    """The one Value of a width-1 output, else the list."""
    return values[0] if len(values) == 1 else values


class Neuron(Module):
    """activation(w · x + b), weights drawn by ``init`` (see :data:`INITS`; by default
    U(-1/√nin, 1/√nin) as PyTorch's Linear) and the bias from U(-1/√nin, 1/√nin).

    ``activation`` names an entry of ``ACTIVATIONS``; None means ``"linear"``. ``fan_out`` is
    the width of the layer the neuron belongs to (``"xavier"`` reads it); a Layer passes it.

    Args:
        nin: How many inputs.
        activation: A name of ``ACTIVATIONS``, or None for ``"linear"``.
        seed: An int, a ``random.Random``, or None to draw from the global generator
            (``ag.manual_seed``).
        init: A name of :data:`INITS`.
        fan_out: The width of the neuron's layer.

    Raises:
        ValueError: For a size that is not a positive int, or an unknown activation or init.
    """

    def __init__(
        self,
        nin: int,
        activation: str | None = "relu",
        seed: Seed = None,
        *,
        init: str = DEFAULT_INIT,
        fan_out: int = 1,
    ) -> None:
        _size(nin, "nin")
        self.activation = _activation(activation)
        self.init = _init(init)
        rng, bound, draw = generator(seed), 1.0 / math.sqrt(nin), INITS[init]
        self.w = [Value(draw(rng, nin, fan_out)) for _ in range(nin)]
        self.b = Value(rng.uniform(-bound, bound))

    def config(self) -> dict[str, Any]:
        return {"nin": len(self.w), "activation": self.activation, **_settings(self.init)}

    @classmethod
    def parameter_count(cls, config: Mapping[str, Any]) -> int:
        _activation(config.get("activation", "relu"))
        _init(config.get("init", DEFAULT_INIT))
        return _size(config["nin"], "nin") + 1

    def __call__(self, x: Inputs | Value | float) -> Value:
        total = self.b
        for wi, xi in zip(self.w, _inputs(x, len(self.w)), strict=True):
            total = total + wi * xi
        return ACTIVATIONS[self.activation](total)

    def __repr__(self) -> str:
        return f"Neuron({len(self.w)}, activation={self.activation!r})"


class Layer(Module):
    """``nout`` neurons reading the same inputs: a list of ``nout`` Values, or one Value when
    ``nout`` is 1.

    Args:
        nin: How many inputs.
        nout: How many neurons (outputs).
        activation: A name of ``ACTIVATIONS``, or None for ``"linear"``.
        seed: An int, a ``random.Random``, or None to draw from the global generator
            (``ag.manual_seed``).
        init: A name of :data:`INITS`.

    Raises:
        ValueError: For a size that is not a positive int, or an unknown activation or init.
    """

    def __init__(
        self,
        nin: int,
        nout: int,
        activation: str | None = "relu",
        seed: Seed = None,
        *,
        init: str = DEFAULT_INIT,
    ) -> None:
        _size(nout, "nout")
        rng = generator(seed)
        self.neurons = [Neuron(nin, activation, rng, init=init, fan_out=nout) for _ in range(nout)]

    def config(self) -> dict[str, Any]:
        first = self.neurons[0]
        config = {"nin": len(first.w), "nout": len(self.neurons), "activation": first.activation}
        return {**config, **_settings(first.init)}

    @classmethod
    def parameter_count(cls, config: Mapping[str, Any]) -> int:
        _activation(config.get("activation", "relu"))
        _init(config.get("init", DEFAULT_INIT))
        return _size(config["nout"], "nout") * (_size(config["nin"], "nin") + 1)

    def __call__(self, x: Inputs | Value | float) -> ModelOutput:
        inputs = _inputs(x, len(self.neurons[0].w))
        return _output([neuron(inputs) for neuron in self.neurons])

    def __repr__(self) -> str:
        first = self.neurons[0]
        return f"Layer({len(first.w)}, {len(self.neurons)}, activation={first.activation!r})"


class MLP(Module):
    """A multi-layer perceptron: hidden layers with ``activation``, a linear last layer.

    Returns a single Value when the last layer has one output, else a list. ``init`` names how
    every layer's weights are drawn (:data:`INITS`). ``dropout=p`` puts a :class:`Dropout`
    after each hidden layer's activation (none after the output layer); its masks are seeded
    from ``seed`` too.

    Args:
        nin: How many inputs.
        nouts: Each layer's width, the last one's being the output width.
        activation: The hidden layers' activation (a name of ``ACTIVATIONS``).
        seed: An int, a ``random.Random``, or None to draw from the global generator
            (``ag.manual_seed``).
        init: A name of :data:`INITS`.
        dropout: The probability of each hidden :class:`Dropout`, 0 for none.

    Raises:
        ValueError: For an empty ``nouts``, a size that is not a positive int, an unknown
            activation or init, or a dropout probability outside [0, 1].

    >>> model = MLP(2, [8, 8, 1], init="he", dropout=0.2, seed=0)
    >>> len(model.dropouts), model.eval().training
    (2, False)
    """

    def __init__(
        self,
        nin: int,
        nouts: Sequence[int],
        activation: str | None = "relu",
        seed: Seed = None,
        *,
        init: str = DEFAULT_INIT,
        dropout: float = 0.0,
    ) -> None:
        if isinstance(nouts, str) or not isinstance(nouts, Sequence) or not nouts:
            raise ValueError(f"nouts must list at least one layer size, got {nouts!r}")
        _size(nin, "nin")
        for size in nouts:
            _size(size, "every size in nouts")
        self.activation = _activation(activation)
        self.init = _init(init)
        self.dropout = _probability(dropout)
        rng = generator(seed)
        sizes = [nin, *nouts]
        self.layers = [
            Layer(
                sizes[i],
                sizes[i + 1],
                self.activation if i < len(nouts) - 1 else None,
                rng,
                init=init,
            )
            for i in range(len(nouts))
        ]
        # drawn after the weights, so a seed gives the same weights with or without dropout
        self.dropouts = (
            [Dropout(self.dropout, seed=rng.getrandbits(64)) for _ in nouts[:-1]]
            if self.dropout > 0
            else []
        )

    @property
    def sizes(self) -> list[int]:
        return [len(self.layers[0].neurons[0].w)] + [len(layer.neurons) for layer in self.layers]

    def config(self) -> dict[str, Any]:
        config = {"nin": self.sizes[0], "nouts": self.sizes[1:], "activation": self.activation}
        return {**config, **_settings(self.init, self.dropout)}

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
        _init(config.get("init", DEFAULT_INIT))
        _probability(config.get("dropout", 0.0))
        return sum((a + 1) * b for a, b in itertools.pairwise(sizes))

    def __call__(self, x: Inputs | Value | float) -> ModelOutput:
        out: Any = x
        for i, layer in enumerate(self.layers):
            out = layer(out)
            if i < len(self.dropouts):
                out = self.dropouts[i](out)
        return out

    def __repr__(self) -> str:
        extra = "" if self.init == DEFAULT_INIT else f", init={self.init!r}"
        extra += f", dropout={self.dropout}" if self.dropout else ""
        return f"MLP({self.sizes[0]}, {self.sizes[1:]}, activation={self.activation!r}{extra})"


class Linear(Module):
    """``W x + b`` as PyTorch's ``nn.Linear``: ``nout`` outputs (a list; one Value when ``nout``
    is 1), no activation.

    Its parameters are named as PyTorch's: ``weight.i.j`` (row i is output i) and ``bias.i``
    (none with ``bias=False``). ``init`` names how weights are drawn (see :data:`INITS`;
    ``"pytorch"``, PyTorch's default, unless told); ``seed`` as everywhere in the package.

    Args:
        nin: How many inputs.
        nout: How many outputs.
        bias: Whether there is a bias.
        init: A name of :data:`INITS`.
        seed: An int, a ``random.Random``, or None to draw from the global generator
            (``ag.manual_seed``).

    Raises:
        TypeError: If ``bias`` is not True or False.
        ValueError: For a size that is not a positive int, or an unknown init.

    >>> layer = Linear(2, 3, seed=0)
    >>> len(layer([1.0, 2.0])), [name for name, _ in layer.named_parameters()][:3]
    (3, ['weight.0.0', 'weight.0.1', 'weight.1.0'])
    """

    def __init__(
        self,
        nin: int,
        nout: int,
        bias: bool = True,
        *,
        init: str = DEFAULT_INIT,
        seed: Seed = None,
    ) -> None:
        _size(nin, "nin")
        _size(nout, "nout")
        if not isinstance(bias, bool):
            raise TypeError(f"bias must be True or False, got {bias!r}")
        _init(init)
        rng, draw, bound = generator(seed), INITS[init], 1.0 / math.sqrt(nin)
        self.init = init
        self.weight = [[Value(draw(rng, nin, nout)) for _ in range(nin)] for _ in range(nout)]
        self.bias = [Value(rng.uniform(-bound, bound)) for _ in range(nout)] if bias else None

    def config(self) -> dict[str, Any]:
        nin, nout = len(self.weight[0]), len(self.weight)
        return {"nin": nin, "nout": nout, "bias": self.bias is not None, "init": self.init}

    @classmethod
    def parameter_count(cls, config: Mapping[str, Any]) -> int:
        nin, nout = _size(config["nin"], "nin"), _size(config["nout"], "nout")
        bias = config.get("bias", True)
        if not isinstance(bias, bool):
            raise TypeError(f"bias must be True or False, got {bias!r}")
        _init(config.get("init", DEFAULT_INIT))
        return nout * (nin + bias)

    def __call__(self, x: Inputs | Value | float) -> ModelOutput:
        inputs = _inputs(x, len(self.weight[0]))
        outputs = []
        for k, row in enumerate(self.weight):
            total: Value | float = self.bias[k] if self.bias is not None else 0.0
            for wi, xi in zip(row, inputs, strict=True):
                total = wi * xi + total
            outputs.append(total)
        return _output(outputs)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        nin, nout = len(self.weight[0]), len(self.weight)
        return f"Linear({nin}, {nout}, bias={self.bias is not None})"


class Sequential(Module):
    """Modules applied one after another, as PyTorch's ``nn.Sequential``: ``Sequential(Linear(2,
    8), ReLU(), Linear(8, 1))``. Parameters are named by position (``0.weight.0.0``).

    Args:
        *modules: The modules, in the order they are applied.

    Raises:
        TypeError: For an argument that is not a :class:`Module`.

    >>> model = Sequential(Linear(2, 4, seed=0), Tanh(), Linear(4, 1, seed=1))
    >>> isinstance(model([1.0, 2.0]), Value), len(model), type(model[1]).__name__
    (True, 3, 'Tanh')
    """

    def __init__(self, *modules: Module) -> None:
        for module in modules:
            if not isinstance(module, Module):
                raise TypeError(f"Sequential takes Modules, got {type(module).__name__}")
        self.layers = list(modules)

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Value]]:
        for i, module in enumerate(self.layers):
            yield from module.named_parameters(f"{prefix}{i}.")

    def _named_values(self, prefix: str = "") -> Iterator[tuple[str, Value]]:
        for i, module in enumerate(self.layers):
            yield from module._named_values(f"{prefix}{i}.")

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for i, module in enumerate(self.layers):
            yield str(i), module

    def config(self) -> dict[str, Any]:
        return {"modules": [architecture(module) for module in self.layers]}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Sequential:
        if config.keys() != {"modules"} or not isinstance(config["modules"], list):
            raise ValueError(
                f"a Sequential's config is {{'modules': [...]}}, got {reprlib.repr(config)}"
            )
        built = []
        for spec in config["modules"]:
            module_class, module_config = _module_class(spec)
            built.append(module_class.from_config(module_config))
        return cls(*built)

    @classmethod
    def parameter_count(cls, config: Mapping[str, Any]) -> int | None:
        specs = config["modules"]
        if not isinstance(specs, list):
            raise ValueError(f"a Sequential's modules must be a list, got {reprlib.repr(specs)}")
        total = 0
        for spec in specs:
            module_class, module_config = _module_class(spec)
            count = module_class.parameter_count(module_config)
            if count is None:
                return None
            total += count
        return total

    def __call__(self, x: Inputs | Value | float) -> ModelOutput:
        out: Any = x
        for module in self.layers:
            out = module(out)
        return out

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, index: int) -> Module:
        return self.layers[index]

    def __iter__(self) -> Iterator[Module]:
        return iter(self.layers)

    def __repr__(self) -> str:
        return f"Sequential({', '.join(map(repr, self.layers))})"


class _Elementwise:
    """An activation as a module: applied to a Value (or number), or to each of a list."""

    function: ClassVar[str]  # the name in ACTIVATIONS

    @overload
    def __call__(self, x: Value | float) -> Value: ...
    @overload
    def __call__(self, x: Inputs) -> list[Value]: ...
    def __call__(self, x: Inputs | Value | float) -> Value | list[Value]:
        f = ACTIVATIONS[self.function]
        if isinstance(x, (Value, int, float)):
            return f(x if isinstance(x, Value) else Value(x, requires_grad=False))
        return [f(v if isinstance(v, Value) else Value(v, requires_grad=False)) for v in x]

    def config(self) -> dict[str, Any]:
        return {}

    @classmethod
    def parameter_count(cls, config: Mapping[str, Any]) -> int:
        if config:
            raise ValueError(f"{cls.__name__} takes no arguments, got {dict(config)!r}")
        return 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class ReLU(_Elementwise, Module):
    """max(0, x) on a Value or on each of a list (relu'(0) = 0, as PyTorch)."""

    function = "relu"


class Tanh(_Elementwise, Module):
    """tanh(x) on a Value or on each of a list."""

    function = "tanh"


class Sigmoid(_Elementwise, Module):
    """1 / (1 + e^-x) on a Value or on each of a list."""

    function = "sigmoid"


class Dropout(Module):
    """PyTorch's ``nn.Dropout``: in training mode each input is zeroed with probability ``p``
    and the survivors are scaled by 1/(1-p), so the expected output is the input; in eval
    mode (``model.eval()``) it is the identity.

    Masks are drawn from ``seed`` (the package's seed rule: None draws a generator from the
    global one, which ``ag.manual_seed`` resets), so a seeded run repeats. Works on a Value,
    a number or a list, as a layer of a :class:`Sequential` or through ``MLP(...,
    dropout=p)``; saved with its ``p`` (a loaded one draws new masks).

    A new mask on every call cannot be compiled: in training mode (with ``p > 0``) it raises
    :class:`~autograd_lite.TraceError` under ``ag.compile``, so ``fit(compile="auto")``
    trains such a model eagerly and compiles only its scoring (eval mode).

    Args:
        p: The probability of zeroing each input, in [0, 1].
        seed: An int, a ``random.Random``, or None to draw from the global generator
            (``ag.manual_seed``).

    Raises:
        ValueError: If ``p`` is not a number in [0, 1].

    >>> drop = Dropout(0.5, seed=0)
    >>> [v.data for v in drop([1.0, 2.0, 3.0, 4.0])]        # zeroed or doubled
    [2.0, 4.0, 0.0, 0.0]
    >>> [v.data for v in drop.eval()([1.0, 2.0, 3.0, 4.0])]  # identity in eval mode
    [1.0, 2.0, 3.0, 4.0]
    """

    def __init__(self, p: float = 0.5, *, seed: Seed = None) -> None:
        self.p = _probability(p)
        self._rng = generator(seed)

    def config(self) -> dict[str, Any]:
        return {"p": self.p}

    @classmethod
    def parameter_count(cls, config: Mapping[str, Any]) -> int:
        if set(config) - {"p"}:
            raise ValueError(f"Dropout takes only p, got {reprlib.repr(dict(config))}")
        _probability(config.get("p", 0.5))
        return 0

    @overload
    def __call__(self, x: Value | float) -> Value: ...
    @overload
    def __call__(self, x: Inputs) -> list[Value]: ...
    def __call__(self, x: Inputs | Value | float) -> Value | list[Value]:
        items = [x] if isinstance(x, (Value, int, float)) else x
        values = [v if isinstance(v, Value) else Value(v, requires_grad=False) for v in items]
        if self.training and self.p > 0:
            if tracing_now():
                raise TraceError(
                    f"nn.Dropout({self.p}) draws a new random mask on every call in training "
                    f"mode, which compiled code ({tracing_now()}) would fix once: train "
                    "eagerly, or call model.eval() to compile the model without dropout"
                )
            scale = 0.0 if self.p == 1 else 1.0 / (1.0 - self.p)
            rng, p = self._rng, self.p
            values = [v * (scale if rng.random() >= p else 0.0) for v in values]
        return values[0] if isinstance(x, (Value, int, float)) else values

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"


def clip_grad_norm_(
    parameters: Iterable[Value] | Value,
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> float:
    """Scale the parameters' ``.grad`` in place so that their total norm is at most
    ``max_norm``; returns the total norm before clipping, as PyTorch's
    ``torch.nn.utils.clip_grad_norm_``.

    The total norm is (Σ |g|^norm_type)^(1/norm_type) over every gradient; ``norm_type=inf``
    gives the largest |g|, ``-inf`` the smallest and ``0`` how many gradients are not zero.
    Computed in IEEE arithmetic like PyTorch's: a sum too large for a float is inf, a NaN
    gradient makes it NaN. When the norm exceeds ``max_norm`` every gradient is multiplied by
    max_norm / (norm + 1e-6), so the direction is kept and only the step shrinks: the cure
    for exploding gradients. ``error_if_nonfinite`` checks the norm before touching any
    gradient (otherwise an inf norm zeroes the gradients and NaN spreads to every one, as in
    PyTorch).

    Args:
        parameters: The parameters (or one) whose ``.grad`` to clip.
        max_norm: The largest total norm allowed, >= 0.
        norm_type: The order of the norm: a positive or negative number, 0, ``inf`` or
            ``-inf``.
        error_if_nonfinite: Raise, instead of scaling, when the norm is NaN or infinite.

    Returns:
        The total norm before clipping.

    Raises:
        ValueError: For a negative ``max_norm`` or a ``norm_type`` that is not a number.
        RuntimeError: With ``error_if_nonfinite``, for a NaN or infinite norm.

    >>> a, b = Value(0.0), Value(0.0)
    >>> a.grad, b.grad = 3.0, 4.0
    >>> clip_grad_norm_([a, b], max_norm=1.0), round(a.grad, 4), round(b.grad, 4)
    (5.0, 0.6, 0.8)
    """
    params = [parameters] if isinstance(parameters, Value) else list(parameters)
    if isinstance(max_norm, bool) or not isinstance(max_norm, (int, float)) or max_norm < 0:
        raise ValueError(f"max_norm must be a non-negative number, got {max_norm!r}")
    try:
        order = float(norm_type)
    except (TypeError, ValueError):
        order = math.nan
    if math.isnan(order):
        raise ValueError(f"norm_type must be a number, inf or -inf, got {norm_type!r}")
    if not params:
        return 0.0
    total = _total_norm([abs(p.grad) for p in params], order)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"the total norm of order {norm_type} of the gradients is {total}, so they cannot "
            "be clipped; set error_if_nonfinite=False to clip anyway"
        )
    coefficient = max_norm / (total + 1e-6)
    if not coefficient >= 1.0:  # NaN too: it spreads, as in PyTorch
        for p in params:
            p.grad *= coefficient
    return total


def _total_norm(sizes: list[float], order: float) -> float:
    """The ``order``-norm of non-negative ``sizes`` in IEEE arithmetic (overflow is inf)."""
    if order == 0.0:
        return float(sum(size != 0.0 for size in sizes))  # NaN and inf count as not zero
    if any(math.isnan(size) for size in sizes):
        return math.nan
    if order == math.inf:
        return max(sizes)
    if order == -math.inf:
        return min(sizes)
    try:
        powered = math.fsum([_ieee_power(size, order) for size in sizes])
    except OverflowError:  # the running sum passed 1.8e308
        powered = math.inf
    return _ieee_power(powered, 1.0 / order)


def _ieee_power(base: float, exponent: float) -> float:
    """``base ** exponent`` for base ≥ 0 as IEEE defines it: inf on overflow and for 0 ** -p."""
    try:
        power: float = base**exponent
    except (OverflowError, ZeroDivisionError):
        return math.inf
    return power
