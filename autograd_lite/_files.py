"""Writing files safely: the one way the package writes a file (models, pages, exports).

:func:`write_atomic` writes beside the target under a temporary name, flushes to disk and
renames over the target, so a crash mid-write leaves any earlier file whole;
:func:`writable_target` checks a path before any work is done, so a long computation does not
end in a file that cannot be written. Standard library only.

>>> import pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "notes.txt"
>>> write_atomic(path, "backprop")
>>> path.read_text()
'backprop'
"""

from __future__ import annotations

import os
import re
import stat
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["STALE_AFTER", "writable_target", "write_atomic"]

STALE_AFTER = 3600.0
"""Seconds after which a temporary file of a save whose process cannot be told is removed."""


def writable_target(path: str | Path) -> Path:
    """The file a save to ``path`` replaces (``path``, or where its symlinks lead), checked.

    Raises ``OSError`` with a message naming ``path`` if it is a folder or not a regular file,
    if it is read-only (no write permission, or no write bit at all, which even root
    respects here), or if its folder is missing or cannot take a new file. Nothing is changed.
    """
    path = Path(path)
    target = Path(os.path.realpath(path))
    try:
        status = target.stat()
    except FileNotFoundError:
        status = None
    if status is not None:
        if stat.S_ISDIR(status.st_mode):
            raise IsADirectoryError(f"{path}: is a folder, not a file")
        if not stat.S_ISREG(status.st_mode):
            raise OSError(f"{path}: is not a regular file; will not replace it")
        if not status.st_mode & 0o222 or not os.access(target, os.W_OK):
            raise PermissionError(
                f"{path}: the file is read-only; make it writable or save elsewhere"
            )
    if not target.parent.is_dir():
        raise FileNotFoundError(f"{path}: the folder {target.parent} does not exist")
    try:
        handle, temporary = _temporary(target)
    except OSError as error:
        raise PermissionError(
            f"{path}: cannot write in the folder {target.parent} ({error.strerror or error})"
        ) from error
    os.close(handle)
    os.unlink(temporary)
    return target


def write_atomic(path: str | Path, text: str | bytes) -> None:
    """Write ``text`` (UTF-8; bytes as they are) to ``path`` atomically: a temporary file beside
    the target, flushed to disk, then renamed over it. Follows symlinks, keeps an existing file's
    permissions, refuses what :func:`writable_target` refuses, and first removes temporary
    files that killed saves to the same target left behind."""
    target = writable_target(path)
    _remove_stale(target)
    handle, temporary = _temporary(target)
    try:
        try:
            mode = stat.S_IMODE(target.stat().st_mode)
        except FileNotFoundError:
            umask = os.umask(0)  # mkstemp makes the file private; give it the usual permissions
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(temporary, mode)
        binary = isinstance(text, bytes)
        with os.fdopen(
            handle, "wb" if binary else "w", encoding=None if binary else "utf-8"
        ) as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except BaseException as error:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(error, OSError) and not str(error).startswith(str(path)):
            raise type(error)(f"{path}: cannot write it ({error.strerror or error})") from error
        raise


def _temporary(target: Path) -> tuple[int, str]:
    """A new temporary file beside ``target``, named ``.<name>.<pid>.<random>.tmp``."""
    return tempfile.mkstemp(
        prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp", dir=target.parent
    )


def _remove_stale(target: Path) -> None:
    """Delete temporary files of earlier saves to ``target`` whose process has ended (or,
    where that cannot be told, that are older than ``STALE_AFTER``). Best effort."""
    name = re.escape(target.name)
    ours = re.compile(rf"\.{name}\.(\d+)\.[a-z0-9_]{{8}}\.tmp")
    older = re.compile(rf"\.{name}\.[a-z0-9_]{{8}}\.tmp")  # before the pid was in the name
    try:
        with os.scandir(target.parent) as entries:
            for entry in entries:
                match = ours.fullmatch(entry.name)
                if match and sys.platform != "win32":
                    stale = not _alive(int(match.group(1)))
                elif match or older.fullmatch(entry.name):
                    stale = time.time() - entry.stat().st_mtime > STALE_AFTER
                else:
                    continue
                if stale and entry.is_file(follow_symlinks=False):
                    os.unlink(entry.path)
    except OSError:
        pass  # cleaning up is a courtesy: never a reason for the save to fail


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True  # another thread of this process may be saving
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, but not ours to signal
    return True
