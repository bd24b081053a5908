"""Speaker-disjoint K-fold cross-validation: every clip scored by a model that never heard its speaker.

A 320-clip test split with 21 ``no`` clips cannot tell 80 % from 95 %
recall (the 95 % interval is about +-15 points). Cross-validation uses every
clip: the speakers are dealt into ``K`` folds by a salted hash
(:func:`tinykws.data.split.speaker_fold`), and for each fold ``k`` a model is
trained on the other folds (minus a validation share of their speakers, which
selects the checkpoint) and scores fold ``k``. Then:

- **pooled**: the predictions of all folds together, each clip once, give
  per-class recall and precision, balanced accuracy, false accepts and both
  accuracies (:func:`tinykws.train.metrics.classification_report`), with
  intervals — for the float model and for its int8 conversion (full-int8 PTQ,
  scored with integer arithmetic), with McNemar's test of the two;
- **spread**: the same numbers per fold, with their mean, standard deviation,
  minimum and maximum, to show how much a single split can mislead;
- **operating point** (:mod:`tinykws.train.operating_point`): keyword recall
  against false accepts as the ``_unknown_`` bias moves (pooled over the test
  folds), and the model calibrated for a false-accept target: each fold's
  bias chosen on its *validation* speakers, then scored, float and int8, on
  its test speakers.

Each fold is one job (:mod:`tinykws.jobs`): the folds train one after
another, in local processes or on a Dask cluster, with the same results.

Layout on disk: ``OUT/fold-k/`` is an ordinary training run (resumable;
``tinykws eval`` and ``convert`` take it) plus ``predictions.npz``;
``OUT/cv.json`` holds the settings and every number; ``OUT/cv_recall.png``
and ``OUT/cv_confusion.png`` draw them. A killed run, rerun with the same
command, continues the fold it was in and keeps the finished ones.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from tinykws.atomic import save_npz, write_json
from tinykws.data.speech_commands import TF_SHARE_PERCENTAGE
from tinykws.errors import TinyKWSError
from tinykws.resume import load_partial
from tinykws.stats import mcnemar
from tinykws.train.loop import TrainConfig, settings_record, train
from tinykws.train.metrics import classification_report, predict

CALIBRATION_CLIPS = 200  # or the whole training split when it is smaller (at least 100)


@dataclass(frozen=True)
class FoldSpec:
    """What the folds are cut from: data folder, keywords, fold count and salt, TF's shares."""

    data: str
    words: tuple[str, ...]
    folds: int = 5
    salt: str = "cv"
    silence_percentage: float = TF_SHARE_PERCENTAGE
    unknown_percentage: float = TF_SHARE_PERCENTAGE

    def index(self, fold: int):
        from tinykws.data.speech_commands import index_speech_commands

        return index_speech_commands(self.data, self.words, resplit_salt=self.salt, folds=self.folds,
                                     fold=fold, silence_percentage=self.silence_percentage,
                                     unknown_percentage=self.unknown_percentage)


def check_fold(index, fold: int) -> None:
    """Every split of a fold needs a clip of every keyword: a one-line error otherwise."""
    for split in ("training", "validation", "testing"):
        present = {e.label for e in index.splits[split]}
        missing = [w for i, w in enumerate(index.labels) if i >= 2 and i not in present]
        if missing:
            raise TinyKWSError(f"fold {fold}: the {split} split has no clip of "
                               f"{', '.join(missing)}; use fewer folds or another salt")


