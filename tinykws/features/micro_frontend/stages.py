"""The per-frame stages of the C frontend, in integer arithmetic, in NumPy.

Each function is one C function of ``tensorflow/lite/experimental/microfrontend/lib/``
(named in its docstring), on Python ints or int64/uint64 arrays with C's
wrap-around made explicit. :func:`tinykws.features.micro_frontend.micro_features`
runs them in order, frame after frame.
"""

from __future__ import annotations

import numpy as np

from tinykws.features.kissfft_fixed import kiss_fftr
from tinykws.features.micro_frontend.config import (
    LOG_COEFF, LOG_SCALE_LOG2, LOG_SEGMENTS_LOG2, NOISE_REDUCTION_BITS,
    PCAN_OUTPUT_BITS, PCAN_SNR_BITS, U32, WINDOW_BITS, MicroFrontendConfig, int16, int32, msb32)
from tinykws.features.micro_frontend.tables import LOG_LUT, Filterbank


def apply_window(frame: np.ndarray, coeffs: np.ndarray) -> tuple[np.ndarray, int]:
    """``WindowProcessSamples``: ``(x * w) >> 12`` and the peak magnitude.

    ``abs`` is taken as C does on an int16, so -32768 stays negative and is
    never the peak.
    """
    y = (frame.astype(np.int64) * coeffs) >> WINDOW_BITS  # (size,)
    magnitudes = np.where(y == -32768, -32768, np.abs(y))
    return y, int(max(0, magnitudes.max()))


def spectrum(windowed: np.ndarray, input_shift: int, fft_size: int) -> tuple[np.ndarray, np.ndarray]:
    """``FftCompute``: scale up by ``input_shift`` (int16 wrap), zero-pad, real FFT."""
    x = np.zeros(fft_size, np.int64)
    x[:len(windowed)] = ((windowed << input_shift) + 32768) % 65536 - 32768
    return kiss_fftr(x)


def filterbank_energies(re: np.ndarray, im: np.ndarray, fb: Filterbank, input_shift: int) -> np.ndarray:
    """``ConvertFftComplexToEnergy`` + ``AccumulateChannels`` + ``FilterbankSqrt``.

    Channel ``c`` of the output is ``sqrt(sum_w(c+1) + sum_unw(c)) >> input_shift``
    where the sums run over each channel's bins, weighted by its Q12 weights.
    Returns ``(num_channels,)`` uint64 holding uint32 values.
    """
    # C stores re^2 + im^2 (up to 2^31) into an int32, then widens it with
    # (uint64_t): 2^31 becomes 2^64 - 2^31. The view reproduces that.
    energy = ((re * re + im * im + 2**31) % 2**32 - 2**31).view(np.uint64)  # (spectrum,)
    weighted = np.zeros(len(fb.starts), np.uint64)  # (num_channels + 1,) sums wrap mod 2^64
    unweighted = np.zeros(len(fb.starts), np.uint64)
    for c, (start, w, uw) in enumerate(zip(fb.starts, fb.weights, fb.unweights)):
        e = energy[start:start + len(w)]  # (width,) uint64
        weighted[c] = (w.astype(np.uint64) * e).sum(dtype=np.uint64)
        unweighted[c] = (uw.astype(np.uint64) * e).sum(dtype=np.uint64)
    work = weighted[1:] + unweighted[:-1]  # (num_channels,) uint64
    return np.array([sqrt64(int(v)) >> input_shift for v in work], np.uint64)


def sqrt64(num: int) -> int:
    """``Sqrt64``/``Sqrt32``: integer square root rounded to nearest, bit by bit."""
    if num >> 32 == 0:
        bits, limit = 32, 0xFFFF
    else:
        bits, limit = 64, 0xFFFFFFFF
    if num == 0:
        return 0
    res = 0
    max_bit_number = (bits - num.bit_length()) | 1
    bit = 1 << (bits - 1 - max_bit_number)
    iterations = (bits - 1 - max_bit_number) // 2 + 1
    for _ in range(iterations):
        if num >= res + bit:
            num -= res + bit
            res = (res >> 1) + bit
        else:
            res >>= 1
        bit >>= 2
    if num > res and res != limit:
        res += 1
    return res


