"""The CSV pipeline behind ``autograd-lite train`` and ``predict``.

A table's features are standardized, the loss is chosen from the target column (or named),
a fifth of the rows is held out when there are enough, and the trained model is saved with a
:class:`TabularMetadata`: everything ``predict`` needs to use it on new rows.

>>> meta = TabularMetadata(["x"], "y", "mse", means=[2.0], stds=[0.5], target_mean=10.0)
>>> meta.scale([[3.0]]), meta.unscale([1.5])
([[2.0]], [11.5])
>>> TabularMetadata.from_dict(meta.to_dict()) == meta
True
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import reprlib  # reprlib.repr cuts a value short: a hostile file may hold megabytes
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from . import data
from .losses import OBJECTIVES, Objective, choose_loss, get_objective
from .nn import MLP, Module
from .optim import Adam
from .serialize import ModelFileError, load_with_metadata, save
from .train import History, fit, predict

__all__ = [
    "TabularMetadata",
    "TrainingRun",
    "batch_size_for",
    "load_bundle",
    "predict_csv",
    "prepare",
    "save_bundle",
]

HOLD_OUT = 0.2  # the share of rows kept for validation...
MIN_ROWS_TO_HOLD_OUT = 10  # ...once there are enough rows to spare some
MAX_PARAMETERS = 1_000_000  # a model this size already takes minutes per epoch


def _is_finite_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class TabularMetadata:
    """What a model trained on a table needs beside its weights; saved in its file.

    Feature j enters the model as (xⱼ - meansⱼ) / stdsⱼ. A regression model (a loss without
    a decision rule, ``mse``) learns the target scaled the same way, so its prediction is
    output · target_std + target_mean; for classifiers those two stay 0 and 1. A
    ``cross_entropy`` classifier whose labels were not 0..k-1 learnt them numbered in
    increasing order: ``classes`` holds the labels, so that class i is ``classes[i]`` (None
    when the labels were 0..k-1 already, and then left out of the file).
    Every instance is valid: the constructor raises ``ValueError`` saying what is wrong.
    """

    features: list[str]
    target: str
    loss: str
    means: list[float]
    stds: list[float]
    target_mean: float = 0.0
    target_std: float = 1.0
    classes: list[float] | None = None

    def __post_init__(self) -> None:
        names = self.features
        if not (isinstance(names, list) and names and all(isinstance(n, str) for n in names)):
            raise ValueError(
                f"features must be a non-empty list of names, got {reprlib.repr(names)}"
            )
        if "" in names or len(set(names)) != len(names):
            raise ValueError(f"feature names must be distinct and non-empty, got {names}")
        if not isinstance(self.target, str) or not self.target or self.target in names:
            raise ValueError(
                "target must be a column name apart from the features,"
                f" got {reprlib.repr(self.target)}"
            )
        if not isinstance(self.loss, str) or self.loss not in OBJECTIVES:
            raise ValueError(
                f"loss must be one of {sorted(OBJECTIVES)}, got {reprlib.repr(self.loss)}"
            )
        for name, column in (("means", self.means), ("stds", self.stds)):
            if not (isinstance(column, list) and all(_is_finite_number(v) for v in column)):
                raise ValueError(
                    f"{name} must be a list of finite numbers, got {reprlib.repr(column)}"
                )
            if len(column) != len(names):
                raise ValueError(f"{len(column)} {name} for {len(names)} features")
        if not (_is_finite_number(self.target_mean) and _is_finite_number(self.target_std)):
            raise ValueError("target_mean and target_std must be finite numbers")
        if any(s <= 0 for s in self.stds) or self.target_std <= 0:
            raise ValueError("standard deviations must be positive")
        if self.classes is not None:
            _check_classes(self.classes, self.loss)

    @property
    def objective(self) -> Objective:
        return OBJECTIVES[self.loss]

    def to_dict(self) -> dict[str, Any]:
        """The JSON object saved as the model file's ``metadata``."""
        fields = asdict(self)
        if self.classes is None:
            del fields["classes"]  # the file older versions wrote, and read
        return fields

    @classmethod
    def from_dict(cls, metadata: Mapping[str, Any]) -> TabularMetadata:
        """Read what :meth:`to_dict` wrote; raises ``ValueError`` naming what is missing or wrong.

        ``target_mean``/``target_std`` may be absent only for a classifier, which does not use
        them (older demo files lack them).

        Args:
            metadata: The dict :meth:`to_dict` wrote.

        Returns:
            The metadata.

        Raises:
            ValueError: Naming what is missing or wrong.
        """
        known = {field.name for field in fields(cls)}
        optional = {"classes"} | ({"target_mean", "target_std"} if _classifies(metadata) else set())
        required = known - optional
        missing, unknown = sorted(required - metadata.keys()), sorted(metadata.keys() - known)
        if missing or unknown:
            raise ValueError(f"missing {missing}, unknown {unknown}")
        return cls(**metadata)

    def scale(self, rows: Sequence[Sequence[float]]) -> data.Rows:
        """Feature rows as the model saw them in training.

        Args:
            rows: Feature rows in the table's units.

        Returns:
            The rows standardized with the training means and stds.
        """
        return data.standardize(rows, (self.means, self.stds))[0]

    def unscale(self, outputs: Sequence[float]) -> list[float]:
        """Predictions in the target's own units: a classifier's class numbers as the labels
        they stand for (unchanged without ``classes``).

        Args:
            outputs: The model's predictions (class numbers for a classifier).

        Returns:
            The predictions in the target's units, or the class labels.

        Raises:
            ValueError: For a class number past the metadata's classes.

        >>> TabularMetadata(["x"], "y", "cross_entropy", [0.0], [1.0], classes=[3, 7]).unscale(
        ...     [1.0, 0.0])
        [7, 3]
        """
        if self.classes is not None:
            try:
                return [self.classes[int(v)] for v in outputs]
            except IndexError:
                raise ValueError(
                    f"the model predicts a class past the {len(self.classes)} classes "
                    "in its metadata"
                ) from None
        return [v * self.target_std + self.target_mean for v in outputs]