def cross_validate(spec: FoldSpec, out: str | Path, config: TrainConfig = TrainConfig(), *,
                   int8: bool = True, progress: bool = True,
                   false_accept_target: float = 0.05, runner=None) -> dict:
    """Train and score every fold into ``out``; returns (and writes) ``cv.json``.

    Each fold is one job (:mod:`tinykws.jobs`) run by ``runner`` (default:
    one after another, here); a job trains its fold's run folder itself.
    """
    from functools import partial

    from tinykws.jobs import Job, run_jobs, save_outcome, stored

    indexes = [spec.index(k) for k in range(spec.folds)]
    for k, index in enumerate(indexes):  # every fold is checked before anything is written
        check_fold(index, k)
    out = Path(out)
    settings = {"folds": asdict(spec), "config": settings_record(config), "int8": int8}
    result = load_partial(out / "cv.json", settings, {"fold_reports": {}})
    out.mkdir(parents=True, exist_ok=True)
    inner = progress and getattr(runner, "workers", 1) == 1  # a fold's own progress, in a serial run
    jobs = [Job(("fold_reports", str(k)), _fold_job, (spec, k, str(out / f"fold-{k}"), config, int8, inner))
            for k in range(spec.folds)]
    run_jobs([job for job in jobs if not stored(result, job.key)],
             partial(save_outcome, result, out / "cv.json", [job.key for job in jobs]), runner,
             progress=progress and not inner, desc="folds")
    result.update(_pooled(out, spec, indexes, int8, result["fold_reports"]))
    result["operating"] = _operating(out, spec, indexes, int8, false_accept_target)
    result["complete"] = True
    write_json(out / "cv.json", result)
    _plots(result, out)
    return result


def _fold_job(spec: FoldSpec, k: int, run: str, config: TrainConfig, int8: bool, progress: bool):
    """One fold as a job: train and score it in its run folder; ``(reports, no files)``."""
    return _run_fold(spec, k, spec.index(k), Path(run), config, int8, progress), {}


def _run_fold(spec: FoldSpec, k: int, index, run: Path, config: TrainConfig, int8: bool,
              progress: bool) -> dict:
    from tinykws.data.pipeline import FeaturePipeline
    from tinykws.train.checkpoint import load_checkpoint
    from tinykws.train.evaluate import run_data_info

    pipeline = FeaturePipeline(index, spec=config.features)
    info = run_data_info(spec.data, pipeline, spec.salt, folds=spec.folds, fold=k)
    if progress:
        print(f"fold {k + 1} of {spec.folds}: {info['examples']['training']} training, "
              f"{info['examples']['validation']} validation, {info['examples']['testing']} test clips")
    train(pipeline, run, config, resume=(run / "last.npz").exists(), progress=progress, data_info=info)
    model, _, _ = load_checkpoint(run / "model.npz")
    x, y = pipeline.split_arrays("testing")
    predicted = {"float": predict(model, x).argmax(1)}
    if int8:
        predicted["int8"] = _int8_predictions(model, pipeline, x)
    save_npz(run / "predictions.npz", labels=y, **predicted)
    shares = pipeline.class_shares
    return {kind: classification_report(p, y, index.labels, *shares) for kind, p in predicted.items()}


def int8_graph(model, pipeline):
    """The fold's full-int8 PTQ model, calibrated on (at most 200 of) its training clips."""
    from tinykws.quant.ptq import quantize_model
    from tinykws.train.evaluate import calibration_set

    clips = min(CALIBRATION_CLIPS, pipeline.split_size("training"))
    return quantize_model(model, calibration_set(pipeline, clips), features=pipeline.spec)


def _int8_predictions(model, pipeline, x: np.ndarray) -> np.ndarray:
    """Argmax of the full-int8 PTQ model (calibrated on training clips) run with integer arithmetic."""
    from tinykws.int8.runtime import Int8Runtime
    from tinykws.train.evaluate import int8_model_input

    graph = int8_graph(model, pipeline)
    return Int8Runtime(graph).run_clip(int8_model_input(graph, pipeline.spec, x)).argmax(1)  # (N,)


def _pooled(out: Path, spec: FoldSpec, indexes, int8: bool, fold_reports: dict) -> dict:
    from tinykws.train.checkpoint import read_npz

    parts = [read_npz(out / f"fold-{k}" / "predictions.npz", "fold predictions")
             for k in range(spec.folds)]
    labels = indexes[0].labels
    shares = (spec.silence_percentage, spec.unknown_percentage)
    y = np.concatenate([p["labels"] for p in parts])  # (N,) every clip once
    kinds = ("float", "int8") if int8 else ("float",)
    predicted = {kind: np.concatenate([p[kind] for p in parts]) for kind in kinds}
    result = {
        "pooled": {kind: classification_report(predicted[kind], y, labels, *shares) for kind in kinds},
        "spread": {kind: spread([fold_reports[str(k)][kind] for k in range(spec.folds)])
                   for kind in kinds},
    }
    if int8:
        result["int8_vs_float"] = mcnemar(predicted["int8"] == y, predicted["float"] == y).as_dict()
    words = [e.word for index in indexes for e in index.splits["testing"]]  # the order of y
    result["false_accepts_by_word"] = accepted_by_word(predicted["float"], y, words, labels)
    return result


