"""One playground session: the data, the model and optimizer built from a configuration, and
training one epoch at a time with :func:`~autograd_lite.train.fit`, so that an exported script
repeats it call for call.

Every change goes through the session's lock, so a reader never sees a half-updated model;
:meth:`Session.state` is a JSON-ready snapshot.

>>> session = Session({"hidden": [2], "points": 40})
>>> session.step(2)
2
>>> state = session.state()
>>> state["epoch"], state["train_loss"] < state["history"]["train_loss"][0]
(2, True)
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..data import train_test_split
from ..engine import Value, topological_order
from ..losses import get_objective
from ..nn import INITS, MLP
from ..optim import SGD, Adam, Optimizer
from ..steps import backward_steps
from ..train import evaluate, fit
from .config import DEFAULTS, checked
from .datasets import TASKS, make_dataset, parse_points, task_of

Points = tuple[list[list[float]], list[float]]

__all__ = ["GRID", "MAX_STEP_EPOCHS", "Session", "feature_rows", "fit_seed", "loss_name"]

GRID = 24
"""Heatmaps are computed on a GRID × GRID lattice over the input plane."""

MAX_STEP_EPOCHS = 1000
"""The most epochs one step request may ask for."""

EXTENT = 1.6
"""The input plane shown runs from -EXTENT to EXTENT on both axes."""

_FEATURE: dict[str, Callable[[float, float], float]] = {
    "x1": lambda a, b: a,
    "x2": lambda a, b: b,
    "x1^2": lambda a, b: a * a,
    "x2^2": lambda a, b: b * b,
    "x1*x2": lambda a, b: a * b,
    "sin(x1)": lambda a, b: math.sin(a),
    "sin(x2)": lambda a, b: math.sin(b),
}
_ACTIVATION: dict[str, Callable[[float], float]] = {
    "relu": lambda v: max(v, 0.0),
    "tanh": math.tanh,
    "sigmoid": lambda v: 0.5 * (1.0 + math.tanh(v / 2)),
    "linear": lambda v: v,
}


def feature_rows(X: Sequence[Sequence[float]], features: Sequence[str]) -> list[list[float]]:
    """Each point ``(x1, x2)`` as the network's inputs, the ``features`` in order.

    >>> feature_rows([[2.0, 3.0]], ["x1", "x1*x2"])
    [[2.0, 6.0]]
    """
    return [[_FEATURE[f](a, b) for f in features] for a, b in X]


def loss_name(task: str) -> str:
    """The loss a task trains with: ``bce``, ``cross_entropy`` or ``mse``."""
    return {"binary": "bce", "classes": "cross_entropy", "regression": "mse"}[task]


def task(dataset: str, custom: Points | None = None) -> str:
    """The task of a data set (of one's own points ``custom`` for ``csv``)."""
    return task_of(custom[1]) if dataset == "csv" and custom is not None else TASKS[dataset]


def fit_seed(seed: int, epoch: int) -> int:
    """The ``seed=`` of the ``fit`` call that trains epoch ``epoch`` (its shuffle)."""
    return seed * 1_000_003 + epoch


def regularized(model: MLP, base: str, kind: str | None, rate: float) -> Any:
    """``fit``'s ``loss=``: the named loss, plus ``rate`` × Σ|w| (l1) or Σw² (l2) over the
    weights (not the biases) when ``kind`` says so."""
    if kind is None or rate == 0:
        return base
    objective = get_objective(base)
    weights = [w for layer in model.layers for neuron in layer.neurons for w in neuron.w]

    def loss(outputs: list[Any], targets: list[float]) -> Value:
        penalty = sum((abs(w) if kind == "l1" else w * w for w in weights), Value(0.0))
        return objective.loss(outputs, targets) + rate * penalty

    return loss


def build(config: Mapping[str, Any], custom: Points | None = None) -> tuple[Any, ...]:
    """Data, model and optimizer for ``config``: ``(X_train, y_train, X_val, y_val, model,
    optimizer, points)``, where ``points`` holds the raw 2-D points of both sets."""
    if config["dataset"] == "csv":
        if custom is None:
            raise ValueError("dataset: csv needs points of one's own first (POST /api/data)")
        X, y = custom
    else:
        X, y = make_dataset(config["dataset"], config["points"], config["noise"], config["seed"])
    P_train, P_val, y_train, y_val = train_test_split(
        X, y, test_size=config["validation_split"], seed=config["seed"]
    )
    outputs = 3 if task(config["dataset"], custom) == "classes" else 1
    model = MLP(
        len(config["features"]),
        [*config["hidden"], outputs],
        activation=config["activation"],
        seed=config["seed"],
        init=config["init"],
        dropout=config["dropout"],
    )
    lr = config["learning_rate"]
    optimizer: Optimizer
    if config["optimizer"] == "adam":
        optimizer = Adam(model.parameters(), lr=lr)
    else:
        optimizer = SGD(
            model.parameters(), lr=lr, momentum=0.9 * (config["optimizer"] == "momentum")
        )
    features = config["features"]
    return (
        feature_rows(P_train, features),
        y_train,
        feature_rows(P_val, features),
        y_val,
        model,
        optimizer,
        {
            "train": [[*p, t] for p, t in zip(P_train, y_train)],
            "validation": [[*p, t] for p, t in zip(P_val, y_val)],
        },
    )


def compile_mode(config: Mapping[str, Any]) -> bool | str:
    """``fit``'s ``compile=``: ``"auto"``, but eager with dropout (a new mask every call)."""
    return False if config["dropout"] else "auto"


def _forward_floats(model: MLP, rows: list[list[float]]) -> list[list[list[float]]]:
    """Every layer's outputs for every row, in plain floats (eval mode: no dropout): the
    heatmaps need thousands of forward passes and no gradient."""
    act = _ACTIVATION[model.activation]
    layers = [[([w.data for w in n.w], n.b.data) for n in layer.neurons] for layer in model.layers]
    found: list[list[list[float]]] = [[] for _ in layers]
    for row in rows:
        x = row
        for k, layer in enumerate(layers):
            z = [math.fsum(w * v for w, v in zip(ws, x)) + b for ws, b in layer]
            x = z if k == len(layers) - 1 else [act(v) for v in z]
            found[k].append(x)
    return found


class Session:
    """The playground's one shared session: a configuration, the model training on it, and
    what the page draws. Thread-safe: every public method takes the lock.

    Args:
        config: settings changed from :data:`~autograd_lite.play.config.DEFAULTS`.
    """

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        self.lock = threading.RLock()
        self.version = 0
        self._player: threading.Thread | None = None
        self._playing = False
        self.custom: Points | None = None
        self._reset(checked(config or {}))

    def _reset(self, config: dict[str, Any]) -> None:
        built = build(config, self.custom)
        with self.lock:
            self.config = config
            self.task = task(config["dataset"], self.custom)
            (self.X, self.y, self.X_val, self.y_val, self.model, self.optimizer,
             self.points) = built  # fmt: skip
            self.loss = loss_name(self.task)
            self.fit_loss = regularized(
                self.model, self.loss, config["regularization"], config["regularization_rate"]
            )
            self.epoch = 0
            self.edits: list[tuple[int, int, int, int, float]] = []
            self.train_losses: list[float] = []
            self.validation_losses: list[float] = []
            self.stopped: str | None = None
            self.error: str | None = None
            self._best = (math.inf, 0)
            self._measure()

    def _measure(self) -> None:
        """Score the model as it is now; the numbers of the current epoch."""
        train_loss = evaluate(self.model, self.X, self.y, loss=self.loss)[0]
        validation_loss = evaluate(self.model, self.X_val, self.y_val, loss=self.loss)[0]
        del self.train_losses[self.epoch :], self.validation_losses[self.epoch :]
        self.train_losses.append(train_loss)
        self.validation_losses.append(validation_loss)
        self.version += 1
        self._snapshot: dict[str, Any] | None = None

    def configure(self, changes: Mapping[str, Any]) -> None:
        """Change some settings and start again from epoch 0 (``ValueError``, and no change,
        for a bad one)."""
        with self.lock:
            config = checked(changes, self.config)
            if config["dataset"] == "csv" and self.custom is None:
                raise ValueError("dataset: csv needs points of one's own first (POST /api/data)")
        self.pause()
        with self.lock:
            self._reset(config)

    def use_points(self, text: str) -> None:
        """Train on points of one's own, CSV text (see
        :func:`~autograd_lite.play.datasets.parse_points`): the ``csv`` data set, from epoch 0.
        """
        if not isinstance(text, str):
            raise ValueError("csv: expected the CSV file's text")
        points = parse_points(text)
        self.pause()
        with self.lock:
            before, self.custom = self.custom, points
            try:
                self._reset(checked({"dataset": "csv"}, self.config))
            except ValueError:
                self.custom = before
                raise

    def reset(self) -> None:
        """The same configuration from epoch 0: the same data and initial weights."""
        self.pause()
        with self.lock:
            self._reset(self.config)

    def train_epoch(self) -> bool:
        """Train one epoch (one ``fit`` call); False, and nothing trained, once stopped."""
        with self.lock:
            if self.stopped is not None:
                return False
            try:
                fit(
                    self.model, self.X, self.y, loss=self.fit_loss, optimizer=self.optimizer,
                    epochs=1, batch_size=self.config["batch_size"], progress=False,
                    seed=fit_seed(self.config["seed"], self.epoch + 1),
                    compile=compile_mode(self.config),
                )  # fmt: skip
            except ValueError as error:
                self.stopped, self.error = "diverged", str(error).split("\n")[0]
                self.version += 1
                self._snapshot = None
                return False
            self.epoch += 1
            self._measure()
            self._watch()
            return True

    def _watch(self) -> None:
        """Early stopping: stop once the validation loss has not improved for N epochs."""
        patience = self.config["early_stopping"]
        loss = self.validation_losses[-1]
        if loss < self._best[0]:
            self._best = (loss, self.epoch)
        elif patience is not None and self.epoch - self._best[1] >= patience:
            self.stopped = "early_stopping"

    def step(self, epochs: int = 1) -> int:
        """Train up to ``epochs`` epochs, one at a time (the lock is let go between them, so
        other requests go on); return how many were trained."""
        if isinstance(epochs, bool) or not isinstance(epochs, int):
            raise ValueError(f"epochs: expected a whole number, got {epochs!r:.40}")
        if not 1 <= epochs <= MAX_STEP_EPOCHS:
            raise ValueError(f"epochs: must be from 1 to {MAX_STEP_EPOCHS}, got {epochs}")
        done = 0
        while done < epochs and self.train_epoch():
            done += 1
        return done

    def play(self) -> None:
        """Train in a background thread, an epoch at a time, until paused or stopped."""
        with self.lock:
            if self._playing:
                return
            self._playing = True
            self.version += 1
            self._snapshot = None
            self._player = threading.Thread(target=self._play, name="playground", daemon=True)
            self._player.start()

    def _play(self) -> None:
        try:
            while self._playing and self.train_epoch():
                threading.Event().wait(0.002)  # let waiting requests take the lock
        finally:
            with self.lock:
                self._playing = False
                self.version += 1
                self._snapshot = None

    def pause(self) -> None:
        """Stop playing; returns once the epoch in progress (if any) is done."""
        self._playing = False
        player = self._player
        if player is not None and player is not threading.current_thread():
            player.join()

    @property
    def playing(self) -> bool:
        """Whether the background thread is training."""
        return self._playing

    def state(self) -> dict[str, Any]:
        """The JSON-ready snapshot the page draws (made once per change, then shared)."""
        with self.lock:
            if self._snapshot is None or self._snapshot["version"] != self.version:
                self._snapshot = snapshot(self)
            return self._snapshot

    def set_weight(self, layer: int, neuron: int, index: int, value: float) -> None:
        """Set one weight (``index`` -1: the bias) of the model as it is now; it is replayed
        by the export at this epoch."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"value: expected a number, got {value!r:.40}")
        if not (math.isfinite(value) and abs(value) <= 100):
            raise ValueError(f"value: must be from -100 to 100, got {value!r}")
        with self.lock:
            parameter = self._parameter(layer, neuron, index)
            parameter.data = float(value)
            self.edits.append((self.epoch, layer, neuron, index, float(value)))
            self._measure()

    def _parameter(self, layer: object, neuron: object, index: object) -> Value:
        layers = self.model.layers
        if not (isinstance(layer, int) and 0 <= layer < len(layers)):
            raise ValueError(f"layer: must be from 0 to {len(layers) - 1}, got {layer!r:.20}")
        neurons = layers[layer].neurons
        if not (isinstance(neuron, int) and 0 <= neuron < len(neurons)):
            raise ValueError(f"neuron: must be from 0 to {len(neurons) - 1}, got {neuron!r:.20}")
        weights = neurons[neuron].w
        if not (isinstance(index, int) and -1 <= index < len(weights)):
            raise ValueError(
                f"index: must be from -1 (the bias) to {len(weights) - 1}, got {index!r:.20}"
            )
        found: Value = neurons[neuron].b if index == -1 else weights[index]
        return found

    def gradients(self) -> list[Value]:
        """dL/dw of the mean training loss (with any regularization) over the whole training
        set, for the model as it is, in eval mode; the parameters with these ``.grad``."""
        params: list[Value] = self.model.parameters()
        with self.lock:
            self.model.eval()
            try:
                self.model.zero_grad()
                outputs = [self.model(row) for row in self.X]
                loss = get_objective(self.fit_loss).loss(outputs, list(self.y))
                loss.backward()
            finally:
                self.model.train()
        return params

    def backward_through(self, layer: int, neuron: int, example: int = 0) -> dict[str, Any]:
        """The backward pass of training example ``example`` through one neuron: the steps
        :func:`~autograd_lite.steps.backward_steps` records at the neuron's own nodes (its
        weighted sum and activation), with their chain-rule arithmetic."""
        with self.lock:
            self._parameter(layer, neuron, -1)
            if not (isinstance(example, int) and 0 <= example < len(self.X)):
                raise ValueError(f"example: must be from 0 to {len(self.X) - 1}")
            return _neuron_steps(self, layer, neuron, example)


def _neuron_steps(session: Session, layer: int, neuron: int, example: int) -> dict[str, Any]:
    """What :meth:`Session.backward_through` returns (the caller holds the lock)."""
    model = session.model
    unit = model.layers[layer].neurons[neuron]
    labels = [(p, p.label) for p in [*unit.w, unit.b]]
    for i, w in enumerate(unit.w):
        w.label = f"w{i + 1}"
    unit.b.label = "b"
    try:
        model.eval()
        x: list[Any] = [
            Value(v, label=f, requires_grad=False)
            for v, f in zip(session.X[example], session.config["features"])
        ]
        before: list[Value] = []
        for k, current in enumerate(model.layers):
            if k == layer:
                before = [v for v in x if isinstance(v, Value)]
                for i, v in enumerate(before if k else []):
                    v.label = f"h{i + 1}"  # the previous layer's outputs, made for this pass
            out = current(x)
            x = out if isinstance(out, list) else [out]
            if k == layer:
                x[neuron].label = "out"
                target = x[neuron]
        output = x if len(x) > 1 else x[0]
        loss = get_objective(session.loss).loss([output], [session.y[example]])
        loss.label = "L"
        inside = _ancestors([target]) - _ancestors(before)
        sums = [v for v in topological_order(target) if v in inside and v.op and not v.label]
        for i, v in enumerate(v for v in sums if v.op is not None and v.op.name == "+"):
            v.label = f"s{i + 1}"  # the weighted sum, term by term
        own = [s for s in backward_steps(loss) if s.node in inside and s.node.op is not None]
    finally:
        model.train()
        for p, label in labels:
            p.label = label
    return {
        "layer": layer, "neuron": neuron, "example": example,
        "point": session.points["train"][example][:2], "target": session.y[example],
        "loss": loss.data, "output": target.data,
        "steps": [{"grad": s.grad, "lines": s.arithmetic("L")} for s in own],
    }  # fmt: skip


def _ancestors(values: Sequence[Value]) -> set[Value]:
    """``values`` and everything they were computed from."""
    found: set[Value] = set()
    stack = list(values)
    while stack:
        value = stack.pop()
        if value not in found:
            found.add(value)
            stack.extend(value.inputs)
    return found


def _grid_rows(features: Sequence[str]) -> list[list[float]]:
    """The heatmap lattice, row by row from the top (x2 = EXTENT) down, as network inputs."""
    ticks = [-EXTENT + 2 * EXTENT * (i + 0.5) / GRID for i in range(GRID)]
    return feature_rows([[a, b] for b in reversed(ticks) for a in ticks], features)


def _round(values: Sequence[float], digits: int = 4) -> list[float]:
    return [round(v, digits) for v in values]


def _network(session: Session, params: list[Value]) -> dict[str, Any]:
    """The weights and their gradients, layer by layer, and each layer's gradient norm."""
    layers = []
    for layer in session.model.layers:
        neurons = [
            {
                "weights": [w.data for w in n.w],
                "bias": n.b.data,
                "grads": [w.grad for w in n.w],
                "bias_grad": n.b.grad,
            }
            for n in layer.neurons
        ]
        group = [p for n in layer.neurons for p in [*n.w, n.b]]
        norm = math.sqrt(math.fsum(p.grad * p.grad for p in group))
        layers.append({"neurons": neurons, "gradient_norm": norm})
    del params
    return {"layers": layers}


