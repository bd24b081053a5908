"""``tinykws infer MODEL.tflite WAV...``: label and int8 scores per clip."""

from __future__ import annotations

import argparse

RUNTIMES = ("tinykws", "tflm", "litert")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "infer", help="run an int8 .tflite model on WAV files",
        description="Run a .tflite model (ours, or TensorFlow's with the same ops) on WAV clips "
        "of at most 1 s in the device's format (16 kHz mono 16-bit PCM; others are refused) "
        "through the features the model states (its tinykws_features metadata; micro_speech's "
        "micro frontend and int8 input when absent); print the label and "
        "the int8 output scores. --runtime picks our runtime (reads the flatbuffer itself), "
        "tflite-micro, or ai-edge-litert with the reference kernels.")
    p.add_argument("model", help="a .tflite file")
    p.add_argument("wavs", nargs="+", metavar="WAV")
    p.add_argument("--runtime", choices=RUNTIMES, default="tinykws")
    p.add_argument("--labels", default="_silence_,_unknown_,yes,no",
                   help="comma-separated output labels (default _silence_,_unknown_,yes,no)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def scores_with(runtime: str, blob: bytes, x):
    """int8 outputs (N, K) of the model on int8 inputs (N, 49, 40, 1), one clip at a time."""
    import numpy as np

    from tinykws.tflite.interpreters import litert_runner, tflm_runner

    if runtime == "tinykws":
        from tinykws.int8.runtime import Int8Runtime
        from tinykws.tflite.reader import parse_tflite

        return Int8Runtime(parse_tflite(blob)).run_clip(x)  # a streaming model frame by frame
    run = tflm_runner(blob) if runtime == "tflm" else litert_runner(blob, reference=True)
    return np.concatenate([run(clip[None]) for clip in x])


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    import numpy as np

    from tinykws.audio import load_device_clip
    from tinykws.errors import TinyKWSError
    from tinykws.features.compute import int8_features
    from tinykws.tflite.reader import read_labelled_model
    from tinykws.tflite.feature_metadata import feature_spec_of

    # validated before any runtime sees the bytes
    blob, graph, labels = read_labelled_model(Path(args.model), args.labels)
    # The features the model was trained on (micro_speech's when the file does not say).
    spec = feature_spec_of(graph, args.model)
    inp = graph.tensors[graph.inputs[0]]
    if spec.sample_rate != 16000 or tuple(inp.shape[1:3]) != spec.shape or not inp.scale:
        raise TinyKWSError(f"{args.model}: its int8 input {inp.shape} does not take 16 kHz "
                           f"features of {spec.describe()} {spec.shape}")
    x = np.stack([int8_features(load_device_clip(w, spec.clip_ms / 1000) / np.float32(32768), spec,
                                inp.scale[0], inp.zero_point[0])
                  for w in args.wavs])[..., None]  # (N, frames, width, 1) int8
    try:
        scores = scores_with(args.runtime, blob, x)
    except ImportError as exc:
        raise TinyKWSError(f"runtime {args.runtime!r} is not installed ({exc.name}); "
                           "install tinykws[test]") from None
    results = [{"file": w, "label": labels[int(np.argmax(s))], "scores": [int(v) for v in s]}
               for w, s in zip(args.wavs, scores)]
    if args.json:
        print(json.dumps(results))
    else:
        for r in results:
            print(f"{r['file']}: {r['label']}  {r['scores']}")
    return 0
