"""Which features a model takes: :class:`FeatureSpec`, its sizes and its checks.

A model is trained on one kind of feature and is useless with another, so the
choice is one small frozen dataclass that travels with the model (into the
``.tflite`` metadata, :mod:`tinykws.tflite.feature_metadata`, and into
``model.h``). Four modes:

- ``micro``: the TFLite-Micro frontend (:mod:`tinykws.features.micro_frontend`),
  uint16 values scaled by 10/256, TF ``speech_commands`` ``--preprocess=micro``;
- ``mfcc``: TF's ``audio_spectrogram`` then its ``mfcc`` op
  (:mod:`tinykws.features.tf_mfcc`), ``--preprocess=mfcc``;
- ``average``: TF's ``audio_spectrogram`` averaged over groups of adjacent
  frequency bins (:mod:`tinykws.features.average`), ``--preprocess=average``;
- ``mlperf-mfcc``: MLPerf Tiny's keyword-spotting input, ``tf.signal`` MFCCs
  (:mod:`tinykws.features.mlperf_mfcc`), 49 x 10 at its defaults.

The sizes follow ``prepare_model_settings`` in TF's
``tensorflow/examples/speech_commands/models.py`` (MLPerf Tiny's
``keras_model.py`` computes them the same way):

- ``desired_samples = int(sample_rate * clip_ms / 1000)``, likewise
  ``window_samples`` and ``stride_samples``, truncated;
- ``frames = 1 + (desired_samples - window_samples) // stride_samples``
  (no padding: a frame exists only where a whole window fits);
- ``width = bins``, except for ``average``: there the spectrogram's
  ``fft_bins = next_pow2(window_samples) / 2 + 1`` bins are averaged in
  groups of ``average_width = floor(fft_bins / bins)`` and
  ``width = ceil(fft_bins / average_width)`` (so asking for 40 bins of a
  30 ms window gives 43: 257 bins in groups of 6).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass

from tinykws.errors import TinyKWSError

MODES = ("micro", "mfcc", "average", "mlperf-mfcc")
# (window_ms, stride_ms, bins) when not given: micro_speech's 30/20/40 for TF's
# modes (TF's own train.py defaults to a 10 ms stride), MLPerf Tiny's 30/20/10.
MODE_DEFAULTS = {"micro": (30.0, 20.0, 40), "mfcc": (30.0, 20.0, 40),
                 "average": (30.0, 20.0, 40), "mlperf-mfcc": (30.0, 20.0, 10)}
# TF's mfcc op (mfcc.cc) and MLPerf Tiny both use 40 mel channels up to 4 kHz;
# a DCT cannot return more coefficients than it has inputs.
MEL_CHANNELS = 40
MEL_UPPER_HZ = 4000.0


def next_power_of_two(n: int) -> int:
    """Smallest power of two >= ``n`` (the FFT length of an ``n``-sample window)."""
    return 1 if n <= 1 else 1 << (int(n) - 1).bit_length()


@dataclass(frozen=True)
class FeatureSpec:
    """A feature mode and its sizes; refuses settings that give no features.

    Times in milliseconds (floats, as TF's flags), ``sample_rate`` in Hz,
    ``bins`` is TF's ``feature_bin_count`` (MFCC count for the MFCC modes,
    channels for ``micro``), ``tables`` picks the micro frontend's float
    tables ("tflm" or "tensorflow", see
    :class:`~tinykws.features.micro_frontend.MicroFrontendConfig`; ignored by
    the other modes). Raises :class:`TinyKWSError` naming the problem.
    """

    mode: str = "micro"
    sample_rate: int = 16000
    clip_ms: float = 1000.0
    window_ms: float = 30.0
    stride_ms: float = 20.0
    bins: int = 40
    tables: str = "tflm"

    def __post_init__(self):
        object.__setattr__(self, "sample_rate", int(self.sample_rate))
        object.__setattr__(self, "bins", int(self.bins))
        for name in ("clip_ms", "window_ms", "stride_ms"):
            object.__setattr__(self, name, float(getattr(self, name)))
        self._validate()

    @classmethod
    def for_mode(cls, mode: str = "micro", **sizes) -> "FeatureSpec":
        """The spec of ``mode`` with its defaults for every size left out (or None)."""
        if mode not in MODES:
            raise TinyKWSError(f"unknown feature mode {mode!r}; choose from {', '.join(MODES)}")
        window_ms, stride_ms, bins = MODE_DEFAULTS[mode]
        given = {k: v for k, v in sizes.items() if v is not None}
        return cls(mode=mode, **{"window_ms": window_ms, "stride_ms": stride_ms, "bins": bins,
                                 **given})

    # -- sizes in samples and bins (prepare_model_settings) -------------------

    @property
    def desired_samples(self) -> int:
        """Samples per clip: ``int(sample_rate * clip_ms / 1000)``."""
        return int(self.sample_rate * self.clip_ms / 1000)

    @property
    def window_samples(self) -> int:
        return int(self.sample_rate * self.window_ms / 1000)

    @property
    def stride_samples(self) -> int:
        return int(self.sample_rate * self.stride_ms / 1000)

    @property
    def fft_bins(self) -> int:
        """Bins of one spectrogram row: ``next_pow2(window_samples) / 2 + 1``."""
        return next_power_of_two(self.window_samples) // 2 + 1

    @property
    def frames(self) -> int:
        """Feature frames per clip (0 when not even one window fits)."""
        left = self.desired_samples - self.window_samples
        return 0 if left < 0 else 1 + left // self.stride_samples

    @property
    def average_width(self) -> int:
        """``average`` mode: spectrogram bins per output bin, ``floor(fft_bins / bins)``."""
        return self.fft_bins // self.bins

    @property
    def width(self) -> int:
        """Values per frame: ``bins``, or ``ceil(fft_bins / average_width)`` for ``average``."""
        if self.mode == "average":
            return math.ceil(self.fft_bins / self.average_width)
        return self.bins

    @property
    def shape(self) -> tuple[int, int]:
        """``(frames, width)`` of one clip's features."""
        return self.frames, self.width

    # -- checks ---------------------------------------------------------------

    def _validate(self) -> None:
        def bad(why: str) -> TinyKWSError:
            return TinyKWSError(f"bad feature settings ({self.describe()}): {why}")

        if self.mode not in MODES:
            raise TinyKWSError(f"unknown feature mode {self.mode!r}; choose from {', '.join(MODES)}")
        if self.sample_rate <= 0 or self.clip_ms <= 0:
            raise bad("--sample-rate and --clip-ms must be positive")
        if self.window_samples < 2:
            raise bad(f"a {self.window_ms:g} ms window is {self.window_samples} samples; need at least 2")
        if self.stride_samples < 1:
            raise bad(f"a {self.stride_ms:g} ms stride is {self.stride_samples} samples; need at least 1")
        if self.frames < 1:
            raise bad(f"a {self.clip_ms:g} ms clip is shorter than one {self.window_ms:g} ms window: "
                      "no frames")
        if self.bins < 1:
            raise bad("--bins must be at least 1")
        if self.mode == "average" and self.bins > self.fft_bins:
            raise bad(f"a {self.window_ms:g} ms window has only {self.fft_bins} spectrogram bins "
                      f"to average into {self.bins}")
        if self.mode in ("mfcc", "mlperf-mfcc"):
            if self.bins > MEL_CHANNELS:
                raise bad(f"at most {MEL_CHANNELS} MFCCs (the DCT of {MEL_CHANNELS} mel channels)")
            if self.sample_rate < 2 * MEL_UPPER_HZ:
                raise bad(f"the mel filterbank reaches {MEL_UPPER_HZ:g} Hz; need a sample rate of "
                          f"at least {2 * MEL_UPPER_HZ:g} Hz")
        if self.mode == "micro":
            if self.window_ms != int(self.window_ms) or self.stride_ms != int(self.stride_ms):
                raise bad("the micro frontend takes whole milliseconds")
            if self.tables not in ("tflm", "tensorflow"):
                raise bad("--tables must be 'tflm' or 'tensorflow'")
            self.micro_config()  # its own checks (stride <= window, band edges, PCAN shifts)

    def micro_config(self):
        """The :class:`MicroFrontendConfig` of a ``micro`` spec (TF passes these to the op)."""
        from tinykws.features.micro_frontend import MicroFrontendConfig

        return MicroFrontendConfig(sample_rate=self.sample_rate, window_ms=int(self.window_ms),
                                   stride_ms=int(self.stride_ms), num_channels=self.bins,
                                   tables=self.tables)

    # -- plain data -----------------------------------------------------------

    def describe(self) -> str:
        """One line for messages and reports, e.g. ``mfcc 30/20 ms, 40 bins, 16000 Hz, 1000 ms``."""
        return (f"{self.mode} {self.window_ms:g}/{self.stride_ms:g} ms, {self.bins} bins, "
                f"{self.sample_rate} Hz, {self.clip_ms:g} ms")

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, d: dict) -> "FeatureSpec":
        """Inverse of :meth:`to_dict`; unknown keys are an error (a newer writer's file)."""
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise TinyKWSError(f"feature settings carry unknown keys {sorted(unknown)}")
        return cls(**d)


MICRO_DEFAULT = FeatureSpec()  # micro_speech: micro 30/20 ms, 40 channels, 49 frames
