"""Options the studies share: data, fine-tuning, calibration, seed; and how the sweeps run their jobs."""

from __future__ import annotations

import argparse


def add_study_options(p: argparse.ArgumentParser, tuned: str) -> None:
    """``--data --resplit-salt --real --finetune-steps --lr --calibration --seed --no-progress``.

    ``tuned`` names what is fine-tuned, for the help text ("QAT", "pruned models").
    """
    p.add_argument("--data", metavar="DIR", help="data folder (default: the one the run used)")
    p.add_argument("--resplit-salt", metavar="S", help="test-set layout: speaker re-split salt")
    p.add_argument("--real", metavar="DIR", help="also score on this real-speech test-set folder")
    p.add_argument("--finetune-steps", type=int, default=600,
                   help=f"fine-tuning steps of {tuned} (default 600)")
    p.add_argument("--lr", type=float, default=3e-4,
                   help=f"fine-tuning learning rate of {tuned}, Adam (default 3e-4)")
    p.add_argument("--calibration", type=int, default=200, help="PTQ calibration clips (default 200)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")
    add_runner_options(p)


def add_runner_options(p: argparse.ArgumentParser) -> None:
    """``--jobs N --scheduler ADDRESS``: where a sweep's independent jobs run (:mod:`tinykws.jobs`)."""
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="run the sweep's jobs in N local processes (default: one per core; 1: in "
                   "this process, one after another); the results are the same")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="send the jobs to this running Dask distributed scheduler instead, e.g. "
                   "tcp://host:8786 (pip install -e \".[dask]\"; the workers must see the same paths)")


def runner_from_args(args: argparse.Namespace):
    """The job runner ``--jobs`` / ``--scheduler`` ask for; close it when done (``contextlib.closing``)."""
    from tinykws.errors import TinyKWSError
    from tinykws.jobs import make_runner

    if args.jobs is not None and args.scheduler is not None:
        raise TinyKWSError("--jobs and --scheduler: choose one (the scheduler's workers run the jobs)")
    return make_runner(args.jobs, args.scheduler)


def finetune_config(args: argparse.Namespace):
    """The :class:`FinetuneConfig` the options ask for; bad values are one-line errors."""
    from tinykws.errors import TinyKWSError
    from tinykws.train.finetune import FinetuneConfig

    if args.finetune_steps < 1:
        raise TinyKWSError(f"--finetune-steps must be at least 1, not {args.finetune_steps}")
    if not args.lr > 0:
        raise TinyKWSError(f"--lr must be positive, not {args.lr}")
    return FinetuneConfig(steps=args.finetune_steps, learning_rate=args.lr, seed=args.seed)
