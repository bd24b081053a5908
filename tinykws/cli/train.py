"""``tinykws train``: train TinyConv on Speech Commands (or any folder in its layout)."""

from __future__ import annotations

import argparse

from tinykws.cli.train_options import add_data_options, add_recipe_options


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train", help="train TinyConv (or any zoo model) with hand-written backprop",
        description="Train TinyConv on a Speech Commands folder with TensorFlow's input_data.py "
        "semantics (hash split, silence/unknown shares, time shift, background noise). The model "
        "with the best balanced validation accuracy is kept. Writes RUN/model.npz, RUN/last.npz "
        "(resume point), RUN/metrics.json (per-class recall and precision, balanced accuracy, false "
        "accepts, 95 % intervals), RUN/curves.png and RUN/confusion.png. Kill it at any time and "
        "rerun with --resume. --features and the size flags choose the model input (micro_speech's "
        "micro features by default); the run records them, and convert, eval, infer and listen "
        "compute the same.")
    add_data_options(p)
    p.add_argument("--out", required=True, metavar="RUN", help="run folder")
    add_recipe_options(p)
    p.add_argument("--resume", action="store_true", help="continue from RUN/last.npz")
    p.set_defaults(func=run, writes="out")


def run(args: argparse.Namespace) -> int:
    from tinykws.cli.train_options import (check_shares, config_from_args, features_from_args,
                                           words_from_args)
    from tinykws.data.pipeline import FeaturePipeline
    from tinykws.data.speech_commands import index_speech_commands
    from tinykws.errors import TinyKWSError
    from tinykws.train.evaluate import run_data_info
    from tinykws.train.loop import train
    from tinykws.train.metrics import summary_lines

    check_shares(args)
    spec = features_from_args(args)  # bad feature settings fail before any clip is read
    if args.batch_size < 1 or args.eval_every < 1:
        raise TinyKWSError("--batch-size and --eval-every must be at least 1")
    index = index_speech_commands(args.data, words_from_args(args), resplit_salt=args.resplit_salt,
                                  silence_percentage=args.silence_percentage,
                                  unknown_percentage=args.unknown_percentage)
    pipeline = FeaturePipeline(index, spec=spec)
    if pipeline.split_size("training") == 0:
        raise TinyKWSError(f"{args.data} has no training examples (a test-set layout needs --resplit-salt)")
    if pipeline.split_size("validation") == 0:
        raise TinyKWSError(f"{args.data} has no validation examples to select the best model")
    config = config_from_args(args, pipeline.split_size("training"))
    metrics = train(pipeline, args.out, config, resume=args.resume,
                    data_info=run_data_info(args.data, pipeline, args.resplit_salt))
    print(f"features: {spec.describe()}, model input {spec.shape}")
    print(f"trained {config.steps} steps in {metrics['wall_seconds']:.0f} s "
          f"({metrics['steps_per_second']:.1f} steps/s); best balanced validation accuracy "
          f"{metrics['balanced_accuracy']['validation']:.4f} at step {metrics['best_step']}")
    print(f"test split ({metrics['examples']['testing']} clips):")
    print("\n".join(summary_lines(metrics["reports"]["testing"])))
    return 0
