"""``tinykws size [RUN] [--json]``: parameters, FLOPs, flash, RAM and latency."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser("size", help="parameters, FLOPs, flash, RAM and CPU latency of a model",
                              description="Size and cost of a trained model (RUN/model.npz), or of an "
                              "untrained TinyConv for 4 labels when no RUN is given.")
    p.add_argument("run", nargs="?", help="a training run folder (or a model .npz)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    import numpy as np

    from tinykws.nn.model import tiny_conv
    from tinykws.size import format_report, size_report
    from tinykws.train.checkpoint import load_checkpoint

    if args.run:
        path = Path(args.run)
        model, _, _ = load_checkpoint(path / "model.npz" if path.is_dir() else path)
    else:
        model = tiny_conv(4, np.random.default_rng(0))
    report = size_report(model)
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0
