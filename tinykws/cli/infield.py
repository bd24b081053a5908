"""``tinykws infield RUN --data DIR``: precision, recall and false alarms per hour on held-out voices."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "infield", help="in-field test: a long recording of held-out voices, streamed",
        description="Assemble a long recording from test-split clips (speakers unseen in training) "
        "with noisy gaps, run the streaming recognizer over it and report precision, recall and "
        "false alarms per hour.")
    p.add_argument("run", metavar="RUN", help="training run folder or model .npz")
    p.add_argument("--data", required=True, metavar="DIR")
    p.add_argument("--clips", type=int, default=60, help="word clips in the recording (default 60)")
    p.add_argument("--threshold", type=int, default=200, help="detection threshold 0-255 (default 200)")
    p.add_argument("--resplit-salt", metavar="S", help="test-set layout: speaker re-split salt")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from tinykws.data.speech_commands import index_speech_commands
    from tinykws.errors import TinyKWSError
    from tinykws.stream.infield import infield_test
    from tinykws.train.checkpoint import load_checkpoint

    if args.clips < 1 or not 0 <= args.threshold <= 255:
        raise TinyKWSError("--clips must be positive and --threshold between 0 and 255")
    path = Path(args.run)
    model, meta, _ = load_checkpoint(path / "model.npz" if path.is_dir() else path)
    index = index_speech_commands(args.data, tuple(meta["labels"][2:]), resplit_salt=args.resplit_salt)
    try:
        r = infield_test(model, meta["labels"], index, args.seed, args.clips,
                         detection_threshold=args.threshold)
    except ValueError as exc:
        raise TinyKWSError(str(exc)) from None
    if args.json:
        print(json.dumps(r, indent=2))
        return 0
    fmt = lambda v: "-" if v is None else f"{100 * v:.1f} %"  # noqa: E731
    print(f"{r['duration_s'] / 60:.1f} min, {r['keywords_spoken']} keywords spoken, "
          f"{r['detections']} detections: {r['hits']} hits, {r['false_alarms']} false alarms")
    print(f"precision {fmt(r['precision'])}, recall {fmt(r['recall'])}, "
          f"{r['false_alarms_per_hour']:.1f} false alarms per hour")
    return 0
