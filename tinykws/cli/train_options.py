"""Options ``tinykws train`` and ``tinykws cv`` share: the data, its class shares, and the recipe.

The parser only reads flags; :func:`index_from_args` and
:func:`config_from_args` hand them to the library
(:func:`tinykws.data.speech_commands.index_speech_commands`,
:func:`tinykws.train.recipe.make_config`), which holds every default.
"""

from __future__ import annotations

import argparse


def add_data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, metavar="DIR", help="Speech Commands folder (either layout)")
    p.add_argument("--words", default="yes,no", help="comma-separated keywords (default yes,no)")
    p.add_argument("--resplit-salt", metavar="S",
                   help="test-set layout: split it by speaker with this salt (cv: the fold salt)")
    p.add_argument("--silence-percentage", type=float, default=25.0,
                   help="silence examples as a percentage of the keyword examples (TF's flag; default 25)")
    p.add_argument("--unknown-percentage", type=float, default=25.0,
                   help="unknown-word examples as a percentage of the keyword examples (TF's flag; "
                   "default 25). On a test-set layout both are class priors over the whole pools")


def add_recipe_options(p: argparse.ArgumentParser) -> None:
    from tinykws.cli.features import add_feature_arguments

    add_feature_arguments(p)  # the model input: --features and TF's size flags
    p.add_argument("--model", metavar="NAME",
                   help="architecture from the zoo (tinykws.nn.zoo; default tiny_conv): "
                   "tiny_conv, single_fc, tiny_embedding_conv, low_latency_conv, conv, ds_cnn")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--steps", type=int, help="training steps (default: the recipe's, 3000)")
    length.add_argument("--epochs", type=float, help="passes over the training split")
    p.add_argument("--schedule", choices=("tf", "adam"), default=None,
                   help="'adam' (the recipe): Adam 1e-3, weight decay 1e-4; 'tf': TensorFlow's SGD, "
                   "1e-3 then 1e-4 for the last fifth of the steps")
    p.add_argument("--optimizer", choices=("sgd", "adam"), help="override the schedule's optimizer")
    p.add_argument("--lr", help="learning rate(s), comma-separated, e.g. 0.001,0.0001")
    p.add_argument("--lr-steps", help="steps at which each rate ends, comma-separated (with --lr)")
    p.add_argument("--weight-decay", type=float, help="L2 weight decay (default: 1e-4 Adam, 0 SGD)")
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--eval-every", type=int, default=200, help="steps between validation passes")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pretrain-steps", type=int,
                   help="first train every word folder as its own label for this many of the steps, "
                   "then the keyword head (default: the recipe's)")
    p.add_argument("--pretrain-words", help="comma-separated words of that pre-training, or 'all' "
                   "(default: every word folder)")
    a = p.add_argument_group("augmentation (default: the recipe's)")
    a.add_argument("--time-shift-ms", type=float, help="random time shift up to +- this (TF: 100)")
    a.add_argument("--background-frequency", type=float,
                   help="share of keyword/unknown clips that get background noise (TF: 0.8)")
    a.add_argument("--background-volume", type=float,
                   help="their noise volume is U(0, this) (TF: 0.1)")
    a.add_argument("--gain-db", help="foreground gain range in dB, e.g. -6,6 (default none)")
    a.add_argument("--time-masks", type=int, help="SpecAugment time masks per example")
    a.add_argument("--time-mask-frames", type=int, help="widest time mask, frames")
    a.add_argument("--frequency-masks", type=int, help="SpecAugment frequency masks per example")
    a.add_argument("--frequency-mask-channels", type=int, help="widest frequency mask, channels")


def augmentation_from_args(args: argparse.Namespace):
    """The recipe's :class:`Augmentation` with the flags given replacing its fields."""
    from dataclasses import replace

    from tinykws.errors import TinyKWSError
    from tinykws.train.recipe import DEFAULT_RECIPE

    fields = {}
    if args.time_shift_ms is not None:
        if args.time_shift_ms < 0:
            raise TinyKWSError("--time-shift-ms must not be negative")
        fields["time_shift_samples"] = round(args.time_shift_ms * 16)  # 16 samples per ms at 16 kHz
    for name in ("background_frequency", "background_volume"):
        value = getattr(args, name)
        if value is not None:
            if not 0 <= value <= 1:
                raise TinyKWSError(f"--{name.replace('_', '-')} must be within [0, 1], got {value:g}")
            fields[name] = value
    if args.gain_db is not None:
        try:
            low, high = (float(v) for v in args.gain_db.split(","))
        except ValueError:
            raise TinyKWSError(f"--gain-db takes two numbers LOW,HIGH, not {args.gain_db!r}") from None
        if low > high:
            raise TinyKWSError("--gain-db needs LOW <= HIGH")
        fields["gain_db"] = (low, high)
    for name in ("time_masks", "time_mask_frames", "frequency_masks", "frequency_mask_channels"):
        value = getattr(args, name)
        if value is not None:
            if value < 0:
                raise TinyKWSError(f"--{name.replace('_', '-')} must not be negative")
            fields[name] = value
    return replace(DEFAULT_RECIPE.augmentation, **fields)


