"""``stream_eval``: streams of unseen speakers through the int8 device path, scored and calibrated.

For each model (one run, or every fold of a cross-validation folder, each
with its own held-out speakers):

1. build a **test stream** from the model's test split, and, with
   calibration, a **validation stream** from its validation split
   (:mod:`tinykws.stream.recording`); the requested length is shared among
   the folds;
2. score every 1 s window with the **int8 model** (:mod:`tinykws.stream.device`),
   and compare a sample of windows with tflite-micro;
3. run ``RecognizeCommands`` at the given settings and score the detections
   (:mod:`tinykws.stream.scoring`), also as TF's ``StreamingAccuracyStats``;
4. sweep the settings for the DET curve, and with calibration choose them on
   the validation streams for the target false-alarm rate
   (:mod:`tinykws.stream.det`).

Everything lands in one dict (``stream.json``) with the streams' seeds and
lengths, so a number can be traced back to the audio that produced it.
"""

from __future__ import annotations

import time
from dataclasses import asdict, replace

from tinykws.errors import TinyKWSError
from tinykws.stream import det
from tinykws.stream.recognize import RecognizerSettings, new_commands
from tinykws.stream.recording import StreamSpec, build_stream
from tinykws.stream.scoring import Detection, score_stream, tf_streaming_stats


def check_keywords(labels, keywords) -> tuple[str, ...]:
    keywords = tuple(keywords) if keywords else tuple(l for l in labels if not l.startswith("_"))
    missing = [k for k in keywords if k not in labels]
    if missing:
        raise TinyKWSError(f"the model's labels {list(labels)} lack the keywords {missing}")
    if not keywords:
        raise TinyKWSError("no keywords to spot")
    return keywords


def detections_of(scored: det.ScoredStream, settings: RecognizerSettings,
                  keywords_only: bool = True) -> list[Detection]:
    index, label, score = new_commands(scored.times_ms, scored.scores, settings)
    out = [Detection(scored.labels[l], int(scored.times_ms[i]), int(s))
           for i, l, s in zip(index, label, score)]
    return [d for d in out if d.label in scored.keywords] if keywords_only else out


def _pooled(items: list[tuple], durations: list[float]):
    """Streams played one after another: utterances and detections with shifted times."""
    utterances, detections, offset = [], [], 0
    for (us, ds), duration in zip(items, durations):
        utterances += [replace(u, onset_ms=u.onset_ms + offset) for u in us]
        detections += [replace(d, time_ms=d.time_ms + offset) for d in ds]
        offset += int(round(duration * 1000))
    return utterances, detections


class _Fold:
    """One model and its streams."""

    def __init__(self, blob: bytes, labels, index, name: str):
        from tinykws.int8.runtime import Int8Runtime
        from tinykws.tflite.reader import parse_tflite

        self.blob, self.labels, self.index, self.name = blob, tuple(labels), index, name
        self.runtime = Int8Runtime(parse_tflite(blob, "model.tflite"))
        self.streams, self.scored, self.tflm = {}, {}, {}

    def score(self, split: str, keywords, spec: StreamSpec, progress) -> float:
        from tinykws.stream.device import check_windows, stream_scores

        stream = build_stream(self.index, keywords, spec, split)
        start = time.perf_counter()
        times, scores, windows = stream_scores(self.runtime, stream.samples, progress=progress)
        seconds = time.perf_counter() - start
        self.tflm[split] = check_windows(self.blob, windows, scores, seed=spec.seed)
        self.streams[split] = stream
        self.scored[split] = det.scored_stream(times, scores, self.labels, stream)
        return seconds


