"""Ctrl-C and SIGTERM end a command cleanly: unwind, one line, exit 128 + signal.

Python turns SIGINT into :class:`KeyboardInterrupt`, but SIGTERM (what
``kill``, ``timeout`` and job schedulers send) kills the process on the spot,
skipping every ``finally``. :func:`interruptible` makes both raise
:class:`Interrupted` instead, a ``KeyboardInterrupt`` that remembers its
signal, so the stack unwinds as for Ctrl-C: an atomic write in flight removes
its temporary file, a folder lock is released, and the command line prints
one line and exits with the shell's code for that signal (130 for SIGINT,
143 for SIGTERM).

Nothing is lost by stopping at an arbitrary instant: every file is written
atomically (:mod:`tinykws.atomic`) and every long command saves a resume
point (``last.npz``, the studies' JSON, the report's stage folders, rendered
clips), so rerunning the command continues.

Once the first signal has been taken, later ones are ignored while the stack
unwinds, so pressing Ctrl-C twice cannot turn a clean stop into a traceback.
:func:`received` remembers it: an extension module that catches the
``KeyboardInterrupt`` and raises its own error instead (pybind11 and Numba can
turn it into a ``RuntimeError``) still ends the command as an interruption.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator

HANDLED = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """Raised in the main thread when a handled signal arrives."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return 128 + self.signum  # what a shell reports for a process killed by the signal


_received: int | None = None  # the signal taken inside interruptible(), if any


def received() -> int | None:
    """The signal that stopped the current :func:`interruptible` block, or None."""
    return _received


def _raise_interrupted(signum: int, frame) -> None:
    global _received
    _received = signum
    for s in HANDLED:  # one clean stop: later signals must not interrupt the unwinding
        signal.signal(s, signal.SIG_IGN)
    raise Interrupted(signum)


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM raise :class:`Interrupted`; handlers restored after.

    A signal the parent set to be ignored (``nohup``, a shell's background job)
    stays ignored, as Python itself does for SIGINT. Outside the main thread,
    where Python cannot set handlers, this does nothing.
    """
    global _received
    _received = None
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _raise_interrupted) for s in HANDLED
                if signal.getsignal(s) is not signal.SIG_IGN}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
