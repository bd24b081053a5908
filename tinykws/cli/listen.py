"""``tinykws listen WAV --model RUN``: detect keywords in a long recording."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "listen", help="detect keywords in a long recording (micro_speech post-processing)",
        description="Slide the model over a recording every 20 ms and print detections with "
        "micro_speech's RecognizeCommands: scores averaged over a window, a threshold, "
        "suppression after a detection and a minimum number of results.")
    p.add_argument("wav", help="a recording of any length (16 kHz mono preferred)")
    p.add_argument("--model", required=True, metavar="MODEL",
                   help="training run folder, model .npz, or an int8 .tflite (run as the device "
                   "runs it: micro frontend, int8 input, our int8 runtime). The features are the "
                   "ones the model states (the run's settings, the .tflite's tinykws_features "
                   "metadata; micro_speech's when absent)")
    p.add_argument("--labels", help="a .tflite's output labels, comma-separated "
                   "(default _silence_,_unknown_,yes,no)")
    p.add_argument("--window-ms", type=int, default=1000, help="averaging window (default 1000)")
    p.add_argument("--threshold", type=int, default=200, help="detection threshold, 0-255 (default 200)")
    p.add_argument("--suppression-ms", type=int, default=1500, help="default 1500")
    p.add_argument("--min-count", type=int, default=3, help="minimum results in the window (default 3)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def int8_window_scores(graph, spec, samples):
    """``(times_ms (T,), int8 scores (T, labels))`` of an int8 model of ``spec``'s features on
    every clip-long window of ``samples``, quantized with the model's input scale and zero point."""
    import numpy as np

    from tinykws.features.compute import quantize_features
    from tinykws.int8.runtime import Int8Runtime
    from tinykws.stream.listen import spec_windows

    runtime, inp = Int8Runtime(graph), graph.tensors[graph.inputs[0]]
    if tuple(inp.shape[1:3]) != spec.shape or not inp.scale:
        from tinykws.errors import TinyKWSError

        raise TinyKWSError(f"the model's int8 input {inp.shape} does not take features of "
                           f"{spec.describe()} {spec.shape}")
    times, scores = [np.zeros(0, np.int64)], [np.zeros((0, graph.tensors[graph.outputs[0]].shape[-1]), np.int8)]
    for end_ms, x in spec_windows(samples, spec):
        times.append(end_ms)
        scores.append(runtime.run(quantize_features(x, spec, inp.scale[0], inp.zero_point[0])))
    return np.concatenate(times), np.concatenate(scores)


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from tinykws.audio import load_wav, to_int16
    from tinykws.errors import TinyKWSError
    from tinykws.features.spec import MICRO_DEFAULT
    from tinykws.stream.listen import detect, window_scores
    from tinykws.stream.recognize import RecognizeCommands
    from tinykws.train.checkpoint import feature_spec_of_meta, load_checkpoint

    if not 0 <= args.threshold <= 255:
        raise TinyKWSError("--threshold must be between 0 and 255")
    if args.window_ms < 1 or args.suppression_ms < 0 or args.min_count < 1:
        raise TinyKWSError("--window-ms and --min-count must be positive, --suppression-ms not negative")
    path = Path(args.model)
    if path.suffix == ".tflite":
        from tinykws.tflite.feature_metadata import feature_spec_of
        from tinykws.tflite.reader import read_labelled_model

        _, graph, labels = read_labelled_model(path, args.labels)
        spec = feature_spec_of(graph, str(path))
    else:
        model, meta, _ = load_checkpoint(path / "model.npz" if path.is_dir() else path)
        labels, spec = meta["labels"], feature_spec_of_meta(meta, path)
    samples = to_int16(load_wav(args.wav, sample_rate=spec.sample_rate))
    if len(samples) < spec.desired_samples:
        raise TinyKWSError(f"{args.wav}: a recording of {len(samples) / spec.sample_rate:.3f} s is "
                           f"shorter than one {spec.clip_ms / 1000:g} s window")
    if path.suffix != ".tflite":
        times, scores = window_scores(model, samples, spec=spec)
    elif spec == MICRO_DEFAULT:  # as the device runs it: the streaming frontend's frames
        from tinykws.int8.runtime import Int8Runtime
        from tinykws.stream.device import stream_scores

        times, scores, _ = stream_scores(Int8Runtime(graph), samples)
    else:
        times, scores = int8_window_scores(graph, spec, samples)
    recognizer = RecognizeCommands(tuple(labels), args.window_ms, args.threshold,
                                   args.suppression_ms, args.min_count)
    found = detect(times, scores, recognizer)
    if args.json:
        print(json.dumps([{"label": d.label, "time_s": d.time_s, "score": d.score} for d in found]))
    else:
        print(f"{len(found)} detection(s) in {len(samples) / spec.sample_rate:.1f} s")
        for d in found:
            print(f"{d.time_s:9.2f} s  {d.label:<10} score {d.score}")
    return 0
