"""``tinykws eval RUN --data DIR``: accuracy of a trained model on a split."""

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


def evaluate_run(run_path: str, data: str, split: str = "testing", resplit_salt: str | None = None) -> dict:
    """Accuracy, per-class accuracy and confusion of a run's model on a split."""
    from pathlib import Path

    from tinykws.data.pipeline import FeaturePipeline
    from tinykws.data.speech_commands import index_speech_commands
    from tinykws.errors import TinyKWSError
    from tinykws.train.checkpoint import load_checkpoint
    from tinykws.train.metrics import accuracy, confusion_matrix, predict

    path = Path(run_path)
    model, meta, _ = load_checkpoint(path / "model.npz" if path.is_dir() else path)
    labels = meta["labels"]
    index = index_speech_commands(data, tuple(labels[2:]), resplit_salt=resplit_salt)
    if tuple(index.labels) != tuple(labels):
        raise TinyKWSError(f"data labels {index.labels} differ from the model's {labels}")
    x, y = FeaturePipeline(index).split_arrays(split)
    if len(y) == 0:
        raise TinyKWSError(f"split {split!r} of {data} is empty ({index.layout} layout)")
    logits = predict(model, x)
    cm = confusion_matrix(logits.argmax(1), y, len(labels))
    per_class = {lab: float(cm[i, i] / cm[i].sum()) if cm[i].sum() else None for i, lab in enumerate(labels)}
    return {"data": str(data), "layout": index.layout, "split": split, "examples": int(len(y)),
            "accuracy": accuracy(logits, y), "per_class": per_class, "labels": labels,
            "confusion": cm.tolist()}


def run(args: argparse.Namespace) -> int:
    import json

    result = evaluate_run(args.run, args.data, args.split, args.resplit_salt)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{result['split']} accuracy on {result['data']} ({result['layout']} layout): "
          f"{result['accuracy']:.4f} over {result['examples']} clips")
    for label, acc in result["per_class"].items():
        print(f"  {label:<12} {'-' if acc is None else f'{acc:.4f}'}")
    return 0
