"""Fair timing: contenders in the same process, alternating, after warm-up, medians.

Timing one implementation and then another lets the machine's state (turbo,
caches, a neighbour's load) drift between them. :func:`compare` instead runs
the contenders in turn, round after round, and reports the median of each, so
that slow drift hits both alike. Each round times a loop of ``number`` calls,
calibrated so one measurement lasts long enough for ``perf_counter`` to be
precise.

:func:`clip_stages` times the deployed pipeline of one 1 s clip stage by stage
(``tinykws report`` on the model it converted, and the benchmark suite's
``breakdown`` on TensorFlow's reference model); :func:`run_pymicro_features`
is the C frontend it is set against, also used by the frontend benchmark.
"""

from __future__ import annotations

import time
from statistics import median
from typing import Callable

import numpy as np


def median_call_seconds(fn: Callable[[], object], repeats: int, warmup: int) -> float:
    """Median wall time of one call of ``fn`` after ``warmup`` untimed calls (one
    implementation alone; set contenders against each other with :func:`compare`)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _calibrate(fn: Callable[[], object], target_s: float) -> int:
    """Smallest power-of-two loop count whose run takes at least ``target_s``."""
    number = 1
    while True:
        start = time.perf_counter()
        for _ in range(number):
            fn()
        if time.perf_counter() - start >= target_s or number >= 1 << 20:
            return number
        number *= 2


def compare(contenders: dict[str, Callable[[], object]], repeats: int = 15,
            warmup: int = 3, target_s: float = 0.02) -> dict[str, float]:
    """Median seconds per call of each contender, measured alternately.

    Parameters
    ----------
    contenders : name -> zero-argument callable doing one unit of work.
    repeats : rounds; every contender is timed once per round.
    warmup : untimed calls first (JIT compilation, caches, allocators).
    target_s : minimum duration of one timed loop.
    """
    for fn in contenders.values():
        for _ in range(warmup):
            fn()
    numbers = {name: _calibrate(fn, target_s) for name, fn in contenders.items()}
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            n = numbers[name]
            start = time.perf_counter()
            for _ in range(n):
                fn()
            samples[name].append((time.perf_counter() - start) / n)
    return {name: median(s) for name, s in samples.items()}


def run_pymicro_features(clip: np.ndarray) -> None:
    """The tflite-micro frontend (C, through pymicro-features, 10 ms stride) over ``clip``.

    clip : (n,) int16 at 16 kHz, fed 160 samples (10 ms) a call as the package
    expects. ImportError if pymicro-features is not installed.
    """
    from pymicro_features import MicroFrontend

    frontend, data = MicroFrontend(), clip.tobytes()
    for i in range(0, len(data), 320):  # 160 int16 samples per call
        frontend.process_samples(data[i:i + 320])


def clip_stages(blob: bytes, repeats: int = 21) -> dict[str, float]:
    """Median seconds per 1 s clip of each stage of the deployed pipeline, and of each peer.

    The pipeline as micro_speech runs it: the micro frontend over 1 s of audio
    (49 frames at 20 ms), the int8 model ``blob`` (fused batch-1 path), the
    recognizer's averaging and decision. Keys: ``frontend 20 ms``
    (micro_speech's stride), ``frontend 10 ms``, ``network``, ``recognizer``;
    with pymicro-features ``pymicro-features`` (10 ms, the C frontend), with
    tflite-micro ``tflite-micro`` (the same model).
    """
    from tinykws.features.micro_frontend import micro_features_numba
    from tinykws.features.micro_frontend import MicroFrontendConfig, to_int8_model_input
    from tinykws.int8.fused import FusedTinyConv
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
        run_pymicro_features(clip[:320])
        contenders["pymicro-features"] = lambda: run_pymicro_features(clip)
    except ImportError:
        pass
    try:
        from tinykws.tflite.interpreters import tflm_runner

        tflm_run = tflm_runner(blob)
        contenders["tflite-micro"] = lambda: tflm_run(x)
    except ImportError:
        pass
    return compare(contenders, repeats=repeats)
