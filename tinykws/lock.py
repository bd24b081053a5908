"""One writer per folder: an exclusive lock on ``FOLDER/.tinykws.lock``.

Every command that writes a run, study or report folder holds this lock for
as long as it runs, so two processes can never interleave their files in
one folder. The lock is ``flock(LOCK_EX | LOCK_NB)`` on a small file inside
the folder:

- the kernel releases an ``flock`` when its holder dies, however it dies
  (SIGKILL, power cut of a local disk), so a lock file left behind by a dead
  process is *stale* by construction: the next command simply takes it and
  writes its own holder line over the old one;
- the holder line (pid, host, start time, command) is written only after the
  lock is taken, and the file is opened without truncation, so a process
  that fails to get the lock never touches what the holder wrote; it reads
  that line to name the holder in its one-line error;
- on release the file is unlinked (and the folder too, if this lock created
  it and it is still empty), so a failed command leaves no trace. Unlinking a
  lock file is racy unless the taker checks, after ``flock`` succeeds, that
  the path still names the inode it locked; :func:`folder_lock` does, and
  retries on a fresh file otherwise.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import time
import warnings
from pathlib import Path
from typing import Iterator

from tinykws.errors import TinyKWSError

LOCK_NAME = ".tinykws.lock"


def holder_line(command: str) -> str:
    """What the holder writes into the lock file: ``pid host start-time command``."""
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
    return f"pid {os.getpid()} on {socket.gethostname()} since {started}: {command}\n"


def _open_locked(path: Path, folder: Path) -> int:
    """A descriptor of ``path`` holding its exclusive flock, or raise naming the holder."""
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise TinyKWSError(f"cannot create the lock file {path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 4096).decode("utf-8", "replace").strip()
            os.close(fd)
            raise TinyKWSError(f"{folder} is being written by another tinykws process "
                               f"({holder or 'which is starting up'}); wait for it to finish or "
                               "stop it, or choose another output folder") from None
        except OSError as exc:  # ENOLCK, EOPNOTSUPP: a file system without flock (some NFS)
            warnings.warn(f"{folder}: cannot lock ({exc.strerror}); another process could write "
                          "here at the same time", stacklevel=3)
            return fd
        except BaseException:
            os.close(fd)
            raise
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:  # the previous holder unlinked it between open and flock
            same = False
        if same:
            return fd
        os.close(fd)  # we locked a file that is no longer there: try again on the new one


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike, command: str = "tinykws") -> Iterator[Path]:
    """Hold ``folder``'s writer lock for the ``with`` block; ``command`` names us to others.

    The folder is created if missing (and removed again on exit if it is
    still empty). A second holder, in this process or another, gets a
    :class:`TinyKWSError` naming the folder and the holder.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise TinyKWSError(f"{folder} is a file, not a folder")
    created = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TinyKWSError(f"cannot create folder {folder}: {exc.strerror}") from None
    path = folder / LOCK_NAME
    try:
        fd = _open_locked(path, folder)
    except BaseException:
        if created:
            _remove_if_empty(folder)
        raise
    try:
        with contextlib.suppress(OSError):  # the holder line is a courtesy; a full disk may refuse it
            os.ftruncate(fd, 0)
            os.write(fd, holder_line(command).encode("utf-8"))
        yield folder
    finally:
        # Unlink while still holding the lock, so nobody can lock this inode after us.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        os.close(fd)
        if created:
            _remove_if_empty(folder)


def _remove_if_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):
        folder.rmdir()  # fails, as wanted, when anything was written into it
