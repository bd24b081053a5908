"""Where the time of one 1 s clip goes: preprocessing, network, postprocessing.

The deployed pipeline per clip (as micro_speech runs it, and as the course's
profiler printed it): the micro frontend over 1 s of audio (49 frames at 20 ms),
the int8 TinyConv (fused batch-1 path), and the recognizer's averaging and
decision. Each stage is set against the C implementation of the same stage
where one is installed: the tflite-micro frontend (through pymicro-features,
which runs it at a 10 ms stride, so ours also runs at 10 ms in that pair) and
the tflite-micro interpreter. The recognizer has no compiled peer here; its
row reports our time alone (ratio 1).

:func:`measure` times any int8 model (``tinykws report`` uses it on the model
it converted); :func:`run` is the suite's entry on TensorFlow's reference model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmarks.timing import compare, row

MODEL = Path(__file__).resolve().parents[1].parent / "shared" / "reference_models" / "tiny_conv_int8.tflite"


def measure(blob: bytes, repeats: int = 21) -> dict[str, float]:
    """Median seconds per 1 s clip of each stage, and of each installed peer.

    Keys: ``frontend 20 ms`` (micro_speech's stride), ``frontend 10 ms``,
    ``network``, ``recognizer``; with pymicro-features ``pymicro-features``
    (10 ms), with tflite-micro ``tflite-micro`` (the same model).
    """
    from kernels.int8_tiny_conv import FusedTinyConv
    from tinykws.features.micro_frontend import MicroFrontendConfig, micro_features_numba
    from tinykws.features.model_input import to_int8_model_input
    from tinykws.stream.recognize import RecognizeCommands
    from tinykws.tflite.reader import parse_tflite

    rng = np.random.default_rng(0)
    clip = np.clip(rng.normal(0, 4000, 16000), -32768, 32767).astype(np.int16)  # 1 s
    fused = FusedTinyConv(parse_tflite(blob, "model.tflite"))
    x = to_int8_model_input(micro_features_numba(clip))[None, :, :, None]  # (1, 49, 40, 1) int8
    scores = fused.run(x)[0]  # (K,) int8
    recognizer = RecognizeCommands(tuple(f"label{i}" for i in range(len(scores))))
    clock = iter(range(0, 10**12, 20))
    ten_ms = MicroFrontendConfig(stride_ms=10)
    contenders = {
        "frontend 20 ms": lambda: micro_features_numba(clip),
        "frontend 10 ms": lambda: micro_features_numba(clip, ten_ms),
        "network": lambda: fused.run(x),
        "recognizer": lambda: recognizer.process(scores, next(clock)),
    }
    try:
        from benchmarks.frontend import _pymicro

        _pymicro(clip[:320])
        contenders["pymicro-features"] = lambda: _pymicro(clip)
    except ImportError:
        pass
    try:
        from tinykws.tflite.interpreters import tflm_runner

        tflm_run = tflm_runner(blob)
        contenders["tflite-micro"] = lambda: tflm_run(x)
    except ImportError:
        pass
    return compare(contenders, repeats=repeats)


def run(quick: bool) -> list[dict]:
    if not MODEL.is_file():
        print(f"breakdown: {MODEL} not found, skipped")
        return []
    t = measure(MODEL.read_bytes(), repeats=5 if quick else 21)
    missing = {"pymicro-features", "tflite-micro"} - set(t)
    if missing:
        print(f"breakdown: {', '.join(sorted(missing))} not installed, skipped")
        return []
    return [
        row("per 1 s clip: preprocessing", "micro frontend (numba, 10 ms)", "pymicro-features (C, 10 ms)",
            t["frontend 10 ms"], t["pymicro-features"], "s", False,
            micro_speech_stride_seconds=t["frontend 20 ms"]),
        row("per 1 s clip: network", "TinyConv int8 (fused)", "tflite-micro", t["network"],
            t["tflite-micro"], "s", False),
        row("per 1 s clip: postprocessing", "RecognizeCommands (python)", "(no peer: ours)",
            t["recognizer"], t["recognizer"], "s", False),
    ]


if __name__ == "__main__":
    from benchmarks.__main__ import markdown_table

    print(markdown_table(run(quick=False)))