def _heatmaps(session: Session) -> dict[str, Any]:
    """Each neuron's output over the lattice (and the inputs' features), for the pictures."""
    features = session.config["features"]
    rows = _grid_rows(features)
    outputs = _forward_floats(session.model, rows)
    inputs = [_round([row[i] for row in rows], 3) for i in range(len(features))]
    neurons = [
        [_round([out[j] for out in layer], 3) for j in range(len(layer[0]))] for layer in outputs
    ]
    return {"size": GRID, "extent": EXTENT, "inputs": inputs, "neurons": neurons}


def snapshot(session: Session) -> dict[str, Any]:
    """The state the page draws, as JSON-ready data (the caller holds the lock)."""
    params = session.gradients()
    return {
        "epoch": session.epoch,
        "train_loss": session.train_losses[-1],
        "validation_loss": session.validation_losses[-1],
        "playing": session.playing,
        "stopped": session.stopped,
        "error": session.error,
        "version": session.version,
        "config": dict(session.config),
        "defaults": DEFAULTS,
        "choices": {"init": sorted(INITS)},
        "task": session.task,
        "loss": session.loss,
        "history": {
            "train_loss": list(session.train_losses),
            "validation_loss": list(session.validation_losses),
        },
        "points": session.points,
        "network": _network(session, params),
        "heatmaps": _heatmaps(session),
    }
