"""``tinykws train``: train TinyConv on Speech Commands (or any folder in its layout)."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train", help="train TinyConv with hand-written backprop",
        description="Train TinyConv on a Speech Commands folder with TensorFlow's input_data.py "
        "semantics (hash split, silence/unknown shares, time shift, background noise). Writes "
        "RUN/model.npz (best validation), RUN/last.npz (resume point), RUN/metrics.json, "
        "RUN/curves.png and RUN/confusion.png. Kill it at any time and rerun with --resume.")
    p.add_argument("--data", required=True, metavar="DIR", help="Speech Commands folder")
    p.add_argument("--words", default="yes,no", help="comma-separated keywords (default yes,no)")
    p.add_argument("--out", required=True, metavar="RUN", help="run folder")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--steps", type=int, help="training steps (default 3000)")
    length.add_argument("--epochs", type=float, help="passes over the training split")
    p.add_argument("--schedule", choices=("tf", "adam"), default=None,
                   help="'tf' (default): TensorFlow's SGD, 12000 steps at 1e-3 then 3000 at 1e-4, "
                   "scaled to --steps; 'adam': the course's Adam 1e-3, weight decay 1e-4, 3000 steps")
    p.add_argument("--optimizer", choices=("sgd", "adam"), help="override the schedule's optimizer")
    p.add_argument("--lr", help="learning rate(s), comma-separated, e.g. 0.001,0.0001")
    p.add_argument("--lr-steps", help="steps at which each rate ends, comma-separated (with --lr)")
    p.add_argument("--weight-decay", type=float, help="L2 weight decay (default: 1e-4 Adam, 0 SGD)")
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--eval-every", type=int, default=200, help="steps between validation passes")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resplit-salt", metavar="S",
                   help="test-set layout only: split it by speaker with this salt")
    p.add_argument("--resume", action="store_true", help="continue from RUN/last.npz")
    p.set_defaults(func=run, writes="out")


def parse_floats(text: str, flag: str) -> tuple[float, ...]:
    from tinykws.errors import TinyKWSError

    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise TinyKWSError(f"{flag} must be comma-separated numbers, not {text!r}") from None
    if not values or any(v <= 0 for v in values):
        raise TinyKWSError(f"{flag} values must be positive")
    return values


def run(args: argparse.Namespace) -> int:
    import math

    from tinykws.data.pipeline import FeaturePipeline
    from tinykws.data.speech_commands import index_speech_commands
    from tinykws.errors import TinyKWSError
    from tinykws.train.loop import DEFAULT_SCHEDULE, DEFAULT_STEPS, TrainConfig, schedule_settings, train

    words = tuple(w.strip() for w in args.words.split(",") if w.strip())
    if args.batch_size < 1 or args.eval_every < 1:
        raise TinyKWSError("--batch-size and --eval-every must be at least 1")
    index = index_speech_commands(args.data, words, resplit_salt=args.resplit_salt)
    pipeline = FeaturePipeline(index)
    if pipeline.split_size("training") == 0:
        raise TinyKWSError(f"{args.data} has no training examples (a test-set layout needs --resplit-salt)")
    if pipeline.split_size("validation") == 0:
        raise TinyKWSError(f"{args.data} has no validation examples to select the best model")
    schedule = args.schedule or DEFAULT_SCHEDULE
    if args.epochs is not None:
        if args.epochs <= 0:
            raise TinyKWSError("--epochs must be positive")
        steps = math.ceil(args.epochs * pipeline.split_size("training") / args.batch_size)
    elif args.steps is not None:
        if args.steps < 1:
            raise TinyKWSError("--steps must be at least 1")
        steps = args.steps
    else:
        steps = DEFAULT_STEPS[schedule]
    settings = schedule_settings(schedule, steps)
    if args.optimizer:
        settings["optimizer"] = args.optimizer
    if args.lr:
        settings["learning_rates"] = parse_floats(args.lr, "--lr")
        settings["boundaries"] = tuple(int(v) for v in parse_floats(args.lr_steps, "--lr-steps")) \
            if args.lr_steps else ()
        if settings["boundaries"] and len(settings["boundaries"]) != len(settings["learning_rates"]):
            raise TinyKWSError("--lr-steps needs one value per --lr value")
    config = TrainConfig(steps=steps, optimizer=settings["optimizer"],
                         learning_rates=tuple(settings["learning_rates"]),
                         boundaries=tuple(settings["boundaries"]), batch_size=args.batch_size,
                         eval_every=args.eval_every, seed=args.seed, weight_decay=args.weight_decay)
    data_info = {"dir": str(args.data), "layout": index.layout, "words": list(words),
                 "resplit_salt": args.resplit_salt,
                 "examples": {s: pipeline.split_size(s) for s in ("training", "validation", "testing")}}
    metrics = train(pipeline, args.out, config, resume=args.resume, data_info=data_info)
    acc = metrics["accuracy"]
    print(f"accuracy: training {acc['training']:.4f}, validation {acc['validation']:.4f}, "
          f"testing {acc['testing']:.4f} ({metrics['wall_seconds']:.0f} s, "
          f"{metrics['steps_per_second']:.1f} steps/s)")
    return 0
