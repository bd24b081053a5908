"""Options the quantization and pruning studies share: data, fine-tuning, calibration, seed."""

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


def finetune_config(args: argparse.Namespace):
    """The :class:`FinetuneConfig` the options ask for; bad values are one-line errors."""
    from tinykws.errors import TinyKWSError
    from tinykws.train.finetune import FinetuneConfig

    if args.finetune_steps < 1:
        raise TinyKWSError(f"--finetune-steps must be at least 1, not {args.finetune_steps}")
    if not args.lr > 0:
        raise TinyKWSError(f"--lr must be positive, not {args.lr}")
    return FinetuneConfig(steps=args.finetune_steps, learning_rate=args.lr, seed=args.seed)
