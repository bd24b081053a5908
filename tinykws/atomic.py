"""Atomic file writes: a file is either the old one or the whole new one.

Every output tinykws writes goes through here. The recipe is the classic one:
write to a temporary file in the same folder, flush and ``fsync`` it, then
``os.replace`` it over the target (atomic on POSIX within one file system),
and finally ``fsync`` the folder so the rename itself survives a power cut.
A run killed at any instant leaves no half-written file behind.

A write that fails (a full disk, ENOSPC; an I/O error, EIO; a read-only
folder) leaves the same: the previous file untouched, the temporary file
removed, and a :class:`WriteFailed` (a :class:`TinyKWSError`, so one line on
the command line) naming the file. The resume points written before it are
intact, so the command can be rerun once there is space.
"""

from __future__ import annotations

import errno
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from tinykws.errors import TinyKWSError


class WriteFailed(TinyKWSError):
    """The operating system refused a write; ``errno`` says why (e.g. ``errno.ENOSPC``)."""

    def __init__(self, path: Path, exc: OSError):
        super().__init__(f"could not write {path}: {exc.strerror or exc} "
                         f"({errno.errorcode.get(exc.errno, exc.errno)}); the previous "
                         f"{path.name}, if any, is unchanged")
        self.errno = exc.errno


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # some file systems do not allow opening a folder
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike, write: Callable[[io.BufferedWriter], None]) -> Path:
    """Call ``write(f)`` on a temporary binary file, then move it onto ``path``.

    Raises :class:`WriteFailed` if the system refuses any step (``path`` is then unchanged).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise WriteFailed(path, exc) from None
    try:
        # mkstemp makes the file 0600; give it what open() would: 0666 less the umask.
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError):
            raise WriteFailed(path, exc) from None
        raise
    _fsync_dir(path.parent)
    return path


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Atomically write raw bytes."""
    return atomic_write(path, lambda f: f.write(data))


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Atomically write UTF-8 text."""
    return write_bytes(path, text.encode("utf-8"))


def json_default(o: Any) -> Any:
    """``json.dumps``'s ``default``: NumPy scalars and arrays become numbers and lists, paths strings."""
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Atomically write ``obj`` as indented JSON (NumPy scalars become numbers)."""
    return write_text(path, json.dumps(obj, indent=2, default=json_default) + "\n")


def save_npy(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Atomically write one array as ``.npy`` (never pickled)."""
    return atomic_write(path, lambda f: np.save(f, np.asarray(array), allow_pickle=False))


def save_npz(path: str | os.PathLike, **arrays: np.ndarray) -> Path:
    """Atomically write named arrays as an uncompressed ``.npz``.

    Object arrays are refused: an ``.npz`` with objects would need pickle to
    load, and tinykws never unpickles.
    """
    for name, a in arrays.items():
        if np.asarray(a).dtype == object:
            raise TypeError(f"array {name!r} has dtype object; refusing to pickle")
    return atomic_write(path, lambda f: np.savez(f, **arrays))


def save_figure(path: str | os.PathLike, fig: Any, dpi: int = 120) -> Path:
    """Atomically save a Matplotlib figure as PNG and close it."""
    import matplotlib.pyplot as plt

    try:
        return atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=dpi, bbox_inches="tight"))
    finally:
        plt.close(fig)
