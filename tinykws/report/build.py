"""Build the report: run (or reuse) each stage, then write index.md, index.html, manifest.json.

Every number in the text comes from a stage's result; nothing is typed in.
Stages so far: data, features, size, training, int8 conversion, an in-field
streaming test, and evaluation on real speech.
(Conversion, quantization, pruning and benchmarks join as they land.)
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
from tinykws.report.stages import StageResult, run_stage


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

    @property
    def steps(self) -> int:
        if self.train_steps is not None:
            return self.train_steps
        return 600 if self.quick else 15000

    @property
    def synth_speakers(self) -> int:
        return 80 if self.quick else 400


def data_fingerprint(root: Path) -> str:
    """sha256 over every WAV's relative path and size: changes when the data set does."""
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.wav")):
        h.update(f"{path.relative_to(root)}:{path.stat().st_size}\n".encode())
    return h.hexdigest()[:16]


def build_report(s: ReportSettings, progress: bool = True) -> Path:
    from tinykws.data.locate import resolve_data
    from tinykws.data.speech_commands import index_speech_commands

    started = time.perf_counter()
    out = Path(s.out)
    source = resolve_data(s.data, download=s.download, synth_speakers=s.synth_speakers,
                          progress=progress)
    index = index_speech_commands(source.path, s.words)
    fingerprint = data_fingerprint(source.path)
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
    features = stage("features", {"clip": str(clip)}, lambda d: _features(clip, d))
    size = stage("size", {"labels": len(index.labels)}, lambda d: _size(len(index.labels)))
    training = stage("train", {"steps": s.steps, "dir": str(source.path)},
                     lambda d: _train(source.path, s, d, progress))
    converted = stage("convert", {"train": training.key, "calibration": 200},
                      lambda d: _convert(training.dir, source.path, d))
    infield = stage("infield", {"train": training.key, "clips": 60},
                    lambda d: _infield(training.dir, source.path, s))
    real = None
    if s.real:
        real = stage("real_eval", {"train": training.key, "real": str(s.real),
                                   "real_data": data_fingerprint(Path(s.real))},
                     lambda d: _real_eval(training.dir, s.real))
    counts = index.counts()
    markdown = render(s, source, index.labels, counts, features, size, training, converted,
                      infield, real)
    write_text(out / "index.md", markdown)
    write_text(out / "index.html", markdown_to_html(markdown))
    write_json(out / "manifest.json", {
        "tinykws": __version__, "python": platform.python_version(), "numpy": np.__version__,
        "settings": {k: str(v) for k, v in vars(s).items()}, "data": str(source.path),
        "data_kind": source.kind, "data_fingerprint": fingerprint,
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
    from tinykws.train.loop import TrainConfig, schedule_settings, train

    pipeline = FeaturePipeline(index_speech_commands(data, s.words))
    # TF's schedule wins at 3,000 steps and more; Adam learns faster in short runs
    # (see tinykws.train.loop).
    schedule = schedule_settings("tf" if s.steps >= 3000 else "adam", s.steps)
    config = TrainConfig(steps=s.steps, eval_every=max(s.steps // 20, 50), seed=s.seed,
                         optimizer=schedule["optimizer"], boundaries=schedule["boundaries"],
                         learning_rates=schedule["learning_rates"])
    metrics = train(pipeline, work, config, resume=True, progress=progress)
    return {k: metrics[k] for k in ("accuracy", "examples", "wall_seconds", "steps_per_second",
                                    "best_step", "config")}


def _convert(train_dir: Path, data: Path, work: Path) -> dict:
    from tinykws.convert.run import convert_run

    return convert_run(train_dir, work, str(data), calibration=100)


def _infield(train_dir: Path, data: Path, s: ReportSettings) -> dict:
    from tinykws.data.speech_commands import index_speech_commands
    from tinykws.stream.infield import infield_test
    from tinykws.train.checkpoint import load_checkpoint

    model, meta, _ = load_checkpoint(train_dir / "model.npz")
    result = infield_test(model, meta["labels"], index_speech_commands(data, s.words), s.seed, 60)
    return {k: v for k, v in result.items() if k not in ("events", "detections_list")}


def _real_eval(train_dir: Path, real: str) -> dict:
    from tinykws.train.evaluate import evaluate_run

    return evaluate_run(str(train_dir), real)


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def render(s, source, labels, counts, features, size, training, converted, infield, real) -> str:
    rel = lambda r, name: f"{r.dir.relative_to(Path(s.out))}/{name}"  # noqa: E731
    z = size.data
    acc = training.data["accuracy"]
    lines = [
        "# tinykws report",
        "",
        f"Keywords: **{', '.join(s.words)}**. Data: `{source.path}` ({source.kind}). "
        f"Profile: {'quick' if s.quick else 'full'}. tinykws {__version__}.",
    ]
    if source.synthetic or "synth" in str(source.path):
        lines += ["", "The data is **synthetic speech**, much easier than real speech; see the "
                  "real-speech evaluation below" + ("." if real else " (none given: pass --real DIR).")]
    lines += ["", "## Data set", "", "| label | training | validation | testing |", "|---|---:|---:|---:|"]
    for label in labels:
        lines.append(f"| {label} | " + " | ".join(str(counts[sp][label]) for sp in
                                                  ("training", "validation", "testing")) + " |")
    lines += ["", "## Audio features", "",
              f"One clip (`{Path(features.data['clip']).name}`): waveform, spectrum, spectrogram, "
              f"log-mel, MFCC ({features.data['mfcc_shape'][1]} coefficients) and the TFLite-Micro "
              f"frontend ({features.data['micro_shape'][0]} frames x {features.data['micro_shape'][1]} "
              "channels).", ""]
    lines += [f"![{name}]({rel(features, name)})" for name in features.data["plots"]]
    lines += ["", "## Model size", "", "| layer | output | params | MACs | FLOPs |", "|---|---|---:|---:|---:|"]
    for l in z["layers"]:
        lines.append(f"| {l['name']} | {'x'.join(map(str, l['output_shape']))} | {l['params']:,} | "
                     f"{l['macs']:,} | {l['flops']:,} |")
    lines += [f"| total | | {z['params']:,} | {z['macs']:,} | {z['flops']:,} |", "",
              f"- flash: {z['flash_float32_bytes']:,} B float32, about {z['flash_int8_bytes']:,} B int8 "
              f"({z['flash_int8_percent_nano33']:.2f} % of the Nano 33 BLE Sense's 1 MB)",
              f"- RAM: {z['ram_course_bytes']:,} B input + output (course convention); peak activations "
              f"{z['ram_peak_float32_bytes']:,} B float32, {z['ram_peak_int8_bytes']:,} B int8",
              f"- float CPU latency at batch 1: {1e6 * z['float_latency_batch1_seconds']:.0f} us (median)",
              "", "## Training", "",
              f"{training.data['config']['steps']:,} steps of {training.data['config']['optimizer']} "
              f"(batch {training.data['config']['batch_size']}) in {training.data['wall_seconds']:.0f} s "
              f"({training.data['steps_per_second']:.1f} steps/s); best validation at step "
              f"{training.data['best_step']:,}.", "",
              "| split | accuracy | examples |", "|---|---:|---:|"]
    for split in ("training", "validation", "testing"):
        lines.append(f"| {split} | {_pct(acc[split])} | {training.data['examples'][split]:,} |")
    lines += ["", f"![curves]({rel(training, 'curves.png')})", "",
              f"![confusion]({rel(training, 'confusion.png')})"]
    c = converted.data
    lines += ["", "## Int8 model", "",
              f"Full-int8 post-training quantization ({c['calibration_clips']} calibration clips): "
              f"`model.tflite` of **{c['model_bytes']:,} bytes** (TensorFlow's micro_speech model: "
              f"{c['micro_speech_model_bytes']:,}), operators {', '.join(c['operators'])}, and the "
              f"Arduino array `model.cc`.", "",
              "| model | test accuracy |", "|---|---:|",
              f"| float32 | {_pct(c['float_test_accuracy'])} |",
              f"| int8 (bit-exact with tflite-micro) | {_pct(c['int8_test_accuracy'])} |"]
    f = infield.data
    fmt = lambda v: "-" if v is None else _pct(v)  # noqa: E731
    lines += ["", "## In-field test", "",
              f"A {f['duration_s'] / 60:.1f}-minute recording of test-split voices (never seen in "
              f"training) with noisy gaps, streamed through micro_speech's recognizer (1 s average, "
              f"threshold 200, 1.5 s suppression): {f['keywords_spoken']} keywords spoken, "
              f"{f['hits']} detected, {f['false_alarms']} false alarms.", "",
              "| precision | recall | false alarms per hour |", "|---:|---:|---:|",
              f"| {fmt(f['precision'])} | {fmt(f['recall'])} | {f['false_alarms_per_hour']:.1f} |"]
    if real:
        r = real.data
        lines += ["", "## Real speech", "",
                  f"The same model on `{r['data']}` ({r['examples']:,} clips of real speakers): "
                  f"**{_pct(r['accuracy'])}**.", "", "| label | accuracy |", "|---|---:|"]
        lines += [f"| {k} | {'-' if v is None else _pct(v)} |" for k, v in r["per_class"].items()]
    return "\n".join(lines) + "\n"
