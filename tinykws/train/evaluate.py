"""Score a trained run on any split of any Speech Commands folder."""

from __future__ import annotations


def evaluate_run(run_path: str, data: str, split: str = "testing", resplit_salt: str | None = None) -> dict:
    """The classification report (:func:`tinykws.train.metrics.classification_report`) of a run's
    model on a split, with the data folder, layout and split it was measured on."""
    from pathlib import Path

    from tinykws.data.pipeline import FeaturePipeline
    from tinykws.data.speech_commands import index_speech_commands
    from tinykws.errors import TinyKWSError
    from tinykws.train.checkpoint import load_checkpoint
    from tinykws.train.metrics import classification_report, predict

    path = Path(run_path)
    model, meta, _ = load_checkpoint(path / "model.npz" if path.is_dir() else path)
    labels = meta["labels"]
    index = index_speech_commands(data, tuple(labels[2:]), resplit_salt=resplit_salt)
    if tuple(index.labels) != tuple(labels):
        raise TinyKWSError(f"data labels {index.labels} differ from the model's {labels}")
    pipeline = FeaturePipeline(index)
    x, y = pipeline.split_arrays(split)
    if len(y) == 0:
        raise TinyKWSError(f"split {split!r} of {data} is empty ({index.layout} layout)")
    report = classification_report(predict(model, x).argmax(1), y, labels, *pipeline.class_shares)
    return {"data": str(data), "layout": index.layout, "split": split, **report}


def run_data_info(data: str, pipeline, resplit_salt: str | None, **extra) -> dict:
    """What a run records of its data: enough for :func:`open_run` to rebuild the same splits.

    ``extra`` adds a cross-validation fold's ``folds`` and ``fold``.
    """
    index = pipeline.index
    silence, unknown = pipeline.class_shares
    return {"dir": str(data), "layout": index.layout, "words": list(index.labels[2:]),
            "resplit_salt": resplit_salt, "silence_percentage": silence, "unknown_percentage": unknown,
            "examples": {s: pipeline.split_size(s) for s in ("training", "validation", "testing")},
            **extra}


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
    same_data = str(data) == str(info.get("dir")) and salt == info.get("resplit_salt")
    split_options = {k: info[k] for k in ("folds", "fold", "silence_percentage", "unknown_percentage")
                     if same_data and info.get(k) is not None}  # a cross-validation fold's own split
    index = index_speech_commands(data, tuple(meta["labels"][2:]), resplit_salt=salt, **split_options)
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