def parse_floats(text: str, flag: str) -> tuple[float, ...]:
    from tinykws.errors import TinyKWSError

    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise TinyKWSError(f"{flag} must be comma-separated numbers, not {text!r}") from None
    if not values or any(not v > 0 for v in values):
        raise TinyKWSError(f"{flag} values must be positive")
    return values


def words_from_args(args: argparse.Namespace) -> tuple[str, ...]:
    return tuple(w.strip() for w in args.words.split(",") if w.strip())


def check_shares(args: argparse.Namespace) -> None:
    """Percentages outside [0, 100] are refused before any clip is read."""
    from tinykws.errors import TinyKWSError

    for flag, value in (("--silence-percentage", args.silence_percentage),
                        ("--unknown-percentage", args.unknown_percentage)):
        if not 0 <= value <= 100:
            raise TinyKWSError(f"{flag} must be within [0, 100], got {value:g}")


def config_from_args(args: argparse.Namespace, training_examples: int, check_model: bool = True):
    """The :class:`TrainConfig` the flags ask for (the recipe where they are silent).

    ``check_model``: refuse a model that cannot take the features (``zoo`` checks its own models).
    """
    from tinykws.errors import TinyKWSError
    from tinykws.train.recipe import make_config, steps_for

    steps = (steps_for(args.epochs, training_examples, max(args.batch_size, 1))
             if args.epochs is not None else args.steps)
    overrides = {"batch_size": args.batch_size, "eval_every": args.eval_every, "seed": args.seed,
                 "augmentation": augmentation_from_args(args)}
    if args.weight_decay is not None:
        overrides["weight_decay"] = args.weight_decay
    overrides["features"] = features_from_args(args)
    if args.model is not None:
        from tinykws.nn.zoo import MODELS

        if args.model not in MODELS:
            raise TinyKWSError(f"unknown model {args.model!r}; the zoo has {', '.join(MODELS)}")
        overrides["model"] = args.model
    if check_model:
        check_model_takes(overrides.get("model", "tiny_conv"), overrides["features"])
    if args.pretrain_steps is not None:
        if args.pretrain_steps < 0:
            raise TinyKWSError("--pretrain-steps must not be negative")
        overrides["pretrain_steps"] = args.pretrain_steps
    if args.pretrain_words is not None:
        overrides["pretrain_words"] = tuple(w.strip().lower() for w in args.pretrain_words.split(",")
                                            if w.strip())
    return make_config(
        schedule=args.schedule, steps=steps, optimizer=args.optimizer,
        learning_rates=parse_floats(args.lr, "--lr") if args.lr else None,
        boundaries=tuple(int(v) for v in parse_floats(args.lr_steps, "--lr-steps"))
        if args.lr and args.lr_steps else None,
        **overrides)


def check_model_takes(model: str, spec) -> None:
    """A one-line error, before any training, when ``model`` cannot take ``spec``'s input
    (e.g. too few frames for its kernel, or tiny_conv on anything but 49 x 40)."""
    import numpy as np

    from tinykws.nn.zoo import build_model

    build_model(model, 4, np.random.default_rng(0), (*spec.shape, 1))


def features_from_args(args: argparse.Namespace):
    """The :class:`FeatureSpec` of ``--features`` and the size flags (micro_speech's without them)."""
    from tinykws.cli.features import feature_spec_from_args
    from tinykws.features.spec import MICRO_DEFAULT

    return feature_spec_from_args(args) or MICRO_DEFAULT


def fold_spec_from_args(args: argparse.Namespace):
    """The :class:`FoldSpec` of ``cv``'s and ``zoo``'s data flags (``--folds`` at least 2)."""
    from tinykws.data.speech_commands import DEFAULT_FOLD_SALT
    from tinykws.errors import TinyKWSError
    from tinykws.train.cross_validation import FoldSpec

    if args.folds < 2:
        raise TinyKWSError(f"--folds must be at least 2, not {args.folds}")
    return FoldSpec(data=str(args.data), words=words_from_args(args), folds=args.folds,
                    salt=args.resplit_salt if args.resplit_salt is not None else DEFAULT_FOLD_SALT,
                    silence_percentage=args.silence_percentage,
                    unknown_percentage=args.unknown_percentage)
