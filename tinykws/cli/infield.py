"""``tinykws infield RUN --data DIR``: precision, recall and false alarms per hour on held-out voices."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "infield", help="in-field test: a long recording of held-out voices, streamed",
        description="Assemble a long recording from test-split clips (speakers unseen in training) "
        "with noisy gaps, run the streaming recognizer over it and report precision, recall and "
        "false alarms per hour.")
    p.add_argument("run", metavar="RUN", help="training run folder, model .npz, or a 'tinykws cv' "
                   "folder (one recording per fold, pooled)")
    p.add_argument("--data", metavar="DIR", help="data folder (default: the one the run used)")
    p.add_argument("--clips", type=int, default=60, help="word clips in the recording (default 60)")
    p.add_argument("--threshold", type=int, default=200, help="detection threshold 0-255 (default 200)")
    p.add_argument("--resplit-salt", metavar="S", help="test-set layout: speaker re-split salt")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from tinykws.errors import TinyKWSError
    from tinykws.stream.infield import infield_test, pooled
    from tinykws.train.evaluate import open_run
    from tinykws.train.metrics import proportion

    if args.clips < 1 or not 0 <= args.threshold <= 255:
        raise TinyKWSError("--clips must be positive and --threshold between 0 and 255")
    # The run's own split (a re-split or cross-validation fold it recorded): its test
    # speakers are the ones it never heard. A cross-validation folder: every fold's.
    folds = sorted(Path(args.run).glob("fold-*"), key=lambda p: int(p.name.split("-")[1]))
    runs = folds if (Path(args.run) / "cv.json").is_file() and folds else [Path(args.run)]
    results = []
    for run in runs:
        model, meta, pipeline = open_run(run, args.data, args.resplit_salt)
        try:
            results.append(infield_test(model, meta["labels"], pipeline.index, args.seed, args.clips,
                                        detection_threshold=args.threshold))
        except ValueError as exc:
            raise TinyKWSError(str(exc)) from None
    keywords = {l for l in meta["labels"] if not l.startswith("_")}
    r = results[0] if len(results) == 1 else {**pooled(results, keywords), "folds": len(results)}
    if args.json:
        print(json.dumps(r, indent=2))
        return 0
    print(f"{r['duration_s'] / 60:.1f} min, {r['keywords_spoken']} keywords spoken, "
          f"{r['detections']} detections: {r['hits']} hits, {r['false_alarms']} false alarms")

    fa = r["false_alarms_per_hour_interval"]
    print(f"recall {proportion(r['recall_interval']).percent()}, precision "
          f"{proportion(r['precision_interval']).percent()}, {fa['value']:.1f} false alarms per hour "
          f"[{fa['low']:.1f}, {fa['high']:.1f}]")
    for word, e in r["recall_per_keyword"].items():
        print(f"  {word:<10} recall {proportion(e).percent()} ({e.get('count', 0)} of {e.get('total', 0)})")
    return 0
