"""Save and load models as JSON: architecture, weights and a format version. No pickle.

A file looks like ``{"format": "autograd_lite.model", "version": 1, "architecture": {"type":
"MLP", "nin": 2, "nouts": [16, 1], "activation": "relu"}, "parameters": {"layers.0.neurons.0.w.0":
0.25, ...}, "metadata": {...}}``. Floats are written with ``repr``, so they load back bit for bit.
``"parameters"`` holds every weight, frozen ones (``requires_grad=False``) included, and a model
with frozen weights also gets ``"frozen": [their names]``; without any the key is left out, so
such files read as they always did.

>>> import tempfile, pathlib
>>> from autograd_lite.nn import MLP
>>> model = MLP(2, [3, 1], seed=0)
>>> path = pathlib.Path(tempfile.mkdtemp()) / "model.json"
>>> save(model, path)
>>> load(path)([0.5, -1.0]).data == model([0.5, -1.0]).data
True
"""

from __future__ import annotations

import json
import math
import reprlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._files import writable_target, write_atomic
from .nn import MODULES, Module, architecture

__all__ = [
    "FORMAT",
    "VERSION",
    "ModelFileError",
    "load",
    "load_with_metadata",
    "save",
    "writable_target",
    "write_atomic",
]

FORMAT = "autograd_lite.model"
VERSION = 1

MAX_DEPTH = 64
"""JSON in a model file nested deeper than this is refused (a saved model needs a few levels)."""
MAX_INT_DIGITS = 300
"""Integers in a model file longer than this are refused: no weight is that large."""

_KEYS = {"format", "version", "architecture", "parameters", "frozen", "metadata"}
_OBJECTS = {"architecture", "parameters", "metadata"}  # the keys whose values are JSON objects
_short_repr = reprlib.Repr()
_short_repr.maxstring, _short_repr.maxother, _short_repr.maxlist, _short_repr.maxdict = 60, 60, 6, 6


class ModelFileError(ValueError):
    """A model file that cannot be loaded: not JSON, truncated, another format or version, or
    weights that do not fit the architecture. The message names the file and the problem, on
    one line (a line break that came from the file is shown as ``\\n``)."""

    def __init__(self, message: str) -> None:
        super().__init__(message.replace("\r", "\\r").replace("\n", "\\n"))


def save(model: Module, path: str | Path, *, metadata: Mapping[str, Any] | None = None) -> None:
    """Write ``model`` to ``path`` as JSON, atomically.

    The file is written beside the target under a temporary name, flushed to disk and then
    renamed over ``path``: a crash mid-save leaves any earlier file at ``path`` whole (and the
    next save removes the temporary file it left). A symlink is followed: the file it points
    to is replaced and the link kept. ``metadata`` (JSON-serialisable) travels with the model,
    e.g. feature names or scaling.

    Args:
        model: The model to save.
        path: The file to write.
        metadata: JSON-serialisable data saved beside the model, or None.

    Raises:
        ValueError: For a weight that is not finite (JSON cannot hold it).
        OSError: Naming ``path`` when it cannot be written, a read-only file included (see
            :func:`writable_target`).
    """
    parameters = model.state_dict()
    bad = [name for name, value in parameters.items() if not math.isfinite(value)]
    if bad:
        raise ValueError(f"cannot save non-finite weights: {bad[:3]}")
    frozen = [name for name, value in model._named_values() if not value.requires_grad]
    document = {
        "format": FORMAT,
        "version": VERSION,
        "architecture": architecture(model),
        "parameters": parameters,
        **({"frozen": frozen} if frozen else {}),
        "metadata": dict(metadata or {}),
    }
    text = json.dumps(document, indent=1, allow_nan=False)  # fails before any file is touched
    write_atomic(path, text)


class _RefusedError(Exception):
    """A reason to refuse the file, raised from inside the JSON parser."""


def _parse_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise _RefusedError(f"holds an integer of {digits} digits, too large for any model")
    return int(text)


