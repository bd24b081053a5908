"""Slide a model over a long recording and collect detections.

The micro frontend runs once over the whole recording (frames every 20 ms);
window ``t`` is the 49 frames ending at frame ``t`` — the last second of audio
at time ``(t + 1) * 20 ms + 10 ms`` — exactly what micro_speech feeds its
model each stride. Scores go through :class:`RecognizeCommands`.

A model of other features (:class:`~tinykws.features.spec.FeatureSpec`) is
fed one clip of audio every stride, its features computed for that clip
alone (:func:`spec_windows`): MLPerf Tiny's MFCCs normalise each clip by its
own peak, so frames cannot be shared between windows as the micro frontend's are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinykws.stream.device import WINDOW_FRAMES, window_end_ms
from tinykws.stream.recognize import RecognizeCommands, probabilities_to_int8


@dataclass(frozen=True)
class Detection:
    label: str
    time_s: float  # end of the audio window that fired
    score: int  # average score 0..255


def spec_windows(samples: np.ndarray, spec, batch: int = 256):
    """Float model inputs of every clip-long window, one each stride, in chunks.

    Window ``t`` is the audio ``[t * stride, t * stride + desired_samples)``
    (int16 ``(n,)`` at ``spec.sample_rate``); it is scored when its last
    frame's audio has arrived, ``t * stride + (frames - 1) * stride + window``
    samples in (for micro_speech's settings ``t * 20 + 990`` ms, as
    :func:`tinykws.stream.device.window_end_ms`). Yields ``(end_ms (n,) int64,
    x (n, frames, width, 1) float32)`` for up to ``batch`` windows at a time.
    """
    from tinykws.features.compute import features_batch

    samples = np.ascontiguousarray(samples, np.int16)
    count = 0 if len(samples) < spec.desired_samples else \
        1 + (len(samples) - spec.desired_samples) // spec.stride_samples
    clips = np.lib.stride_tricks.sliding_window_view(samples, spec.desired_samples)[::spec.stride_samples]
    last = (spec.frames - 1) * spec.stride_samples + spec.window_samples  # samples the features read
    for i in range(0, count, batch):
        t = np.arange(i, min(i + batch, count))  # (n,)
        end_ms = (t * spec.stride_samples + last) * 1000 // spec.sample_rate
        yield end_ms.astype(np.int64), features_batch(clips[t], spec)[..., None]


def window_scores(model, samples: np.ndarray, batch: int = 512, spec=None) -> tuple[np.ndarray, np.ndarray]:
    """Scores of every 1 s window: ``(times_ms (T,), int8 scores (T, labels))``.

    ``spec``: the model's features (micro_speech's by default).
    """
    from tinykws.features.micro_frontend import MicroFrontendConfig, micro_features_numba
    from tinykws.features.model_input import to_float_model_input
    from tinykws.features.spec import MICRO_DEFAULT
    from tinykws.nn.loss import log_softmax

    if spec is not None and spec != MICRO_DEFAULT:
        times, scores = [np.zeros(0, np.int64)], [np.zeros((0, model.shapes()[-1][0]), np.int8)]
        for end_ms, x in spec_windows(samples, spec, batch):
            times.append(end_ms)
            scores.append(probabilities_to_int8(np.exp(log_softmax(model.forward(x)))))
        return np.concatenate(times), np.concatenate(scores)
    config = MicroFrontendConfig()
    features = to_float_model_input(micro_features_numba(samples, config))  # (F, 40)
    n = len(features) - WINDOW_FRAMES + 1
    if n <= 0:
        return np.zeros(0, np.int64), np.zeros((0, model.shapes()[-1][0]), np.int8)
    windows = np.lib.stride_tricks.sliding_window_view(features, (WINDOW_FRAMES, 40))[:, 0]  # (n, 49, 40)
    scores = []
    for i in range(0, n, batch):
        logits = model.forward(windows[i:i + batch, :, :, None])
        scores.append(probabilities_to_int8(np.exp(log_softmax(logits))))
    return window_end_ms(n, config), np.concatenate(scores)


def detect(times_ms: np.ndarray, scores: np.ndarray, recognizer: RecognizeCommands,
           keywords_only: bool = True) -> list[Detection]:
    """Run the recognizer over the scores; keep new commands (keywords only by default)."""
    found = []
    for t, s in zip(times_ms, scores):
        label, score, new = recognizer.process(s, int(t))
        if new and (not keywords_only or not label.startswith("_")):
            found.append(Detection(label, t / 1000.0, score))
    return found
