"""``tinykws eval RUN --data DIR``: per-class recall, balanced accuracy and false accepts of a model on a split."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "eval", help="score a trained model on a data split",
        description="Score RUN/model.npz on a split of a Speech Commands folder, or on every clip "
        "of a canonical test-set folder (_silence_/_unknown_ folders, e.g. the real v0.02 test set).")
    p.add_argument("run", metavar="RUN", help="training run folder (or model .npz)")
    p.add_argument("--data", required=True, metavar="DIR")
    p.add_argument("--split", default="testing", choices=("training", "validation", "testing"))
    p.add_argument("--resplit-salt", metavar="S", help="test-set layout: speaker re-split salt")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from tinykws.train.evaluate import evaluate_run

    result = evaluate_run(args.run, args.data, args.split, args.resplit_salt)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    from tinykws.train.metrics import summary_lines

    print(f"{result['split']} split of {result['data']} ({result['layout']} layout), "
          f"{result['examples']} clips:")
    print("\n".join(summary_lines(result)))
    return 0