def _check_classes(classes: object, loss: str) -> None:
    """``ValueError`` unless ``classes`` is what ``prepare`` saves for a loss of ``loss``."""
    if loss != "cross_entropy":
        raise ValueError(f"classes are saved for the loss cross_entropy only, not {loss}")
    if not isinstance(classes, list) or not all(_is_finite_number(v) for v in classes):
        raise ValueError(f"classes must be a list of labels, got {reprlib.repr(classes)}")
    if len(classes) < 2:
        raise ValueError(f"classes must hold at least two labels, got {reprlib.repr(classes)}")
    if not all(v >= 0 and float(v).is_integer() for v in classes):
        raise ValueError(f"classes must be whole numbers ≥ 0, got {reprlib.repr(classes)}")
    if any(a >= b for a, b in itertools.pairwise(classes)):
        raise ValueError(f"classes must be in increasing order, got {reprlib.repr(classes)}")


def _classifies(metadata: Mapping[str, Any]) -> bool:
    loss = metadata.get("loss")
    return isinstance(loss, str) and loss in OBJECTIVES and OBJECTIVES[loss].decide is not None


@dataclass
class TrainingRun:
    """A table made ready to train on: the model, its scaled rows, the held-out rows, the
    metadata to save with it."""

    model: MLP
    X: data.Rows
    y: list[float]
    validation: tuple[data.Rows, list[float]] | None
    metadata: TabularMetadata

    def fit(
        self,
        *,
        epochs: int,
        batch_size: int | None,
        lr: float,
        seed: int | None,
        progress: bool,
        early_stopping: int | None = None,
    ) -> History:
        """Train the model with Adam(lr) on the rows, validating on the held-out ones;
        ``batch_size=None`` takes :func:`batch_size_for` the table."""
        if batch_size is None:
            batch_size = batch_size_for(len(self.X))
        return fit(
            self.model,
            self.X,
            self.y,
            loss=self.metadata.loss,
            epochs=epochs,
            seed=seed,
            batch_size=batch_size,
            optimizer=Adam(self.model.parameters(), lr=lr),
            validation=self.validation,
            progress=progress,
            early_stopping=early_stopping,
        )

    def report(self, history: History) -> dict[str, float]:
        """The last epoch's numbers to show a person. A regression trains on standardized
        targets, so its losses are given back in the target's units: the mean squared error
        times std², and its root (``rmse``), in the units of the column itself.

        >>> run = TrainingRun(None, [], [], None,  # type: ignore[arg-type]
        ...     TabularMetadata(["x"], "y", "mse", [0.0], [1.0], 10.0, 2.0))
        >>> history = History(); history.record(0.25, val_loss=1.0)
        >>> run.report(history)
        {'loss': 1.0, 'rmse': 1.0, 'val_loss': 4.0, 'val_rmse': 2.0}
        """
        numbers = history.last()
        if self.metadata.loss != "mse":
            return numbers
        std = self.metadata.target_std
        shown: dict[str, float] = {}
        for name, value in numbers.items():  # inf where squared units pass 1.8e308
            shown[name] = value * std * std
            shown[name.replace("loss", "rmse")] = math.sqrt(value) * std
        return shown

    def save(self, path: str | Path) -> None:
        save_bundle(self.model, self.metadata, path)


