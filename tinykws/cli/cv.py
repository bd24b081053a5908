"""``tinykws cv``: speaker-disjoint K-fold cross-validation of the training recipe."""

from __future__ import annotations

import argparse
import contextlib

from tinykws.cli.study_options import add_runner_options, runner_from_args
from tinykws.cli.train_options import add_data_options, add_recipe_options


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "cv", help="speaker-disjoint K-fold cross-validation (float and int8)",
        description="Deal the speakers of a data folder into K folds by a salted hash; for each fold "
        "train on the others (the same recipe and flags as 'tinykws train') and score the fold, so "
        "every clip is scored by a model that never heard its speaker. Writes OUT/fold-k/ (training "
        "runs), OUT/cv.json (pooled per-class recall and precision, balanced accuracy, false accepts "
        "with 95 % intervals, float and int8, the spread across folds), OUT/cv_recall.png, "
        "OUT/cv_confusion.png, OUT/cv_operating.png (keyword recall against false accepts). Rerun "
        "the same command to resume.")
    add_data_options(p)
    p.add_argument("--folds", type=int, default=5, help="number of folds (default 5)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    add_recipe_options(p)
    p.add_argument("--no-int8", action="store_true", help="skip the int8 conversion of each fold")
    p.add_argument("--false-accept-target", type=float, default=0.05,
                   help="calibrate each fold's _unknown_ bias on its validation speakers for at most "
                   "this share of false accepts, and report it on its test speakers (default 0.05)")
    p.add_argument("--no-progress", action="store_true")
    add_runner_options(p)
    p.set_defaults(func=run, writes="out")


def run(args: argparse.Namespace) -> int:
    from tinykws.cli.train_options import check_shares, config_from_args, fold_spec_from_args
    from tinykws.errors import TinyKWSError
    from tinykws.train.cross_validation import cross_validate
    from tinykws.train.metrics import summary_lines

    check_shares(args)
    if not 0 < args.false_accept_target < 1:
        raise TinyKWSError(f"--false-accept-target must be within (0, 1), got {args.false_accept_target:g}")
    spec = fold_spec_from_args(args)
    first = spec.index(0)  # validates the folder, words and fold count before training starts
    config = config_from_args(args, len(first.splits["training"]))
    with contextlib.closing(runner_from_args(args)) as runner:
        result = cross_validate(spec, args.out, config, int8=not args.no_int8, progress=not args.no_progress,
                                false_accept_target=args.false_accept_target, runner=runner)
    for kind, report in result["pooled"].items():
        s = result["spread"][kind]["balanced_accuracy"]
        print(f"{kind}, pooled over {spec.folds} folds ({report['examples']} clips); balanced "
              f"accuracy per fold {100 * s['mean']:.1f} +- {100 * s['std']:.1f} %:")
        print("\n".join(summary_lines(report)))
    op = result["operating"]
    for kind, report in op["pooled"].items():
        print(f"{kind}, calibrated for {op['false_accept_target']:.0%} false accepts on validation "
              f"speakers (_unknown_ bias per fold {', '.join(f'{b:+.2f}' for b in op['biases'])}):")
        print("\n".join(summary_lines(report)))
    if "int8_vs_float" in result:
        t = result["int8_vs_float"]
        print(f"int8 vs float on the same clips: {t['a_only']} clips only int8 gets right, "
              f"{t['b_only']} only float; {'significant' if t['significant'] else 'within noise'} "
              f"(McNemar p = {t['p_value']:.2g})")
    return 0
