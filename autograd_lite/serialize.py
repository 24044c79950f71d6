"""Save and load models as JSON: architecture, weights and a format version. No pickle.

A file looks like ``{"format": "autograd_lite.model", "version": 1, "architecture": {"type":
"MLP", "nin": 2, "nouts": [16, 1], "activation": "relu"}, "parameters": {"layers.0.neurons.0.w.0":
0.25, ...}, "metadata": {...}}``. Floats are written with ``repr``, so they load back bit for bit.

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
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .nn import MODULES, Module

__all__ = ["FORMAT", "VERSION", "ModelFileError", "load", "load_with_metadata", "save"]

FORMAT = "autograd_lite.model"
VERSION = 1


class ModelFileError(ValueError):
    """A model file that cannot be loaded: not JSON, truncated, another format or version, or
    weights that do not fit the architecture. The message names the file and the problem."""


def architecture(model: Module) -> dict[str, Any]:
    """What rebuilds ``model``: its registered name as ``type``, then its :meth:`Module.config`."""
    config = model.config()
    if "type" in config:
        raise ValueError(f"{type(model).__name__}.config() may not use the key 'type'")
    return {"type": type(model).registry_name, **config}


def build(spec: Mapping[str, Any]) -> Module:
    """A fresh model from an :func:`architecture` dict (raises ``ValueError``/``TypeError``)."""
    kind = spec.get("type")
    cls = MODULES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(f"unknown architecture {dict(spec)!r}")
    return cls.from_config({key: value for key, value in spec.items() if key != "type"})


def save(model: Module, path: str | Path, *, metadata: Mapping[str, Any] | None = None) -> None:
    """Write ``model`` to ``path`` as JSON, atomically.

    The file is written beside the target under a temporary name, flushed to disk and then
    renamed over ``path``: a crash mid-save leaves any earlier file at ``path`` whole.
    ``metadata`` (JSON-serialisable) travels with the model, e.g. feature names or scaling.
    Raises ``ValueError`` for a weight that is not finite (JSON cannot hold it).
    """
    parameters = model.state_dict()
    bad = [name for name, value in parameters.items() if not math.isfinite(value)]
    if bad:
        raise ValueError(f"cannot save non-finite weights: {bad[:3]}")
    document = {
        "format": FORMAT,
        "version": VERSION,
        "architecture": architecture(model),
        "parameters": parameters,
        "metadata": dict(metadata or {}),
    }
    text = json.dumps(document, indent=1, allow_nan=False)  # fails before any file is touched
    path = Path(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        umask = os.umask(0)  # mkstemp makes the file private; give it the usual permissions
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load_with_metadata(
    path: str | Path, model: Module | None = None
) -> tuple[Module, dict[str, Any]]:
    """Like :func:`load`, and also return the metadata that was saved with the model."""
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise ModelFileError(f"{path}: not a text file ({error.reason})") from error
    except json.JSONDecodeError as error:
        raise ModelFileError(f"{path}: not valid JSON, truncated or corrupt ({error})") from error
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not an autograd_lite model file")
    if document.get("version") != VERSION:
        raise ModelFileError(
            f"{path}: format version {document.get('version')!r}, this autograd_lite reads "
            f"version {VERSION}"
        )
    spec = document.get("architecture")
    parameters, metadata = document.get("parameters"), document.get("metadata", {})
    if not (isinstance(spec, dict) and isinstance(parameters, dict) and isinstance(metadata, dict)):
        raise ModelFileError(
            f"{path}: 'architecture', 'parameters' and 'metadata' must be JSON objects"
        )
    try:
        fresh = build(spec)
        if model is not None and architecture(model) != architecture(fresh):
            raise ValueError(
                f"the file holds {architecture(fresh)}, the model is {architecture(model)}"
            )
        # Checked on the fresh model, so a bad file never half-writes the caller's model.
        fresh.load_state_dict(parameters, strict=True)
    except (KeyError, TypeError, ValueError) as error:
        reason = error.args[0] if isinstance(error, KeyError) else error  # KeyError quotes itself
        raise ModelFileError(f"{path}: {reason}") from error
    if model is None:
        return fresh, metadata
    model.load_state_dict(fresh.state_dict())
    return model, metadata


def load(path: str | Path, model: Module | None = None) -> Module:
    """Read a model written by :func:`save`; with ``model``, copy the weights into it instead.

    Raises ``OSError`` when the file cannot be read and :class:`ModelFileError` when it is
    malformed, truncated, of another version or does not fit ``model``; in every such case
    ``model`` is left exactly as it was.
    """
    return load_with_metadata(path, model)[0]
