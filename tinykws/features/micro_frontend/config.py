"""The micro frontend's settings and the C code's fixed-point conventions.

:class:`MicroFrontendConfig` holds every option of tflite-micro's
``FrontendConfig`` (defaults: micro_speech's training settings) and refuses
combinations the C code would compute garbage for. The constants are the C
headers' fixed-point formats, named as there (``kFrontendWindowBits`` ...);
the helpers reproduce C's integer types on Python ints (an ``int16_t``
store keeps the low 16 bits, signed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinykws.errors import TinyKWSError

# Fixed-point formats of the C frontend.
WINDOW_BITS = 12  # kFrontendWindowBits
FILTERBANK_BITS = 12  # kFilterbankBits
NOISE_REDUCTION_BITS = 14  # kNoiseReductionBits
PCAN_SNR_BITS = 12  # kPcanSnrBits
PCAN_OUTPUT_BITS = 6  # kPcanOutputBits
WIDE_DYNAMIC_FUNCTION_BITS = 32  # kWideDynamicFunctionBits
LOG_SCALE_LOG2 = 16  # kLogScaleLog2
LOG_SEGMENTS_LOG2 = 7  # kLogSegmentsLog2
LOG_COEFF = 45426  # kLogCoeff: ln(2) in Q16

F32 = np.float32
U32 = 0xFFFFFFFF  # a uint32_t store keeps these bits


def msb32(x: int) -> int:
    """``MostSignificantBit32``: 1-based index of the highest set bit; 0 for 0."""
    return int(x).bit_length()


def int16(v: int) -> int:
    """Store into an ``int16_t``: the low 16 bits, signed."""
    return ((int(v) + 32768) & 0xFFFF) - 32768


def int32(v: int) -> int:
    """Store into an ``int32_t``: the low 32 bits, signed."""
    return ((int(v) + 2**31) & 0xFFFFFFFF) - 2**31


@dataclass(frozen=True)
class MicroFrontendConfig:
    """Every option of the C frontend. Defaults: micro_speech's training settings."""

    sample_rate: int = 16000  # Hz
    window_ms: int = 30
    stride_ms: int = 20
    num_channels: int = 40
    lower_band_hz: float = 125.0
    upper_band_hz: float = 7500.0
    smoothing_bits: int = 10
    even_smoothing: float = 0.025
    odd_smoothing: float = 0.06
    min_signal_remaining: float = 0.05
    enable_pcan: bool = True
    pcan_strength: float = 0.95
    pcan_offset: float = 80.0
    gain_bits: int = 21
    enable_log: bool = True
    scale_shift: int = 6
    # How the float tables are computed: "tflm" in float32 (tflite-micro's
    # frontend, what runs on the device and in pymicro-features) or
    # "tensorflow" partly in double (TensorFlow's audio_microfrontend op, what
    # the training pipeline runs). They differ in the last bit of a few
    # filterbank weights, which changes about 0.3 % of the outputs.
    tables: str = "tflm"

    def __post_init__(self):
        problems = []
        if self.sample_rate <= 0:
            problems.append("sample_rate must be positive")
        if self.window_ms <= 0 or self.window_size < 2:
            problems.append("window_ms must give at least 2 samples")
        if self.stride_ms <= 0 or self.stride < 1:
            problems.append("stride_ms must give at least 1 sample")
        elif self.stride > self.window_size:
            problems.append("stride_ms must not exceed window_ms")
        if self.num_channels < 1:
            problems.append("num_channels must be at least 1")
        if not 0 <= self.lower_band_hz < self.upper_band_hz:
            problems.append("need 0 <= lower_band_hz < upper_band_hz")
        if self.upper_band_hz > self.sample_rate / 2:
            problems.append("upper_band_hz must not exceed the Nyquist frequency")
        if not 0 <= self.smoothing_bits <= 16:
            problems.append("smoothing_bits must be in [0, 16]")
        for name in ("even_smoothing", "odd_smoothing", "min_signal_remaining"):
            if not 0 <= getattr(self, name) <= 1:
                problems.append(f"{name} must be in [0, 1]")
        if self.pcan_offset <= 0 or self.pcan_strength < 0:
            problems.append("pcan_offset must be positive and pcan_strength non-negative")
        if not 0 <= self.scale_shift <= 16:
            problems.append("scale_shift must be in [0, 16]")
        if self.enable_pcan and self.window_size >= 2 and self.sample_rate > 0:
            correction = self.input_correction_bits
            # C computes 1 << (smoothing_bits - correction) and a right shift by
            # gain_bits - correction - 12: negative amounts are undefined behaviour.
            if self.smoothing_bits < correction or self.gain_bits - correction - PCAN_SNR_BITS < 0:
                problems.append("PCAN needs smoothing_bits >= log2(fft size) - 7 and "
                                "gain_bits >= log2(fft size) + 5 (C shifts by a negative amount "
                                "otherwise)")
        if self.tables not in ("tflm", "tensorflow"):
            problems.append("tables must be 'tflm' or 'tensorflow'")
        if problems:
            raise TinyKWSError("bad micro frontend config: " + "; ".join(problems))

    @property
    def window_size(self) -> int:
        """Samples per window (C: ``size_ms * sample_rate / 1000``, truncated)."""
        return self.window_ms * self.sample_rate // 1000

    @property
    def stride(self) -> int:
        """Samples between frames."""
        return self.stride_ms * self.sample_rate // 1000

    @property
    def fft_size(self) -> int:
        """The smallest power of two holding a window."""
        n = 1
        while n < self.window_size:
            n <<= 1
        return n

    @property
    def input_correction_bits(self) -> int:
        """How far the FFT's scale sits above the filterbank's: ``msb32(fft_size) - 1 - kFilterbankBits / 2``."""
        return msb32(self.fft_size) - 1 - FILTERBANK_BITS // 2

    def num_frames(self, num_samples: int) -> int:
        """Frames produced from ``num_samples`` samples (no padding)."""
        if num_samples < self.window_size:
            return 0
        return 1 + (num_samples - self.window_size) // self.stride

