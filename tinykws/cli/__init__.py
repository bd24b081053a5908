"""The ``tinykws`` console command: a thin shell over library functions.

Each subcommand lives in its own module under ``tinykws.cli`` and exposes two
things: ``register(subparsers)``, which adds its parser, and a ``run(args)``
function set as the parser's default ``func``. Command modules import heavy
libraries (NumPy, Numba, Matplotlib) inside ``run`` so that ``tinykws --help``
stays instant.

Errors the user caused are :class:`tinykws.errors.TinyKWSError`: they are
printed as one line ``tinykws: error: ...`` and the exit code is 2, the same
code argparse uses for bad usage.

A command that writes a folder says which argument names it, with
``set_defaults(writes="out")``; :func:`main` then holds that folder's writer
lock (:mod:`tinykws.lock`) while the command runs. SIGINT and SIGTERM stop
any command cleanly (:mod:`tinykws.signals`): one line, exit code 130 or 143.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import signal
import sys
from typing import Sequence

from tinykws import __version__
from tinykws.errors import TinyKWSError

# Subcommand modules, in the order of the assignment.
COMMANDS = (
    "features",
    "data",
    "download",
    "synth-data",
    "size",
    "train",
    "cv",
    "zoo",
    "eval",
    "convert",
    "quantize",
    "prune",
    "infer",
    "mcu",
    "listen",
    "infield",
    "stream-eval",
    "report",
)

EXIT_USER_ERROR = 2


class OneLineErrorParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are a single line, exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USER_ERROR, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog="tinykws",
        description="From-scratch keyword spotting for microcontrollers.",
    )
    parser.add_argument("--version", action="version", version=f"tinykws {__version__}")
    subparsers = parser.add_subparsers(
        title="commands", dest="command", metavar="COMMAND", parser_class=OneLineErrorParser
    )
    subparsers.required = True
    for name in COMMANDS:
        importlib.import_module(f"tinykws.cli.{name.replace('-', '_')}").register(subparsers)
    return parser


def writer_lock(args: argparse.Namespace, argv: Sequence[str]):
    """The lock on the folder the command writes (``args.writes`` names the argument), if any."""
    from tinykws.lock import folder_lock

    writes = getattr(args, "writes", None)
    if writes is None or getattr(args, writes) is None:
        return contextlib.nullcontext()
    return folder_lock(getattr(args, writes), " ".join(["tinykws", *argv]))


def interrupted_message(args: argparse.Namespace, signal_name: str) -> str:
    """The one line printed when a signal stops the command, with how to continue."""
    if getattr(args, "resume", None) is False:
        return f"tinykws: interrupted by {signal_name}; rerun with --resume to continue"
    if getattr(args, "writes", None):
        return f"tinykws: interrupted by {signal_name}; rerun the same command to continue"
    return f"tinykws: interrupted by {signal_name}"


def end_progress_bars() -> None:
    """Close the tqdm bars an error or signal left open, so the one-line message gets its own line."""
    tqdm = sys.modules.get("tqdm")
    for bar in list(getattr(getattr(tqdm, "tqdm", None), "_instances", ())):
        bar.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tinykws`` console script; returns the exit code."""
    from tinykws.signals import interruptible, received

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with interruptible(), writer_lock(args, argv):
            result = args.func(args)
    except TinyKWSError as exc:
        end_progress_bars()
        print(f"tinykws: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except BrokenPipeError:  # the reader went away (``tinykws size | head``): stop quietly
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python's advice: no second error at exit
        return 128 + signal.SIGPIPE
    except KeyboardInterrupt as exc:  # tinykws.signals.Interrupted for SIGINT and SIGTERM
        signum = getattr(exc, "signum", signal.SIGINT)
    except Exception:
        signum = received()
        if signum is None:  # a bug in tinykws: keep its traceback
            raise
    else:
        return int(result or 0)
    # Interrupted (possibly re-raised as another error by an extension module on the way).
    end_progress_bars()
    print(interrupted_message(args, signal.Signals(signum).name), file=sys.stderr)
    return 128 + signum


if __name__ == "__main__":
    sys.exit(main())
