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


def open_run(run_path, data: str | None = None, resplit_salt: str | None = None):
    """``(model, meta, pipeline)`` of a run's best model on its data (or ``data``).

    The data folder and re-split salt default to the ones the run recorded,
    so the later stages (conversion, quantization, pruning) score the same
    splits the run was trained and selected on.
    """
    from pathlib import Path

    from tinykws.data.pipeline import FeaturePipeline
    from tinykws.data.speech_commands import index_speech_commands
    from tinykws.errors import TinyKWSError
    from tinykws.train.checkpoint import load_checkpoint

    path = Path(run_path)
    model, meta, _ = load_checkpoint(path / "model.npz" if path.is_dir() else path)
    info = meta.get("data", {})
    data = data or info.get("dir")
    if not data:
        raise TinyKWSError("the run does not record its data folder: pass --data DIR")
    salt = resplit_salt if resplit_salt is not None else info.get("resplit_salt")
    index = index_speech_commands(data, tuple(meta["labels"][2:]), resplit_salt=salt)
    if tuple(index.labels) != tuple(meta["labels"]):
        raise TinyKWSError(f"data labels {index.labels} differ from the model's {meta['labels']}")
    meta = {**meta, "data_dir": str(data), "resplit_salt": salt}
    return model, meta, FeaturePipeline(index)


def calibration_set(pipeline, clips: int):
    """``clips`` training examples (a fixed draw) for post-training calibration."""
    import numpy as np

    from tinykws.errors import TinyKWSError

    if clips < 100:
        raise TinyKWSError("calibration needs at least 100 clips")
    x_train, _ = pipeline.split_arrays("training")
    if len(x_train) < clips:
        raise TinyKWSError(f"only {len(x_train)} training clips for calibration; need {clips}")
    pick = np.random.default_rng(0).choice(len(x_train), clips, replace=False)
    return x_train[np.sort(pick)]  # (clips, 49, 40, 1) float32


def real_test_set(folder: str, labels: list[str]):
    """``(x, y)``: every test clip of a real-speech folder (canonical test-set layout)."""
    from tinykws.data.pipeline import FeaturePipeline
    from tinykws.data.speech_commands import index_speech_commands
    from tinykws.errors import TinyKWSError

    index = index_speech_commands(folder, tuple(labels[2:]))
    if tuple(index.labels) != tuple(labels):
        raise TinyKWSError(f"real-speech labels {index.labels} differ from the model's {labels}")
    return FeaturePipeline(index).split_arrays("testing")