def stream_eval(models: list[tuple[bytes, list[str], object, str]], keywords=None,
                spec: StreamSpec = StreamSpec(), settings: RecognizerSettings = RecognizerSettings(),
                calibrate: bool = False, target_per_hour: float = 1.0,
                progress: bool = True, keep_audio: bool = False) -> dict:
    """Score ``models`` (``(tflite bytes, labels, data index, name)`` each) on streams.

    See the module docstring. ``spec.minutes`` is the test audio in all.
    ``keep_audio`` adds ``"_audio"``: each fold's test :class:`Stream`.
    """
    from tqdm import tqdm

    settings.check()
    if target_per_hour <= 0:
        raise TinyKWSError(f"the target false-alarm rate must be positive, not {target_per_hour}")
    labels = tuple(models[0][1])
    keywords = check_keywords(labels, keywords)
    folds = [_Fold(blob, l, index, name) for blob, l, index, name in models]
    per_fold = replace(spec, minutes=spec.minutes / len(folds))
    splits = ("testing", "validation") if calibrate else ("testing",)
    windows = int(round(per_fold.minutes * 60 / 0.02)) * len(folds) * len(splits)
    scoring_s = 0.0
    with tqdm(total=windows, desc="streams", unit="window", disable=not progress,
              leave=False) as bar:
        for k, fold in enumerate(folds):
            for split in splits:
                seed = spec.seed + 1000 * k + (500 if split == "validation" else 0)
                scoring_s += fold.score(split, keywords, replace(per_fold, seed=seed), bar)
    test = [f.scored["testing"] for f in folds]
    hours = sum(s.duration_s for s in test) / 3600.0
    result = {
        "keywords": list(keywords), "labels": list(labels), "spec": asdict(spec),
        "streams": {f.name: {split: f.streams[split].describe() | {"tflm": f.tflm[split]}
                             for split in splits} for f in folds},
        "tflm_bit_exact": all(t is None or t["bit_exact"] for f in folds for t in f.tflm.values())
        if any(t is not None for f in folds for t in f.tflm.values()) else None,
        "scoring_seconds": scoring_s,
        "scoring_seconds_per_audio_hour": scoring_s / (hours * len(splits)),
        "settings": asdict(settings),
        "test": _report(folds, "testing", settings),
    }
    result["tf_streaming_accuracy"] = _tf_stats(folds, settings)
    with tqdm(total=len(det.WINDOWS_MS), desc="DET", disable=not progress, leave=False) as bar:
        curves = {}
        for w in det.WINDOWS_MS:
            curves[w] = det.det_curve(test, (w,), settings.suppression_ms,
                                      settings.minimum_count)[w]
            bar.update(1)
    result["det"] = {str(w): [[p.false_alarms_per_hour, p.miss_rate] for p in points]
                     for w, points in curves.items()}
    every = [p for points in curves.values() for p in points]
    result["det_miss_at"] = {str(rate): _point_or_none(det.miss_at(every, rate))
                             for rate in (0.5, 1.0)}
    if calibrate:
        result["calibration"] = _calibration(folds, target_per_hour, progress)
    result["hours"] = hours
    if keep_audio:
        result["_audio"] = {f.name: f.streams["testing"] for f in folds}
    return result


def _point_or_none(p):
    return None if p is None else p.as_dict()


def _pooled_detections(folds, split: str, settings: RecognizerSettings, keywords_only: bool = True):
    """Every fold's ``split`` stream and its detections at ``settings``, played one after another:
    ``(utterances, detections, seconds)``."""
    items = [(f.streams[split].utterances, detections_of(f.scored[split], settings, keywords_only))
             for f in folds]
    durations = [f.scored[split].duration_s for f in folds]
    return (*_pooled(items, durations), sum(durations))


def _report(folds, split: str, settings: RecognizerSettings) -> dict:
    utterances, detections, seconds = _pooled_detections(folds, split, settings)
    return score_stream(detections, utterances, folds[0].scored[split].keywords, seconds)


def _tf_stats(folds, settings: RecognizerSettings) -> dict:
    """TF's numbers count every new command but silence, ``_unknown_`` included."""
    utterances, commands, _ = _pooled_detections(folds, "testing", settings, keywords_only=False)
    return tf_streaming_stats(commands, utterances)