def batch_size_for(rows: int) -> int:
    """The default rows per step: 32, or for a large table 1% of its rows (about 100 steps
    an epoch), so that a big table trains in steps that NumPy runs as whole columns.

    Args:
        rows: How many training rows.

    Returns:
        The batch size.

    >>> batch_size_for(150), batch_size_for(80_000)
    (32, 800)
    """
    return max(32, rows // 100)


def prepare(
    path: str | Path,
    target: str,
    *,
    hidden: Sequence[int] = (16, 16),
    loss: str = "auto",
    seed: int | None = None,
) -> TrainingRun:
    """Read a numeric CSV file and set up an MLP to predict its ``target`` column.

    Every other column is a feature, standardized. ``loss="auto"`` picks the loss from the
    target with :func:`~autograd_lite.losses.choose_loss`; regression targets are standardized
    too. With ``MIN_ROWS_TO_HOLD_OUT`` rows or more, ``HOLD_OUT`` of them are kept for
    validation. "auto" takes a target of whole numbers as classes only when they are all below
    ``MAX_CLASSES`` (so a 0/100000 or a "year" column is a number to regress on). Class labels
    that are not 0, 1, …, k-1 (say 3, 7 and 11, or a named ``cross_entropy`` on 0 and 99999)
    are numbered 0..k-1 in increasing order for training, and the labels are kept in the
    metadata's ``classes`` so that ``predict`` writes them back: the model has one output per
    class that occurs.

    Args:
        path: The CSV file.
        target: The column to predict.
        hidden: The hidden layers' widths.
        loss: A name of ``losses.OBJECTIVES``, or ``"auto"``.
        seed: Seeds the model and the split; None draws from the global generator.

    Returns:
        The :class:`TrainingRun`, ready to ``fit``.

    Raises:
        ValueError: Naming the file, for a table it cannot use (a single class among
            them), or a model of more than ``MAX_PARAMETERS`` parameters.
    """
    X, y, features = data.load_csv(path, target=target)
    if not features:
        raise ValueError(f"{path}: no feature columns besides the target {target!r}")
    name, objective = _objective(path, target, y, loss)
    classes = None
    if name == "cross_entropy":
        y, classes = _number_classes(path, target, y)
    _check_size({"nin": len(features), "nouts": [*hidden, objective.outputs(y)]})
    scaled, (means, stds) = data.standardize(X)
    targets, target_mean, target_std = y, 0.0, 1.0
    if objective.decide is None:  # regression trains on standardized targets
        column, ([target_mean], [target_std]) = data.standardize([[v] for v in y])
        targets = [row[0] for row in column]
    metadata = TabularMetadata(
        features, target, name, means, stds, target_mean, target_std, classes
    )
    model = MLP(len(features), [*hidden, objective.outputs(y)], seed=seed)
    validation = None
    if len(X) >= MIN_ROWS_TO_HOLD_OUT:
        scaled, X_val, targets, y_val = data.train_test_split(
            scaled, targets, test_size=HOLD_OUT, seed=seed
        )
        validation = (X_val, y_val)
    return TrainingRun(model, scaled, targets, validation, metadata)


def _objective(path: str | Path, target: str, y: list[float], loss: str) -> tuple[str, Objective]:
    """The loss's name (``"auto"``: chosen from the targets ``y``) and its objective, with
    every target checked now, before the model is announced and trained."""
    name = choose_loss(y) if loss == "auto" else loss
    objective = get_objective(name)
    wrong = next((t for t in y if not objective.check_target(t)), None)
    if wrong is not None:
        raise ValueError(
            f"{path}: loss {name} wants {objective.targets}, but {target!r} holds {wrong!r}"
        )
    return name, objective


def _number_classes(
    path: str | Path, target: str, y: list[float]
) -> tuple[list[float], list[float] | None]:
    """The class targets numbered 0..k-1 in increasing order of label, and the labels (None
    when they are already 0, 1, …, k-1); ``ValueError`` for fewer than two classes.

    >>> _number_classes("t.csv", "t", [3.0, 11.0, 7.0, 3.0])
    ([0.0, 2.0, 1.0, 0.0], [3.0, 7.0, 11.0])
    """
    labels = sorted(set(y))
    if len(labels) < 2:
        raise ValueError(
            f"{path}: {target!r} holds only the class {labels[0]:g}; a classifier needs "
            "examples of two classes at least"
        )
    if labels == list(range(len(labels))):
        return y, None
    number = {label: float(i) for i, label in enumerate(labels)}  # 3, 7, 11 become 0, 1, 2
    return [number[label] for label in y], labels


def _check_size(sizes: dict[str, Any]) -> None:
    """Refuse an MLP of more than ``MAX_PARAMETERS`` parameters, before it is built."""
    count = MLP.parameter_count(sizes)
    if count > MAX_PARAMETERS:
        raise ValueError(
            f"a model MLP({sizes['nin']}, {sizes['nouts']}) has {count:,} parameters, more "
            f"than the {MAX_PARAMETERS:,} pure-Python training can handle; use fewer or "
            "smaller hidden layers"
        )


def save_bundle(model: Module, metadata: TabularMetadata, path: str | Path) -> None:
    """Save ``model`` with its table metadata (``ag.save``'s file, atomically).

    Args:
        model: The trained model.
        metadata: What :func:`prepare` worked out about the table.
        path: The file to write.
    """
    save(model, path, metadata=metadata.to_dict())


def load_bundle(path: str | Path) -> tuple[Module, TabularMetadata]:
    """A model saved by :func:`save_bundle` and its metadata, both checked.

    Args:
        path: The file :func:`save_bundle` wrote.

    Returns:
        ``(model, metadata)``.

    Raises:
        ModelFileError: For a bad file, or a model saved without (valid) table metadata.
    """
    model, metadata = load_with_metadata(path)
    try:
        table = TabularMetadata.from_dict(metadata)
    except (TypeError, ValueError) as error:
        raise ModelFileError(
            f"{path}: its metadata lacks the feature names, scaling, target or loss that "
            f"`autograd-lite train` saves ({error}); train the model with it to use it here"
        ) from error
    if (
        table.classes is not None
        and isinstance(model, MLP)
        and model.sizes[-1] != len(table.classes)
    ):
        raise ModelFileError(
            f"{path}: its metadata names {len(table.classes)} classes, the model has "
            f"{model.sizes[-1]} outputs"
        )
    return model, table


def predict_csv(model_path: str | Path, data_path: str | Path) -> tuple[str, int]:
    """The CSV file at ``data_path`` with a ``predicted_<target>`` column, and its row count.

    The file needs the model's feature columns (in any order), as finite numbers; other
    columns may hold anything. Every cell is written back exactly as it was read (only
    quoting may change; blank lines are dropped). If the file already has a
    ``predicted_<target>`` column, its cells are replaced in place rather than a second
    column added.

    Args:
        model_path: The file :func:`save_bundle` wrote.
        data_path: The CSV file to predict for.

    Returns:
        ``(text, count)``: the new CSV text and how many rows it predicts.

    Raises:
        ValueError: Naming the file, for missing feature columns, no data rows, or a cell
            that is not a finite number.
    """
    model, metadata = load_bundle(model_path)
    table = data.read_table(data_path)
    missing = [name for name in metadata.features if name not in table.names]
    if missing:
        raise ValueError(f"{data_path}: the model needs the columns {missing}; found {table.names}")
    if not table.rows:
        raise ValueError(f"{data_path}: no data rows after the header")
    column = f"predicted_{metadata.target}"
    if column in metadata.features:
        raise ValueError(
            f"{model_path}: the feature {column!r} is where predictions would go; rename it"
        )
    X = table.numbers(metadata.features)
    regression = metadata.objective.decide is None
    outputs = metadata.unscale(predict(model, metadata.scale(X), loss=metadata.loss))
    header = list(table.header)
    at = table.names.index(column) if column in table.names else None
    if at is None:
        header.append(column)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    for (_, cells), value in zip(table.rows, outputs, strict=True):
        written = repr(value) if regression else str(int(value))  # labels are whole numbers
        row = list(cells)
        if at is None:
            row.append(written)
        else:
            row[at] = written
        writer.writerow(row)
    return text.getvalue(), len(table.rows)