def noise_reduction(signal: np.ndarray, estimate: np.ndarray,
                    config: MicroFrontendConfig) -> tuple[np.ndarray, np.ndarray]:
    """``NoiseReductionApply``: subtract a smoothed noise estimate.

    ``signal`` and ``estimate`` are ``(num_channels,)`` uint64 holding the C
    code's uint32 values; ``estimate`` is the state carried from frame to
    frame (all zero before the first). Returns ``(output, new_estimate)``.
    The estimate is kept ``smoothing_bits`` above the signal's scale and
    updated by a one-pole low-pass, ``e <- s * a + e * (1 - a)`` in Q14, with
    ``a`` = ``even_smoothing`` on even channels, ``odd_smoothing`` on odd ones.
    """
    one = 1 << NOISE_REDUCTION_BITS
    sb = np.uint64(config.smoothing_bits)
    # C converts the float settings to Q14 by truncation, (int)(x * 16384).
    even = int(np.float32(config.even_smoothing) * one)
    odd = int(np.float32(config.odd_smoothing) * one)
    min_remaining = np.uint64(int(np.float32(config.min_signal_remaining) * one))
    smoothing = np.where(np.arange(len(signal)) % 2 == 0, even, odd).astype(np.uint64)
    scaled = (signal << sb) & np.uint64(U32)  # uint32 signal_scaled_up
    new_estimate = ((scaled * smoothing + estimate * (np.uint64(one) - smoothing))
                    >> np.uint64(NOISE_REDUCTION_BITS)) & np.uint64(U32)
    subtracted = (scaled - np.minimum(new_estimate, scaled)) >> sb
    floor = ((signal * min_remaining) >> np.uint64(NOISE_REDUCTION_BITS)) & np.uint64(U32)
    return np.maximum(subtracted, floor), new_estimate


def wide_dynamic_function(x: int, lut: np.ndarray) -> int:
    """``WideDynamicFunction``: the gain at noise level ``x`` from the quadratic table."""
    if x <= 2:
        return int(lut[x])
    interval = msb32(x)
    y0, a1, a2 = (int(v) for v in lut[4 * interval - 6:4 * interval - 3])
    frac = (x << (11 - interval) if interval < 11 else x >> (interval - 11)) & 0x3FF
    result = (a2 * frac) >> 5
    result = int32(result + int32(a1 << 5))
    result = int32(result * frac)
    result = (result + (1 << 14)) >> 15
    return int16(result + y0)


def pcan_shrink(x: int) -> int:
    """``PcanShrink``: quadratic below SNR 2, linear minus one above."""
    if x < (2 << PCAN_SNR_BITS):
        return (x * x) >> (2 + 2 * PCAN_SNR_BITS - PCAN_OUTPUT_BITS)
    return (x >> (PCAN_SNR_BITS - PCAN_OUTPUT_BITS)) - (1 << PCAN_OUTPUT_BITS)


def pcan(signal: np.ndarray, estimate: np.ndarray, lut: np.ndarray, snr_shift: int) -> np.ndarray:
    """``PcanGainControlApply``: ``shrink(signal * gain(noise) >> snr_shift)`` per channel.

    The gain depends on the noise estimate just updated by
    :func:`noise_reduction`; loud stationary noise means low gain.
    """
    out = []
    for s, noise in zip(signal, estimate):
        gain = wide_dynamic_function(int(noise), lut) & U32  # int16 stored into a uint32
        out.append(pcan_shrink(((int(s) * gain) >> snr_shift) & U32))
    return np.array(out, np.uint64)


def fixed_log(x: int, scale_shift: int) -> int:
    """``Log``: ``ln(x) * 2^scale_shift`` in fixed point (log2 from a LUT, times ln 2)."""
    integer = msb32(x) - 1
    frac = int32(x - (1 << integer))
    frac = frac << (LOG_SCALE_LOG2 - integer) if integer < LOG_SCALE_LOG2 else frac >> (integer - LOG_SCALE_LOG2)
    frac = int32(frac)
    base_seg = (frac & U32) >> (LOG_SCALE_LOG2 - LOG_SEGMENTS_LOG2)
    seg_unit = (1 << LOG_SCALE_LOG2) >> LOG_SEGMENTS_LOG2
    c0, c1 = int(LOG_LUT[base_seg]), int(LOG_LUT[base_seg + 1])
    rel_pos = int32((c1 - c0) * (frac - seg_unit * base_seg)) >> LOG_SCALE_LOG2
    fraction = (frac + c0 + rel_pos) & U32
    log2 = ((integer << LOG_SCALE_LOG2) + fraction) & U32
    rnd = (1 << LOG_SCALE_LOG2) // 2
    loge = ((LOG_COEFF * log2 + rnd) >> LOG_SCALE_LOG2) & U32
    return ((((loge << scale_shift) & U32) + rnd) & U32) >> LOG_SCALE_LOG2


def log_scale(signal: np.ndarray, config: MicroFrontendConfig) -> np.ndarray:
    """``LogScaleApply``: undo the FFT's scaling, take the log, saturate to uint16."""
    correction_bits = config.input_correction_bits
    out = []
    for value in (int(v) for v in signal):
        if config.enable_log:
            value = (value << correction_bits) & U32 if correction_bits >= 0 else value >> -correction_bits
            value = fixed_log(value, config.scale_shift) if value > 1 else 0
        out.append(min(value, 0xFFFF))
    return np.array(out, np.uint16)