def accepted_by_word(predicted: np.ndarray, labels: np.ndarray, words: list[str], names) -> dict:
    """For each non-keyword word folder: ``{"clips", "accepted": {keyword: count}}``, most accepted first.

    Where the false accepts come from: which other words the model hears as which keyword.
    """
    table: dict[str, dict] = {}
    for word, p, y in zip(words, predicted, labels):
        if y >= 2:
            continue
        entry = table.setdefault(word, {"clips": 0, "accepted": {}})
        entry["clips"] += 1
        if p >= 2:
            entry["accepted"][names[p]] = entry["accepted"].get(names[p], 0) + 1
    return dict(sorted(table.items(), key=lambda kv: -sum(kv[1]["accepted"].values())))


def _operating(out: Path, spec: FoldSpec, indexes, int8: bool, target: float) -> dict:
    """The recall / false-accept curve of the pooled test folds, and the calibrated models' reports."""
    from tinykws.data.pipeline import FeaturePipeline
    from tinykws.train.checkpoint import feature_spec_of_meta, load_checkpoint
    from tinykws.train.operating_point import (bias_for_false_accepts, operating_curve,
                                               shifted_predictions, with_unknown_bias)

    labels = indexes[0].labels
    shares = (spec.silence_percentage, spec.unknown_percentage)
    test_logits, test_y, biases = [], [], []
    calibrated = {"float": [], "int8": []}
    for k, index in enumerate(indexes):
        model, meta, _ = load_checkpoint(out / f"fold-{k}" / "model.npz")
        pipeline = FeaturePipeline(index, spec=feature_spec_of_meta(meta))
        x_val, y_val = pipeline.split_arrays("validation")
        x, y = pipeline.split_arrays("testing")
        logits = predict(model, x)  # (N, K)
        bias = bias_for_false_accepts(predict(model, x_val), y_val, target)
        biases.append(bias)
        test_logits.append(logits)
        test_y.append(y)
        calibrated["float"].append(shifted_predictions(logits, bias))
        if int8:
            calibrated["int8"].append(_int8_predictions(with_unknown_bias(model, bias), pipeline, x))
    y = np.concatenate(test_y)
    return {
        "false_accept_target": target, "biases": biases,
        "curve": operating_curve(np.concatenate(test_logits), y, labels),
        "pooled": {kind: classification_report(np.concatenate(p), y, labels, *shares)
                   for kind, p in calibrated.items() if p},
    }


def spread(reports: list[dict]) -> dict:
    """Mean, standard deviation, minimum and maximum over folds of the headline numbers."""
    def stats(values: list[float]) -> dict:
        v = np.array(values, np.float64)
        return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
                "min": float(v.min()), "max": float(v.max()), "folds": [float(x) for x in v]}

    names = {"balanced_accuracy": lambda r: r["balanced_accuracy"]["value"],
             "false_accepts": lambda r: r["false_accepts"]["value"],
             "accuracy": lambda r: r["accuracy"]["value"]}
    for label in reports[0]["per_class"]:
        names[f"recall {label}"] = lambda r, label=label: r["per_class"][label]["recall"]["value"]
    return {name: stats([get(r) for r in reports]) for name, get in names.items()}


def _plots(result: dict, out: Path) -> None:
    from tinykws.plots.cross_validation import save_cv_recall
    from tinykws.plots.training import save_confusion

    from tinykws.plots.cross_validation import save_operating_curve

    save_cv_recall(result, out / "cv_recall.png")
    save_operating_curve(result["operating"], out / "cv_operating.png")
    pooled = result["pooled"]["float"]
    save_confusion(np.array(pooled["confusion"]), pooled["labels"], out / "cv_confusion.png",
                   title="Cross-validated (pooled)")
