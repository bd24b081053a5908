"""Per-clip time on the device: preprocessing, network, postprocessing.

The course's profiler printed one keyword decision as three stages; this
module estimates the two that are not the network (which comes from
:func:`tinykws.mcu.estimate.estimate_model`):

**Preprocessing**: TFLM's micro frontend (fixed point) on 1 s of 16 kHz audio:
49 frames of a 30 ms (480-sample) window every 20 ms, a 512-point FFT and 40
mel channels. Per frame ::

    cycles = 4 * window_samples              # Hann window, int16 x Q14
           + C_FFT * N * log2(N)             # kissfft int16 real FFT, N = 512
           + 15 * (N / 2 + 1)                # power spectrum and filterbank sums
           + 120 * channels                  # log, noise reduction, PCAN gain
           + 500                             # per-frame set-up

The window, bin and channel constants are instruction counts of those loops;
``C_FFT`` is fitted so that the whole is the course's measured **21 ms** at
64 MHz (the assignment's profile on the Nano 33 BLE Sense, as a student's
report prints it: ``Beichen-Ma/ArduinoTinyML``, ``README.md``, preprocessing
19-23 ms, average 21 ms). The fit is exact: one constant, one point, so that
point checks nothing; a different FFT size or channel count is an
extrapolation.

Other micro frontend settings (a model's :class:`~tinykws.features.spec.FeatureSpec`)
size the same formula: their frames, window, FFT length and channels. The
other feature modes (TF's ``mfcc`` and ``average``, MLPerf Tiny's MFCCs) have
no MCU frontend here: TFLM ships only the micro frontend, and those are float
pipelines nobody has measured on this board, so their preprocessing is *not
estimated* (``preprocess_ms`` is None, with the reason) rather than guessed.

**Postprocessing**: micro_speech's ``RecognizeCommands``: push the scores,
drop results older than its 1000 ms averaging window and average the rest,
about ``800 + 6 * queue * labels`` cycles, ``queue`` being the results that
fit in the window at one result per (preprocessing + network). Microseconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SAMPLE_RATE = 16000
CLIP_MS = 1000
WINDOW_MS = 30
STRIDE_MS = 20
FFT_SIZE = 512
CHANNELS = 40
C_FFT = 3.55  # cycles per N log2 N, fitted to the course's 21 ms (see the module doc)
AVERAGE_WINDOW_MS = 1000


def frames_per_clip(clip_ms: int = CLIP_MS, window_ms: int = WINDOW_MS,
                    stride_ms: int = STRIDE_MS) -> int:
    """Whole windows in a clip: 49 for 1 s, 30 ms, 20 ms."""
    return 1 + (clip_ms - window_ms) // stride_ms


def frontend_cycles_per_frame(fft_size: int = FFT_SIZE, channels: int = CHANNELS,
                              window_samples: int = SAMPLE_RATE * WINDOW_MS // 1000) -> float:
    """Cycles of the micro frontend on one frame (see the module doc)."""
    return (4 * window_samples + C_FFT * fft_size * math.log2(fft_size)
            + 15 * (fft_size // 2 + 1) + 120 * channels + 500)


def postprocess_cycles(queue: int, labels: int) -> float:
    """Cycles of one ``RecognizeCommands`` update averaging ``queue`` results."""
    return 800 + 6 * queue * labels


@dataclass(frozen=True)
class ClipBreakdown:
    """Milliseconds per 1 s clip, by stage, at ``clock_hz``."""

    clock_hz: float
    frames: int
    preprocess_ms: float | None  # None: not estimated (preprocess_note says why)
    network_ms: float
    postprocess_ms: float
    preprocess_note: str = ""

    @property
    def total_ms(self) -> float:
        """The stages' sum (without preprocessing when it is not estimated)."""
        return (self.preprocess_ms or 0.0) + self.network_ms + self.postprocess_ms


def clip_breakdown(network_ms: float, clock_hz: float, labels: int, spec=None) -> ClipBreakdown:
    """The three stages of one decision, given the network's estimated time.

    ``spec``: the model's features (micro_speech's by default; see the module doc).
    """
    from tinykws.features.spec import MICRO_DEFAULT, next_power_of_two

    spec = MICRO_DEFAULT if spec is None else spec
    if spec.mode == "micro":
        frames = spec.frames
        per_frame = frontend_cycles_per_frame(next_power_of_two(spec.window_samples), spec.bins,
                                              spec.window_samples)
        pre_ms, note = 1e3 * frames * per_frame / clock_hz, ""
    else:
        frames, pre_ms = spec.frames, None
        note = f"no MCU frontend for {spec.mode} features (TFLM has only the micro frontend)"
    queue = max(1, int(AVERAGE_WINDOW_MS // ((pre_ms or 0.0) + network_ms)))
    post_ms = 1e3 * postprocess_cycles(queue, labels) / clock_hz
    return ClipBreakdown(float(clock_hz), frames, pre_ms, network_ms, post_ms, note)
