"""Build the report: run (or reuse) each stage, then write index.md, index.html, manifest.json.

Every number in the text comes from a stage's result; nothing is typed in
(:mod:`tinykws.report.render` turns results into Markdown). The stages, in
the order of the assignment: data, features, size, training, int8
conversion, CPU time per clip, the MCU estimate, the quantization study, the
pruning study, an in-field streaming test and, with ``--real``, evaluation on
real speech.
"""

from __future__ import annotations

import hashlib
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinykws import __version__
from tinykws.atomic import write_json, write_text
from tinykws.report.html import markdown_to_html
from tinykws.report.render import render
from tinykws.report.stages import StageResult, run_stage

# The quick profile's pruning levels: six sparsities across the cliff.
QUICK_SPARSITIES = (0.3, 0.5, 0.7, 0.9, 0.95, 0.99)
CALIBRATION_CLIPS = 100  # PTQ calibration of every int8 model in the report
# The report's zoo: the models that train in minutes on two cores (``tinykws zoo`` runs them all).
REPORT_ZOO = ("single_fc", "tiny_conv", "tiny_embedding_conv")


@dataclass(frozen=True)
class ReportSettings:
    out: Path
    data: str | None = None
    words: tuple[str, ...] = ("yes", "no")
    quick: bool = False
    download: bool = False
    real: str | None = None  # a canonical test-set folder of real speech
    seed: int = 0
    train_steps: int | None = None  # overrides the profile's length (tests use a few steps)
    finetune_steps: int | None = None  # overrides the studies' fine-tuning length

    @property
    def steps(self) -> int:
        if self.train_steps is not None:
            return self.train_steps
        from tinykws.train.recipe import DEFAULT_RECIPE

        return 600 if self.quick else DEFAULT_RECIPE.steps

    @property
    def study_steps(self) -> int:
        """Fine-tuning steps of every QAT width and every pruned model."""
        if self.finetune_steps is not None:
            return self.finetune_steps
        return 100 if self.quick else 600

    @property
    def zoo_steps(self) -> int:
        """Training steps of each zoo model per fold (fewer than the main run's: nine runs)."""
        if self.train_steps is not None:
            return self.train_steps
        return 200 if self.quick else 1000

    @property
    def zoo_folds(self) -> int:
        return 2 if self.quick else 3

    @property
    def timing_repeats(self) -> int:
        """Rounds of alternating timing (CPU time per clip; all pruned models at once)."""
        return 5 if self.quick else 15


def data_fingerprint(root: Path) -> str:
    """sha256 over every WAV's relative path and size: changes when the data set does.

    A synthetic set's clips all have the same size, so its plan file (which
    fingerprints every clip's recipe) is hashed too.
    """
    from tinykws.data.synth import PLAN_FILE

    h = hashlib.sha256()
    for path in sorted(root.rglob("*.wav")):
        h.update(f"{path.relative_to(root)}:{path.stat().st_size}\n".encode())
    if (root / PLAN_FILE).is_file():
        h.update((root / PLAN_FILE).read_bytes())
    return h.hexdigest()[:16]


