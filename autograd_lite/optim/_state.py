"""The check that an optimizer's and a scheduler's ``load_state_dict`` make first."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["check_state_type"]


def check_state_type(state_dict: object, owner: object) -> Mapping[str, Any]:
    """``state_dict`` if it is a dict saved by an object of ``owner``'s type.

    Args:
        state_dict: What ``load_state_dict`` was given.
        owner: The optimizer or scheduler loading it.

    Returns:
        ``state_dict``.

    Raises:
        TypeError: If ``state_dict`` is not a dict.
        ValueError: If its ``"type"`` is not the name of ``owner``'s class.

    >>> check_state_type({"type": "int"}, 3)
    {'type': 'int'}
    """
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"state_dict must be a dict, got {type(state_dict).__name__}")
    name = type(owner).__name__
    if state_dict.get("type") != name:
        raise ValueError(f"state is for {state_dict.get('type')!r}, not {name}")
    return state_dict
