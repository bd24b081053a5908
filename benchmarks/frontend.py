"""Micro frontend throughput: seconds of audio per second, ours vs pymicro-features.

pymicro-features wraps tflite-micro's C frontend at a 30 ms window and 10 ms
stride, fed 10 ms at a time as a device would, so the fair pair runs ours at
the same 10 ms stride on the same 1 s clip (all bit-identical). Contenders:

- ``numpy reference``: :func:`tinykws.features.micro_frontend.micro_features`,
  the readable one (slow: Python loops over frames and channels);
- ``numba``: :func:`tinykws.features.micro_frontend.micro_features_numba`, one clip;
- ``numba batch``: :func:`tinykws.features.micro_frontend.micro_features_batch` on
  100 different clips at once, as a training step calls it.

micro_speech trains at a 20 ms stride (half the frames, so about twice the
audio per second); those rows are labelled so and keep pymicro-features at
10 ms as the peer, since it has no other stride.

    python -m benchmarks.frontend [--quick]
"""

from __future__ import annotations

import numpy as np

from benchmarks.timing import compare, row
from tinykws.timing import run_pymicro_features

BATCH = 100  # clips per training step


def _clips(n: int, seed: int = 0) -> np.ndarray:
    """(n, 16000) int16: 1 s of noise per clip, levels from quiet to clipping."""
    rng = np.random.default_rng(seed)
    levels = rng.choice([30, 300, 3000, 30000], size=(n, 1))
    return np.clip(rng.normal(0, 1, (n, 16000)) * levels, -32768, 32767).astype(np.int16)


def run(quick: bool) -> list[dict]:
    from tinykws.features.micro_frontend import (
        MicroFrontendConfig, micro_features, micro_features_batch, micro_features_numba)

    batch = _clips(BATCH)  # (100, 16000) int16: 100 s of audio
    clip = batch[2]  # (16000,) a 1 s clip at 3000 rms
    ten_ms, twenty_ms = MicroFrontendConfig(stride_ms=10), MicroFrontendConfig(stride_ms=20)
    contenders = {
        "pymicro-features": lambda: run_pymicro_features(clip),
        "numba": lambda: micro_features_numba(clip, ten_ms),
        "numba batch": lambda: micro_features_batch(batch, ten_ms),
        "numba, 20 ms stride": lambda: micro_features_numba(clip, twenty_ms),
        "numba batch, 20 ms stride": lambda: micro_features_batch(batch, twenty_ms),
    }
    seconds = compare(contenders, repeats=5 if quick else 15, warmup=2)
    # The readable reference takes about a second a call: timed on its own, few rounds.
    seconds |= compare({"numpy reference": lambda: micro_features(clip, ten_ms)},
                       repeats=1 if quick else 5, warmup=0)
    audio = {name: float(BATCH if "batch" in name else 1) for name in seconds}  # s per call
    rate = {name: audio[name] / seconds[name] for name in seconds}  # audio s / s
    peer = rate.pop("pymicro-features")
    return [row("micro frontend 30 ms window" + ("" if "20 ms" in name else ", 10 ms stride"),
                name, "pymicro-features (10 ms stride)", value, peer, "audio s / s", True)
            for name, value in rate.items()]


if __name__ == "__main__":
    import argparse

    from benchmarks.__main__ import markdown_table

    parser = argparse.ArgumentParser(description="micro frontend throughput")
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    print(markdown_table(run(quick=parser.parse_args().quick)))