def _calibration(folds, target_per_hour: float, progress: bool) -> dict:
    from tqdm import tqdm

    validation = [f.scored["validation"] for f in folds]
    grid = len(det.WINDOWS_MS) * len(det.SUPPRESSIONS_MS) * len(det.MINIMUM_COUNTS)
    with tqdm(total=grid, desc="calibration", disable=not progress, leave=False) as bar:
        points = det.sweep(validation, progress=bar)
    chosen, met = det.calibrate(points, target_per_hour)
    s = chosen.settings
    return {"target_false_alarms_per_hour": target_per_hour, "met_on_validation": met,
            "settings": asdict(s), "c": s.as_c(), "grid": {
                "windows_ms": list(det.WINDOWS_MS), "thresholds": [0, 255],
                "suppressions_ms": list(det.SUPPRESSIONS_MS),
                "minimum_counts": list(det.MINIMUM_COUNTS), "settings_tried": len(points)},
            "validation": chosen.as_dict(), "test": _report(folds, "testing", s)}


def models_of(path, data=None, resplit_salt=None, labels=None):
    """``[(blob, labels, index, name)]`` for a run, a cross-validation folder or a ``.tflite``."""
    from pathlib import Path

    path = Path(path)
    if path.suffix == ".tflite":
        return [_tflite_model(path, data, labels)]
    from tinykws.stream.device import int8_model_of_run

    folds = sorted(path.glob("fold-*"), key=lambda p: int(p.name.split("-")[1]))
    runs = folds if (path / "cv.json").is_file() and folds else [path]
    out = []
    for run in runs:
        blob, run_labels, pipeline = int8_model_of_run(run, data, resplit_salt)
        out.append((blob, run_labels, pipeline.index, run.name))
    return out


def _tflite_model(path, data, labels):
    from tinykws.data.speech_commands import index_speech_commands

    if not data:
        raise TinyKWSError("a .tflite model needs --data DIR (its test split is streamed)")
    from tinykws.tflite.reader import read_labelled_model

    blob, _, labels = read_labelled_model(path, labels)
    index = index_speech_commands(data, tuple(labels[2:]))
    return blob, labels, index, path.stem


def scores_summary(result: dict) -> list[str]:
    """The lines ``tinykws stream-eval`` prints."""
    from tinykws.train.metrics import proportion

    t = result["test"]
    fa = t["false_alarms_per_hour"]
    s = result["settings"]
    lines = [f"{result['hours'] * 60:.1f} min of test audio, {t['keyword_utterances']} keywords "
             f"spoken; int8 device path, tflite-micro on sampled windows: "
             f"{ {True: 'bit-exact', False: 'MISMATCH', None: 'not installed'}[result['tflm_bit_exact']]}",
             f"at window {s['average_window_ms']} ms, threshold {s['detection_threshold']}, "
             f"suppression {s['suppression_ms']} ms, minimum count {s['minimum_count']}:",
             f"  miss rate {proportion(t['miss_rate']).percent()}, {fa['value']:.1f} false alarms per "
             f"hour [{fa['low']:.1f}, {fa['high']:.1f}]"]
    for k, e in t["per_keyword"].items():
        lines.append(f"  {k:<10} miss {proportion(e['miss_rate']).percent()} of {e['utterances']}, "
                     f"{e['false_alarms_per_hour']['value']:.1f} false alarms per hour")
    tf = result["tf_streaming_accuracy"]
    lines.append(f"TF's StreamingAccuracyStats: {tf['matched_percent']:.1f}% matched, "
                 f"{tf['correct_percent']:.1f}% correct, {tf['wrong_percent']:.1f}% wrong, "
                 f"{tf['false_positive_percent']:.1f}% false positive")
    for rate, p in result["det_miss_at"].items():
        if p is None:
            lines.append(f"DET (threshold chosen on this audio): no setting reaches {rate} per hour")
        else:
            lines.append(f"DET (threshold chosen on this audio): miss rate "
                         f"{proportion(p['miss_rate']).percent()} at <= {rate} false alarms per hour")
    c = result.get("calibration")
    if c:
        ct = c["test"]
        cfa = ct["false_alarms_per_hour"]
        lines += [f"calibrated on validation speakers for {c['target_false_alarms_per_hour']} false "
                  f"alarms per hour{'' if c['met_on_validation'] else ' (not reached on validation)'}:",
                  f"  {c['c']}",
                  f"  test: miss rate {proportion(ct['miss_rate']).percent()}, {cfa['value']:.1f} "
                  f"false alarms per hour [{cfa['low']:.1f}, {cfa['high']:.1f}]"]
    return lines

