"""``tinykws size [RUN] [--json]``: parameters, FLOPs, flash, RAM and latency."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser("size", help="parameters, FLOPs, flash, RAM and CPU latency of a model",
                              description="Size and cost of a trained model (RUN/model.npz), or of an "
                              "untrained zoo model (--model, TinyConv by default) when no RUN is given.")
    p.add_argument("run", nargs="?", help="a training run folder (or a model .npz)")
    p.add_argument("--model", metavar="NAME", default="tiny_conv",
                   help="without RUN: an untrained zoo model (default tiny_conv)")
    p.add_argument("--labels", type=int, default=4, help="without RUN: its number of labels (default 4)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    import numpy as np

    from tinykws.errors import TinyKWSError
    from tinykws.nn.zoo import build_model
    from tinykws.size import format_report, size_report
    from tinykws.train.checkpoint import load_checkpoint

    if args.run:
        path = Path(args.run)
        model, _, _ = load_checkpoint(path / "model.npz" if path.is_dir() else path)
    else:
        if args.labels < 2:
            raise TinyKWSError(f"--labels must be at least 2, not {args.labels}")
        model = build_model(args.model, args.labels, np.random.default_rng(0))
    report = size_report(model)
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0