def build_report(s: ReportSettings, progress: bool = True, ask=None) -> Path:
    """Run every stage (reusing finished ones) and write the report; returns ``index.md``.

    ``ask(question) -> bool`` is consulted before downloading the data set
    when no copy is found (the CLI asks on a terminal).
    """
    from tinykws.data.locate import resolve_data
    from tinykws.data.speech_commands import index_speech_commands

    started = time.perf_counter()
    out = Path(s.out)
    if s.real:  # checked now: the real-speech stage comes last, hours into a full report
        index_speech_commands(s.real, s.words)
    source = resolve_data(s.data, download=s.download, progress=progress, ask=ask)
    index = index_speech_commands(source.path, s.words)
    fingerprint = data_fingerprint(source.path)
    real_fingerprint = data_fingerprint(Path(s.real)) if s.real else None
    base = {"data": fingerprint, "words": list(s.words), "seed": s.seed}
    stages: list[StageResult] = []

    def stage(name, inputs, fn):
        if progress:
            print(f"[report] {name}...", flush=True)
        result = run_stage(out, name, {**base, **inputs}, fn)
        stages.append(result)
        return result

    clip = next((e.path for e in index.splits["testing"] + index.splits["training"]
                 if e.path and e.word == s.words[0]), None)
    r = {}
    r["features"] = stage("features", {"clip": str(clip)}, lambda d: _features(clip, d))
    r["size"] = stage("size", {"labels": len(index.labels)}, lambda d: _size(len(index.labels)))
    r["train"] = training = stage("train", {"steps": s.steps, "dir": str(source.path)},
                                  lambda d: _train(source.path, s, d, progress))
    r["convert"] = converted = stage("convert", {"train": training.key, "calibration": CALIBRATION_CLIPS,
                                                 "checked_in_tflm": True},
                                     lambda d: _convert(training.dir, source.path, d))
    r["cpu"] = stage("cpu", {"convert": converted.key, "repeats": s.timing_repeats},
                     lambda d: _cpu_breakdown(converted.dir / "model.tflite", s.timing_repeats))
    r["mcu"] = stage("mcu", {"convert": converted.key},
                     lambda d: _mcu(converted.dir / "model.tflite"))
    study = {"train": training.key, "steps": s.study_steps, "real": real_fingerprint}
    r["quant"] = stage("quant", study, lambda d: _quant(training.dir, source.path, s, d, progress))
    r["prune"] = stage("prune", {**study, "repeats": s.timing_repeats,
                                 "sparsities": list(_sparsities(s))},
                       lambda d: _prune(training.dir, source.path, s, d, progress))
    r["infield"] = stage("infield", {"train": training.key, "clips": 60},
                         lambda d: _infield(training.dir, source.path, s))
    r["stream"] = stage("stream", {"convert": converted.key, "minutes": _stream_minutes(s),
                                   "real_data": real_fingerprint},
                        lambda d: _stream(training.dir, source.path, s, d))
    r["zoo"] = stage("zoo", {"models": list(REPORT_ZOO), "folds": s.zoo_folds, "steps": s.zoo_steps,
                             "real_data": real_fingerprint, "dir": str(source.path)},
                     lambda d: _zoo(source.path, s, d, progress))
    if s.real:
        r["real"] = stage("real_eval", {"train": training.key, "real": str(s.real),
                                        "real_data": real_fingerprint},
                          lambda d: _real_eval(training.dir, s.real))
    markdown = render(s, source, index.labels, index.counts(), r)
    write_text(out / "index.md", markdown)
    write_text(out / "index.html", markdown_to_html(markdown))
    write_json(out / "manifest.json", {
        "tinykws": __version__, "python": platform.python_version(), "numpy": np.__version__,
        "settings": {k: str(v) for k, v in vars(s).items()}, "data": str(source.path),
        "data_kind": source.kind, "data_fingerprint": fingerprint,
        "real_data_fingerprint": real_fingerprint,
        "stages": [{"name": r.name, "key": r.key, "seconds": r.seconds, "cached": r.cached}
                   for r in stages],
        "wall_seconds": time.perf_counter() - started,
    })
    return out / "index.md"


def _features(clip: str, work: Path) -> dict:
    from tinykws.audio import load_wav
    from tinykws.features.clip import clip_features
    from tinykws.plots.features import save_feature_plots

    f = clip_features(load_wav(clip))
    return {"clip": clip, "plots": [p.name for p in save_feature_plots(f, work)],
            "micro_shape": list(f.micro.shape), "mfcc_shape": list(f.mfcc.shape)}


def _size(num_labels: int) -> dict:
    from tinykws.nn.model import tiny_conv
    from tinykws.size import size_report

    return size_report(tiny_conv(num_labels, np.random.default_rng(0)))


