"""Score a trained run on any split of any Speech Commands folder."""

from __future__ import annotations

import functools
from dataclasses import dataclass


def evaluate_run(run_path: str, data: str, split: str = "testing", resplit_salt: str | None = None) -> dict:
    """The classification report (:func:`tinykws.train.metrics.classification_report`) of a run's
    model on a split, with the data folder, layout and split it was measured on."""
    from pathlib import Path

    from tinykws.data.pipeline import FeaturePipeline
    from tinykws.data.speech_commands import index_speech_commands
    from tinykws.errors import TinyKWSError
    from tinykws.train.checkpoint import feature_spec_of_meta, load_checkpoint
    from tinykws.train.metrics import classification_report, predict

    path = Path(run_path)
    model, meta, _ = load_checkpoint(path / "model.npz" if path.is_dir() else path)
    labels = meta["labels"]
    index = index_speech_commands(data, tuple(labels[2:]), resplit_salt=resplit_salt)
    if tuple(index.labels) != tuple(labels):
        raise TinyKWSError(f"data labels {index.labels} differ from the model's {labels}")
    pipeline = FeaturePipeline(index, spec=feature_spec_of_meta(meta, path))
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
    from tinykws.train.checkpoint import feature_spec_of_meta, load_checkpoint

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
    return model, meta, FeaturePipeline(index, spec=feature_spec_of_meta(meta, path))


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


def real_test_set(folder: str, labels: list[str], spec=None):
    """``(x, y)``: every test clip of a real-speech folder (canonical test-set layout), as
    features of ``spec`` (micro_speech's by default)."""
    from tinykws.data.pipeline import FeaturePipeline
    from tinykws.data.speech_commands import index_speech_commands
    from tinykws.errors import TinyKWSError
    from tinykws.features.spec import MICRO_DEFAULT

    index = index_speech_commands(folder, tuple(labels[2:]))
    if tuple(index.labels) != tuple(labels):
        raise TinyKWSError(f"real-speech labels {index.labels} differ from the model's {labels}")
    return FeaturePipeline(index, spec=spec or MICRO_DEFAULT).split_arrays("testing")


def int8_model_input(graph, spec, x):
    """The int8 input of the quantized ``graph`` for float model inputs ``x`` of ``spec``.

    ``x: (N, frames, width, 1)`` float32 -> int8, by
    :func:`tinykws.features.compute.quantize_features` with the graph's input
    scale and zero point: micro_speech's fixed mapping for micro features,
    the input tensor's own for the other modes (as ``tinykws infer`` does
    from a WAV).
    """
    from tinykws.features.compute import quantize_features

    inp = graph.tensors[graph.inputs[0]]
    return quantize_features(x, spec, inp.scale[0], inp.zero_point[0])


@dataclass(frozen=True)
class StudyInputs:
    """Where a study of a trained run finds its model and clips: paths and counts, nothing loaded.

    A study's jobs carry this instead of arrays, so that a worker process (or
    a Dask worker on another machine with the same file system) reopens the
    run itself; :meth:`open` does so once per process.
    """

    run: str
    data: str | None = None
    resplit_salt: str | None = None
    real: str | None = None  # a real-speech test-set folder, also scored
    calibration: int = 200  # PTQ calibration clips

    @classmethod
    def absolute(cls, run, data=None, resplit_salt=None, real=None, calibration=200) -> "StudyInputs":
        """The inputs with absolute paths: a job may run in another working folder."""
        from pathlib import Path

        def folder(path):
            return None if path is None else str(Path(path).absolute())

        return cls(folder(run), folder(data), resplit_salt, folder(real), calibration)

    def open_micro(self, study_name: str) -> "Study":
        """:meth:`open`, refusing a run on other than micro features with a one-line error:
        the studies' int8 inputs (and QAT's input quantizer) are micro_speech's."""
        from pathlib import Path

        from tinykws.errors import TinyKWSError
        from tinykws.train.checkpoint import feature_spec_of_meta, load_checkpoint

        path = Path(self.run)
        checkpoint = path / "model.npz" if path.is_dir() else path
        mode = feature_spec_of_meta(load_checkpoint(checkpoint)[1], checkpoint).mode
        if mode != "micro":  # checked before any clip is read
            raise TinyKWSError(f"the {study_name} takes runs on micro features; this run was "
                               f"trained on {mode}")
        return self.open()

    def open(self) -> "Study":
        """The opened study, kept per process for the next job (read anew if the model file changed)."""
        from pathlib import Path

        path = Path(self.run)
        stat = (path / "model.npz" if path.is_dir() else path).stat()
        return _open_study(self, (stat.st_mtime_ns, stat.st_size))


@dataclass(frozen=True)
class Study:
    """A run's best model, its metadata and pipeline, calibration clips and the scored splits."""

    model: object  # Sequential
    meta: dict
    pipeline: object  # FeaturePipeline
    x_cal: object  # (calibration, 49, 40, 1) float32
    splits: dict  # "validation", "testing" (and "real"): (x (N, 49, 40, 1) float32, y (N,) int64)


@functools.lru_cache(maxsize=1)  # a worker runs the jobs of one study: read its data once
def _open_study(inputs: StudyInputs, model_file: tuple[int, int]) -> Study:
    model, meta, pipeline = open_run(inputs.run, inputs.data, inputs.resplit_salt)
    x_cal = calibration_set(pipeline, inputs.calibration)
    splits = {"validation": pipeline.split_arrays("validation"), "testing": pipeline.split_arrays("testing")}
    if inputs.real is not None:
        splits["real"] = real_test_set(inputs.real, meta["labels"], pipeline.spec)
    return Study(model, meta, pipeline, x_cal, splits)