def _nesting_depth(document: object) -> int:
    """How deeply ``document`` nests lists and objects (iteratively: no recursion limit)."""
    deepest, stack = 0, [(document, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                break
            stack.extend(
                (v, depth + 1) for v in (item.values() if isinstance(item, dict) else item)
            )
    return deepest


def _same(a: object, b: object) -> bool:
    """JSON equality that tells ``true`` from ``1`` and ``1`` from ``1.0``."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[key], b[key]) for key in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def _weight(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _read(path: Path) -> dict[str, Any]:
    """The file's JSON document, checked for shape (not yet for the architecture)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"), parse_int=_parse_int)
    except UnicodeDecodeError as error:
        raise ModelFileError(f"{path}: not a text file ({error.reason})") from error
    except json.JSONDecodeError as error:
        raise ModelFileError(f"{path}: not valid JSON, truncated or corrupt ({error})") from error
    except RecursionError as error:
        raise ModelFileError(f"{path}: JSON nested too deeply to be a model file") from error
    except _RefusedError as error:
        raise ModelFileError(f"{path}: {error}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not an autograd_lite model file")
    if _nesting_depth(document) > MAX_DEPTH:
        raise ModelFileError(f"{path}: JSON nested more than {MAX_DEPTH} levels deep")
    unknown = sorted(document.keys() - _KEYS)
    if unknown:
        raise ModelFileError(f"{path}: unknown keys {_short_repr.repr(unknown)} in a model file")
    version = document.get("version")
    if type(version) is not int or version != VERSION:
        raise ModelFileError(
            f"{path}: format version {_short_repr.repr(version)}, this autograd_lite reads "
            f"version {VERSION}"
        )
    document.setdefault("metadata", {})
    if not all(isinstance(document.get(key), dict) for key in _OBJECTS):
        raise ModelFileError(
            f"{path}: 'architecture', 'parameters' and 'metadata' must be JSON objects"
        )
    frozen = document.setdefault("frozen", [])
    if not isinstance(frozen, list) or not all(isinstance(name, str) for name in frozen):
        raise ModelFileError(f"{path}: 'frozen' must be a list of parameter names")
    if len(set(frozen)) != len(frozen):
        raise ModelFileError(f"{path}: 'frozen' names a parameter twice")
    unknown = [name for name in frozen if name not in document["parameters"]]
    if unknown:
        raise ModelFileError(
            f"{path}: 'frozen' names {_short_repr.repr(unknown[0])},"
            " which is not among the parameters"
        )
    return document


def _build(spec: dict[str, Any], parameters: dict[str, Any], frozen: list[str]) -> Module:
    """The model ``spec`` describes, with ``parameters`` in it, every part checked first.

    Each weight in the file requires grad unless ``frozen`` names it. A Value the module's
    constructor makes frozen (a constant) may be absent: files written before frozen values
    were saved lack them, and such a Value keeps what the constructor gave it."""
    kind = spec.get("type")
    cls = MODULES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(f"unknown architecture type {_short_repr.repr(kind)}")
    config = {key: value for key, value in spec.items() if key != "type"}
    expected = cls.parameter_count(config)  # before building: a few bytes may ask for millions
    if expected is not None and expected != len(parameters):
        raise ValueError(
            f"the architecture {_short_repr.repr(spec)} has {expected} parameters, "
            f"the file holds {len(parameters)}"
        )
    bad = [name for name, value in parameters.items() if not _weight(value)]
    if bad:
        raise ValueError(
            f"parameter {_short_repr.repr(bad[0])} must be a finite number, "
            f"got {_short_repr.repr(parameters[bad[0]])}"
        )
    fresh = cls.from_config(config)
    rebuilt = json.loads(json.dumps(architecture(fresh)))
    if not _same(rebuilt, spec):  # e.g. "nin": true builds nin 1; the file must say 1
        raise ValueError(f"the architecture {_short_repr.repr(spec)} is not one a model writes")
    values = dict(fresh._named_values())
    required = {name for name, value in values.items() if value.requires_grad}
    missing = sorted(required - parameters.keys())
    unexpected = sorted(parameters.keys() - values.keys())
    if missing or unexpected:
        raise ValueError(
            f"the weights do not fit the architecture: missing {_short_repr.repr(missing)}, "
            f"unexpected {_short_repr.repr(unexpected)}"
        )
    fresh.load_state_dict(parameters, strict=False)
    frozen_names = set(frozen)
    for name in parameters:
        values[name].requires_grad = name not in frozen_names
    return fresh


def load_with_metadata(
    path: str | Path, model: Module | None = None
) -> tuple[Module, dict[str, Any]]:
    """Like :func:`load`, and also return the metadata that was saved with the model.

    Args:
        path: The file :func:`save` wrote.
        model: A model to copy the weights into, or None to build a new one.

    Returns:
        ``(model, metadata)``; the metadata is ``{}`` when none was saved.
    """
    path = Path(path)
    document = _read(path)
    try:
        fresh = _build(document["architecture"], document["parameters"], document["frozen"])
        if model is not None and architecture(model) != architecture(fresh):
            raise ValueError(
                f"the file holds {architecture(fresh)}, the model is {architecture(model)}"
            )
    except (KeyError, TypeError, ValueError, OverflowError, RecursionError) as error:
        reason = error.args[0] if isinstance(error, KeyError) and error.args else error
        if isinstance(error, KeyError):  # KeyError quotes itself
            reason = f"the architecture lacks {reason!r}"
        raise ModelFileError(f"{path}: {reason}") from error
    if model is None:
        return fresh, document["metadata"]
    model.load_state_dict(fresh.state_dict())  # values only: the model keeps its flags
    return model, document["metadata"]


def load(path: str | Path, model: Module | None = None) -> Module:
    """Read a model written by :func:`save`; with ``model``, copy the weights into it instead.

    Every field is checked for its JSON type, and the architecture's size against the
    weights present before anything is built, so a hostile file costs time in proportion to
    its length. On any error ``model`` is left exactly as it was.

    Args:
        path: The file :func:`save` wrote.
        model: A model of the same architecture to copy the weights into, or None to build
            a new one.

    Returns:
        The model (``model`` itself when given).

    Raises:
        OSError: When the file cannot be read.
        ModelFileError: When it is malformed, truncated, of another version or does not fit
            ``model``.
    """
    return load_with_metadata(path, model)[0]
