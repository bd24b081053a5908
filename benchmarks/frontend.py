"""Micro frontend throughput: seconds of audio per second, ours vs pymicro-features.

pymicro-features wraps tflite-micro's C frontend at a 30 ms window and 10 ms
stride, so the fair pair runs ours at the same 10 ms stride on the same clip
(both bit-identical). Ours at micro_speech's 20 ms stride is reported too.
"""

from __future__ import annotations

import numpy as np

from benchmarks.timing import compare, row


def run(quick: bool) -> list[dict]:
    from kernels.micro_frontend import micro_features_batch, micro_features_numba
    from tinykws.features.micro_frontend import MicroFrontendConfig, micro_features

    rng = np.random.default_rng(0)
    clip = np.clip(rng.normal(0, 4000, 16000), -32768, 32767).astype(np.int16)  # 1 s
    batch = np.stack([clip] * 100)  # 100 s
    ten_ms = MicroFrontendConfig(stride_ms=10)
    repeats = 5 if quick else 21
    contenders = {
        "pymicro-features": lambda: _pymicro(clip),
        "numba": lambda: micro_features_numba(clip, ten_ms),
        "numba batch": lambda: micro_features_batch(batch, ten_ms),
        "numpy reference": lambda: micro_features(clip, ten_ms),
        "numba 20 ms": lambda: micro_features_numba(clip),
    }
    if quick:
        contenders.pop("numpy reference")
    t = compare(contenders, repeats=repeats, warmup=2)
    audio = {"numba batch": 100.0}
    rate = {name: audio.get(name, 1.0) / sec for name, sec in t.items()}
    peer = rate["pymicro-features"]
    return [row("micro frontend 30/10 ms", name, "pymicro-features", r, peer, "audio s / s", True)
            for name, r in rate.items() if name != "pymicro-features"]


def _pymicro(clip: np.ndarray) -> None:
    from pymicro_features import MicroFrontend

    frontend, data = MicroFrontend(), clip.tobytes()
    for i in range(0, len(data), 320):
        frontend.process_samples(data[i:i + 320])


if __name__ == "__main__":
    from benchmarks.__main__ import markdown_table

    print(markdown_table(run(quick=False)))