def _train(data: Path, s: ReportSettings, work: Path, progress: bool) -> dict:
    from tinykws.data.pipeline import FeaturePipeline
    from tinykws.data.speech_commands import index_speech_commands
    from tinykws.train.loop import train
    from tinykws.train.recipe import make_config

    pipeline = FeaturePipeline(index_speech_commands(data, s.words))
    config = make_config(steps=s.steps, eval_every=max(s.steps // 20, 50), seed=s.seed)  # the recipe
    metrics = train(pipeline, work, config, resume=True, progress=progress)
    return {k: metrics[k] for k in ("accuracy", "balanced_accuracy", "reports", "examples",
                                    "wall_seconds", "steps_per_second", "best_step", "config")}


def _convert(train_dir: Path, data: Path, work: Path) -> dict:
    from tinykws.convert.run import convert_run

    return convert_run(train_dir, work, str(data), calibration=CALIBRATION_CLIPS)


def _cpu_breakdown(model_path: Path, repeats: int) -> dict:
    from tinykws.timing import clip_stages

    return {"seconds": clip_stages(model_path.read_bytes(), repeats=repeats)}


def _mcu(model_path: Path) -> dict:
    from tinykws.mcu.clip import clip_breakdown
    from tinykws.mcu.estimate import estimate_model
    from tinykws.size import NANO33_FLASH, NANO33_RAM
    from tinykws.tflite.reader import parse_tflite

    blob = model_path.read_bytes()
    graph = parse_tflite(blob, "model.tflite")
    labels = graph.tensors[graph.outputs[0]].shape[-1]
    out = {"board": "Arduino Nano 33 BLE Sense (Cortex-M4F at 64 MHz)",
           "flash_capacity_bytes": NANO33_FLASH, "ram_capacity_bytes": NANO33_RAM}
    for kernels in ("reference", "cmsis-nn"):
        est = estimate_model(graph, kernels, model_bytes=len(blob))
        clip = clip_breakdown(est.network_ms, est.clock_hz, labels)
        out[kernels] = {"preprocessing_ms": clip.preprocess_ms, "network_ms": est.network_ms,
                        "postprocessing_ms": clip.postprocess_ms, "total_ms": clip.total_ms,
                        "arena_bytes": est.arena_bytes, "ram_bytes": est.ram_bytes,
                        "flash_bytes": est.flash_bytes}
    from tinykws.mcu.calibration import held_out_summary

    out["held_out"] = held_out_summary()
    return out


def _quant(train_dir: Path, data: Path, s: ReportSettings, work: Path, progress: bool) -> dict:
    from tinykws.plots.quant import save_quant_plots
    from tinykws.quant.study import QuantStudySettings, run_quant_study
    from tinykws.train.finetune import FinetuneConfig

    settings = QuantStudySettings(calibration=CALIBRATION_CLIPS,
                                  finetune=FinetuneConfig(steps=s.study_steps, seed=s.seed,
                                                          eval_every=max(s.study_steps // 4, 1)))
    result = run_quant_study(train_dir, work, settings, str(data), real=s.real, progress=progress)
    plots = [p.name for p in save_quant_plots(result, work)]
    for entry in result["qat"].values():
        entry.pop("history", None)
    return {**result, "plots": plots}


def _sparsities(s: ReportSettings) -> tuple[float, ...]:
    from tinykws.prune.study import UNSTRUCTURED_AMOUNTS

    return QUICK_SPARSITIES if s.quick else UNSTRUCTURED_AMOUNTS


def _prune(train_dir: Path, data: Path, s: ReportSettings, work: Path, progress: bool) -> dict:
    from tinykws.plots.prune import save_prune_plots
    from tinykws.prune.study import PruneStudySettings, run_prune_study
    from tinykws.train.finetune import FinetuneConfig

    settings = PruneStudySettings(
        unstructured_amounts=_sparsities(s), timing_repeats=s.timing_repeats,
        calibration=CALIBRATION_CLIPS,
        finetune=FinetuneConfig(steps=s.study_steps, seed=s.seed, eval_every=max(s.study_steps // 4, 1)))
    result = run_prune_study(train_dir, work, settings, str(data), real=s.real, progress=progress)
    return {**result, "plots": [p.name for p in save_prune_plots(result, work)]}


def _infield(train_dir: Path, data: Path, s: ReportSettings) -> dict:
    from tinykws.data.speech_commands import index_speech_commands
    from tinykws.stream.infield import infield_test
    from tinykws.train.checkpoint import load_checkpoint

    model, meta, _ = load_checkpoint(train_dir / "model.npz")
    result = infield_test(model, meta["labels"], index_speech_commands(data, s.words), s.seed, 60)
    return {k: v for k, v in result.items() if k not in ("events", "detections_list")}


def _stream_minutes(s: ReportSettings) -> float:
    return 10.0 if s.quick else 30.0


def _stream(train_dir: Path, data: Path, s: ReportSettings, work: Path) -> dict:
    """Streaming evaluation of the int8 model: calibrated for 1 false alarm per hour on
    validation speakers, scored on test speakers; with ``--real``, the calibrated settings
    on a stream of real speakers too."""
    from tinykws.data.speech_commands import index_speech_commands
    from tinykws.plots.stream import save_det
    from tinykws.stream.device import int8_model_of_run
    from tinykws.stream.evaluate import stream_eval
    from tinykws.stream.recognize import RecognizerSettings
    from tinykws.stream.recording import StreamSpec

    blob, labels, pipeline = int8_model_of_run(train_dir, str(data), calibration=CALIBRATION_CLIPS)
    spec = StreamSpec(minutes=_stream_minutes(s), seed=s.seed)
    main = stream_eval([(blob, labels, pipeline.index, "model")], None, spec, calibrate=True,
                       target_per_hour=1.0, progress=False)
    save_det(main, work / "det.png")
    out = {"main": main, "plots": ["det.png"]}
    if s.real:
        calibrated = RecognizerSettings(**main["calibration"]["settings"])
        real_index = index_speech_commands(s.real, tuple(labels[2:]))
        out["real"] = stream_eval([(blob, labels, real_index, "real")], None, spec, calibrated,
                                  progress=False)
        save_det(out["real"], work / "det_real.png")
        out["plots"].append("det_real.png")
    return out


def _zoo(data: Path, s: ReportSettings, work: Path, progress: bool) -> dict:
    """The zoo table (:func:`tinykws.train.zoo_study.zoo_study`) of :data:`REPORT_ZOO`: on the
    real speakers when ``--real`` is given (the accuracy that matters), else on the report's data."""
    from tinykws.errors import TinyKWSError
    from tinykws.train.cross_validation import FoldSpec
    from tinykws.train.recipe import make_config
    from tinykws.train.zoo_study import zoo_study

    spec = FoldSpec(data=str(s.real or data), words=tuple(s.words), folds=s.zoo_folds)
    config = make_config(steps=s.zoo_steps, eval_every=max(s.zoo_steps // 5, 50), seed=s.seed)
    try:
        table = zoo_study(spec, work, config, REPORT_ZOO, progress=progress)
    except TinyKWSError as exc:  # data too small to fold: the report says so and goes on
        return {"skipped": str(exc), "real": bool(s.real)}
    return {"table": table, "real": bool(s.real), "plots": ["zoo_pareto.png"]}


def _real_eval(train_dir: Path, real: str) -> dict:
    from tinykws.train.evaluate import evaluate_run

    return evaluate_run(str(train_dir), real)
