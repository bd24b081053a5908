"""Score a trained run on any split of any Speech Commands folder."""

from __future__ import annotations


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
