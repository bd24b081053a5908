"""Where the time of one 1 s clip goes: preprocessing, network, postprocessing.

The deployed pipeline per clip (as micro_speech runs it, and as the course's
profiler printed it): the micro frontend over 1 s of audio (49 frames at 20 ms),
the int8 TinyConv (fused batch-1 path), and the recognizer's averaging and
decision. Each stage is set against the C implementation of the same stage
where one is installed: the tflite-micro frontend (through pymicro-features,
which runs it at a 10 ms stride, so ours also runs at 10 ms in that pair) and
the tflite-micro interpreter. The recognizer has no compiled peer here; its
row reports our time alone (ratio 1).

The timing itself is :func:`tinykws.timing.clip_stages`, which ``tinykws
report`` also runs on the model it converted; :func:`run` is the suite's entry
on TensorFlow's reference model.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.timing import row
from tinykws.timing import clip_stages

MODEL = Path(__file__).resolve().parents[1].parent / "shared" / "reference_models" / "tiny_conv_int8.tflite"


def run(quick: bool) -> list[dict]:
    if not MODEL.is_file():
        print(f"breakdown: {MODEL} not found, skipped")
        return []
    t = clip_stages(MODEL.read_bytes(), repeats=5 if quick else 21)
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
