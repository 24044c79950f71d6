"""The three progress displays ``fit`` can show: a notebook bar, a tqdm bar, plain lines.

>>> bar = Progress(epochs=3, examples=10, enabled=False)
>>> bar.update(1, {"loss": 0.5})  # disabled: prints nothing
>>> bar.close()
"""

from __future__ import annotations

import html
import importlib
import sys
import time
from typing import Any

__all__ = ["Progress"]


def _in_notebook() -> bool:
    """Whether this runs in a Jupyter kernel (where text bars print frame after frame)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return type(shell).__name__ == "ZMQInteractiveShell"


class NotebookBar:
    """In Jupyter: one HTML progress bar, updated in place (at most ten times a second)."""

    def __init__(self, total: int, unit: str) -> None:
        display = importlib.import_module("IPython.display").display  # inside Jupyter only
        self.total, self.unit, self.done, self.numbers = total, unit, 0, ""
        self.start = self.shown = time.perf_counter()
        self.handle = display(self._bundle(), raw=True, display_id=True)

    def update(self, n: int = 1) -> None:
        self.done += n
        self._show()

    def set_postfix(self, numbers: dict[str, str], refresh: bool = True) -> None:
        self.numbers = "  ".join(f"{k} {v}" for k, v in numbers.items())
        self._show()

    def _show(self, force: bool = False) -> None:
        now = time.perf_counter()
        if force or now - self.shown >= 0.1 or self.done >= self.total:
            self.shown = now
            self.handle.update(self._bundle(), raw=True)

    def _bundle(self) -> dict[str, str]:
        elapsed = time.perf_counter() - self.start
        text = f"fit {self.done}/{self.total} {self.unit}  {self.numbers}  ({elapsed:.1f} s)"
        bar = f'<progress value="{self.done}" max="{self.total}" style="width:30%"></progress>'
        return {"text/plain": text, "text/html": f"<code>{bar} {html.escape(text)}</code>"}

    def close(self) -> None:
        self._show(force=True)


def _text_bar(epochs: int, examples: int, per_example: bool) -> Any:
    """A tqdm bar for terminals, or None when tqdm is not installed."""
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    if per_example:
        return tqdm(total=epochs * examples, unit="ex", unit_scale=True, desc="fit", leave=True)
    return tqdm(total=epochs, unit="epoch", desc="fit", leave=True)


class Progress:
    """A tqdm bar when tqdm is installed, else a plain line to stderr every tenth of the run;
    in a Jupyter notebook, one HTML bar updated in place (no tqdm needed).

    The bar counts epochs; when an epoch is long (``LONG_EPOCH`` examples or more) it
    counts examples instead, so it moves, with an ETA, within the first epoch too.
    """

    LONG_EPOCH = 10_000

    def __init__(self, epochs: int, examples: int, enabled: bool) -> None:
        self.epochs, self.enabled = epochs, enabled
        self.bar: Any = None
        self.per_example = examples >= self.LONG_EPOCH
        if enabled and _in_notebook():
            total = epochs * examples if self.per_example else epochs
            self.bar = NotebookBar(total, "examples" if self.per_example else "epochs")
        elif enabled:
            self.bar = _text_bar(epochs, examples, self.per_example)

    def advance(self, examples: int) -> None:
        """``examples`` more were trained on (moves the bar of a long epoch)."""
        if self.bar is not None and self.per_example:
            self.bar.update(examples)

    def update(self, epoch: int, numbers: dict[str, float]) -> None:
        """Epoch ``epoch`` ended with these ``numbers`` (its :meth:`History.last`)."""
        if not self.enabled:
            return
        shown = {k: f"{v:.4f}" for k, v in numbers.items()}
        if self.bar is not None:
            self.bar.set_postfix(shown, refresh=self.per_example)
            if not self.per_example:
                self.bar.update(1)
        elif epoch == 1 or epoch % max(1, self.epochs // 10) == 0 or epoch == self.epochs:
            text = "  ".join(f"{k} {v}" for k, v in shown.items())
            print(f"epoch {epoch}/{self.epochs}  {text}", file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
