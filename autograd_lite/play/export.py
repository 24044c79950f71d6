"""The "Export as Python" script, which rebuilds a playground run and repeats its training.

The script makes the same data, features, model and optimizer, and makes the same sequence of
``ag.fit`` calls (one epoch each, with the same seeds), putting back any weight edited on the
page at the epoch it was edited; so it ends with the page's model, and its last line prints the
page's losses at full precision: ``train_loss 0.69… validation_loss 0.70…``.

>>> from autograd_lite.play.session import Session
>>> script = export_script(Session({"hidden": [2], "points": 40}))
>>> script.splitlines()[-1]
'print(f"train_loss {train_loss!r} validation_loss {validation_loss!r}")'
"""

from __future__ import annotations

from typing import Any

from .session import Session, compile_mode, loss_name

__all__ = ["export_script"]

_FEATURE_CODE = {
    "x1": "a",
    "x2": "b",
    "x1^2": "a * a",
    "x2^2": "b * b",
    "x1*x2": "a * b",
    "sin(x1)": "math.sin(a)",
    "sin(x2)": "math.sin(b)",
}

_TEMPLATE = '''"""Train again what the autograd_lite playground trained: {summary}.

Made by the playground's "Export as Python". Run it with autograd_lite installed; its last
line prints the losses the page showed at epoch {epochs}.
"""

import math

import autograd_lite as ag
from autograd_lite.play.datasets import make_dataset

SEED = {seed}
EPOCHS = {epochs}
# Weights edited on the page: epoch -> [(layer, neuron, input index or -1 for the bias, value)]
EDITS = {edits}

{data}
P_train, P_val, y_train, y_val = ag.data.train_test_split(
    X, y, test_size={validation_split!r}, seed=SEED
)


def features(points):
    return [[{features}] for a, b in points]


X_train, X_val = features(P_train), features(P_val)
model = ag.nn.MLP(
    {nin}, {sizes}, activation={activation!r}, seed=SEED, init={init!r}, dropout={dropout!r}
)
optimizer = {optimizer}
{loss}

def edit(epoch):
    for layer, neuron, index, value in EDITS.get(epoch, []):
        unit = model.layers[layer].neurons[neuron]
        (unit.b if index == -1 else unit.w[index]).data = value


for epoch in range(1, EPOCHS + 1):
    edit(epoch - 1)
    ag.fit(
        model, X_train, y_train, loss=loss, optimizer=optimizer, epochs=1,
        batch_size={batch_size}, seed=SEED * 1_000_003 + epoch, progress=False,
        compile={compile!r},
    )
edit(EPOCHS)
train_loss = ag.evaluate(model, X_train, y_train, loss={objective!r})[0]
validation_loss = ag.evaluate(model, X_val, y_val, loss={objective!r})[0]
print(f"train_loss {{train_loss!r}} validation_loss {{validation_loss!r}}")
'''

_REGULARIZED = '''objective = ag.losses.get_objective({objective!r})
weights = [w for layer in model.layers for neuron in layer.neurons for w in neuron.w]


def loss(outputs, targets):
    """The {objective} loss plus {rate!r} times the {kind} penalty of the weights."""
    penalty = sum(({term} for w in weights), ag.Value(0.0))
    return objective.loss(outputs, targets) + {rate!r} * penalty

'''


def _loss_code(config: dict[str, Any], objective: str) -> str:
    kind, rate = config["regularization"], config["regularization_rate"]
    if kind is None or rate == 0:
        return f"loss = {objective!r}\n"
    term = "abs(w)" if kind == "l1" else "w * w"
    return _REGULARIZED.format(objective=objective, rate=rate, kind=kind.upper(), term=term)


def _data_code(config: dict[str, Any], custom: Any) -> str:
    if config["dataset"] != "csv" or custom is None:
        return (
            f"X, y = make_dataset({config['dataset']!r}, {config['points']}, "
            f"{config['noise']!r}, seed=SEED)"
        )
    X, y = custom
    return f"# Points of one's own, as the page scaled them.\nX = {X!r}\ny = {y!r}"


def _optimizer_code(config: dict[str, Any]) -> str:
    lr = config["learning_rate"]
    if config["optimizer"] == "adam":
        return f"ag.optim.Adam(model.parameters(), lr={lr!r})"
    momentum = 0.9 if config["optimizer"] == "momentum" else 0.0
    return f"ag.optim.SGD(model.parameters(), lr={lr!r}, momentum={momentum!r})"


def export_script(session: Session) -> str:
    """The Python script that repeats ``session``'s training (see the module's docstring)."""
    with session.lock:
        config = dict(session.config)
        epochs, edit_log = session.epoch, list(session.edits)
        custom, objective = session.custom, loss_name(session.task)
    edits: dict[int, list[tuple[int, int, int, float]]] = {}
    for epoch, layer, neuron, index, value in edit_log:
        edits.setdefault(epoch, []).append((layer, neuron, index, value))
    outputs = 3 if objective == "cross_entropy" else 1
    hidden = "-".join(map(str, config["hidden"])) or "no hidden layer"
    return _TEMPLATE.format(
        summary=f"{config['dataset']}, {hidden} {config['activation']}, {config['optimizer']}",
        seed=config["seed"], epochs=epochs, edits=edits, data=_data_code(config, custom),
        validation_split=config["validation_split"],
        features=", ".join(_FEATURE_CODE[f] for f in config["features"]),
        nin=len(config["features"]), sizes=[*config["hidden"], outputs],
        activation=config["activation"], init=config["init"], dropout=config["dropout"],
        optimizer=_optimizer_code(config), loss=_loss_code(config, objective),
        batch_size=config["batch_size"], compile=compile_mode(config), objective=objective,
    )  # fmt: skip
