"""Animated GIFs from PNG frames, with Pillow (imported when called: the ``gif`` extra).

The one writer behind ``viz.animate_backward`` and ``plots.animate_training``.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._files import writable_target, write_atomic

__all__ = ["pillow", "save_gif"]


def pillow() -> Any:
    """PIL.Image, or an ImportError that says what to install."""
    try:
        from PIL import Image
    except ImportError as error:
        raise ImportError(
            "writing a GIF needs Pillow: pip install 'autograd_lite[gif]' (or pip install pillow)"
        ) from error
    return Image


def save_gif(frames: Sequence[bytes], path: str | Path, *, duration: int = 1200) -> Path:
    """Write PNG images (bytes) as one looping animated GIF, each shown ``duration`` ms (the
    last three times as long), on a white canvas the size of the largest; return the path.

    Needs Pillow (``pip install 'autograd_lite[gif]'``).
    """
    Image = pillow()
    if not frames:
        raise ValueError("save_gif needs at least one frame")
    if not isinstance(duration, int) or duration < 20:
        raise ValueError(f"duration must be an int of at least 20 (ms), got {duration!r}")
    path = Path(path)
    writable_target(path)
    images = [Image.open(io.BytesIO(png)).convert("RGB") for png in frames]
    width, height = max(i.width for i in images), max(i.height for i in images)
    canvases = []
    for image in images:
        canvas = Image.new("RGB", (width, height), "white")
        canvas.paste(image, (0, 0))
        canvases.append(canvas.quantize(colors=64, method=Image.Quantize.MEDIANCUT))
    buffer = io.BytesIO()
    durations = [duration] * (len(canvases) - 1) + [3 * duration]
    canvases[0].save(buffer, format="GIF", save_all=True, append_images=canvases[1:],
                     duration=durations, loop=0, optimize=False, disposal=1)  # fmt: skip
    write_atomic(path, buffer.getvalue())
    return path
