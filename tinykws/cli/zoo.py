"""``tinykws zoo --data DIR --out ZOO``: every zoo model cross-validated and measured in one table."""

from __future__ import annotations

import argparse
import contextlib

from tinykws.cli.study_options import add_runner_options, runner_from_args
from tinykws.cli.train_options import add_data_options, add_recipe_options


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "zoo", help="train and measure every zoo model side by side (one table, a Pareto plot)",
        description="For each model (--models, default all of tinykws.nn.zoo), run a speaker-"
        "disjoint cross-validation into OUT/<model>/ with the recipe and flags of 'tinykws cv', then "
        "measure fold 0's model: parameters, MACs, .tflite bytes, tflite-micro arena, estimated MCU "
        "time and our CPU time. Writes OUT/zoo.json, OUT/zoo.md and OUT/zoo_pareto.png. Rerun the "
        "same command to resume. --features and the size flags give every model the same input.")
    add_data_options(p)
    p.add_argument("--models", help="comma-separated zoo models (default: all)")
    p.add_argument("--folds", type=int, default=5, help="number of folds (default 5)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    add_recipe_options(p)
    p.add_argument("--no-progress", action="store_true")
    add_runner_options(p)
    p.set_defaults(func=run, writes="out")


def run(args: argparse.Namespace) -> int:
    from tinykws.cli.train_options import (check_model_takes, check_shares, config_from_args,
                                           fold_spec_from_args)
    from tinykws.errors import TinyKWSError
    from tinykws.nn.zoo import MODELS
    from tinykws.train.zoo_study import format_table, zoo_study

    check_shares(args)
    if args.model is not None:
        raise TinyKWSError("zoo trains every model: use --models, not --model")
    models = tuple(m.strip() for m in args.models.split(",")) if args.models else tuple(MODELS)
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise TinyKWSError(f"unknown model {unknown[0]!r}; the zoo has {', '.join(MODELS)}")
    spec = fold_spec_from_args(args)
    first = spec.index(0)  # validates the folder, words and fold count before training starts
    config = config_from_args(args, len(first.splits["training"]), check_model=False)
    for name in models:  # every model must take the features before the first one trains
        check_model_takes(name, config.features)
    with contextlib.closing(runner_from_args(args)) as runner:  # each model's folds are its jobs
        table = zoo_study(spec, args.out, config, models, progress=not args.no_progress,
                          runner=runner)
    print(format_table(table), end="")
    return 0
