"""The frontend's tables, built in float exactly as the C ``*_util.c`` files build them.

Window (``window_util.c``), mel filterbank (``filterbank_util.c``), PCAN gain
curve (``pcan_gain_control_util.c``) and the log's lookup table
(``log_lut.c``). Two copies of the C files exist: tflite-micro's computes in
float32 (``cosf``, ``log1pf``), TensorFlow's ``audio_microfrontend`` op
partly in double (``cos``, ``log1p``); ``config.tables`` picks which one to
match. To land every rounding the same way, the float32 math calls the C
library's own ``cosf``/``log1pf``/``powf`` (through ctypes), with NumPy's
float32 functions as the fallback where there is no C math library.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np

from tinykws.errors import TinyKWSError
from tinykws.features.micro_frontend.config import (
    F32, FILTERBANK_BITS, PCAN_SNR_BITS, WIDE_DYNAMIC_FUNCTION_BITS, WINDOW_BITS, MicroFrontendConfig,
    int16)

# kLogLut: log2(1 + x) - x on 128 segments of [0, 1), in Q16 (log_lut.c).
LOG_LUT = np.array([
    0, 224, 442, 654, 861, 1063, 1259, 1450, 1636, 1817, 1992, 2163, 2329, 2490, 2646, 2797,
    2944, 3087, 3224, 3358, 3487, 3611, 3732, 3848, 3960, 4068, 4172, 4272, 4368, 4460, 4549,
    4633, 4714, 4791, 4864, 4934, 5001, 5063, 5123, 5178, 5231, 5280, 5326, 5368, 5408, 5444,
    5477, 5507, 5533, 5557, 5578, 5595, 5610, 5622, 5631, 5637, 5640, 5641, 5638, 5633, 5626,
    5615, 5602, 5586, 5568, 5547, 5524, 5498, 5470, 5439, 5406, 5370, 5332, 5291, 5249, 5203,
    5156, 5106, 5054, 5000, 4944, 4885, 4825, 4762, 4697, 4630, 4561, 4490, 4416, 4341, 4264,
    4184, 4103, 4020, 3935, 3848, 3759, 3668, 3575, 3481, 3384, 3286, 3186, 3084, 2981, 2875,
    2768, 2659, 2549, 2437, 2323, 2207, 2090, 1971, 1851, 1729, 1605, 1480, 1353, 1224, 1094,
    963, 830, 695, 559, 421, 282, 142, 0, 0], dtype=np.int64)




@cache
def libm() -> ctypes.CDLL | None:
    """The C math library, so tables use the very ``cosf``/``log1pf``/``powf`` the C code calls.

    NumPy's own float32 ``cos`` and ``log1p`` differ from glibc's in the last
    bit for a few percent of arguments, enough to move a filterbank weight for
    some configurations. Without a C math library (not glibc, say) this is
    None and NumPy's float32 functions are the fallback. Loaded once.
    """
    name = ctypes.util.find_library("m")
    if name is None:
        return None
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        return None
    for fn, nargs in (("cosf", 1), ("log1pf", 1), ("powf", 2)):
        getattr(lib, fn).restype = ctypes.c_float
        getattr(lib, fn).argtypes = [ctypes.c_float] * nargs
    for fn, nargs in (("cos", 1), ("log1p", 1)):
        getattr(lib, fn).restype = ctypes.c_double
        getattr(lib, fn).argtypes = [ctypes.c_double] * nargs
    return lib


def cosf(x) -> np.float32:
    lib = libm()
    return F32(lib.cosf(float(x))) if lib else np.cos(F32(x))


def log1pf(x) -> np.float32:
    lib = libm()
    return F32(lib.log1pf(float(x))) if lib else np.log1p(F32(x))


def powf(x, y) -> np.float32:
    lib = libm()
    return F32(lib.powf(float(x), float(y))) if lib else F32(np.power(F32(x), F32(y)))


def cos_double(x) -> float:
    lib = libm()
    return lib.cos(float(x)) if lib else float(np.cos(np.float64(x)))


def log1p_double(x) -> float:
    lib = libm()
    return lib.log1p(float(x)) if lib else float(np.log1p(np.float64(x)))


def window_coefficients(size: int, tables: str = "tflm") -> np.ndarray:
    """Hann window in Q12 (``window_util.c``): ``floor((0.5 - 0.5 cos(2 pi (i + 0.5)/size)) 4096 + 0.5)``.

    tflite-micro evaluates it in float32 (``cosf``); TensorFlow's copy in double.
    """
    coeffs = np.empty(size, np.int64)
    if tables == "tensorflow":
        arg = np.float64(F32(np.pi * 2.0 / np.float64(F32(size))))
        for i in range(size):
            value = np.float64(F32(0.5 - 0.5 * cos_double(arg * (i + 0.5))))
            coeffs[i] = int(np.floor(value * (1 << WINDOW_BITS) + 0.5))
        return coeffs
    arg = F32(np.pi) * F32(2.0) / F32(size)
    for i in range(size):
        value = F32(0.5) - F32(0.5) * cosf(arg * (F32(i) + F32(0.5)))
        coeffs[i] = int(np.floor(value * F32(1 << WINDOW_BITS) + F32(0.5)))
    return coeffs


def _freq_to_mel(freq: np.float32, tables: str = "tflm") -> np.float32:
    """``FreqToMel``: ``1127 ln(1 + f/700)``, in float32 (tflite-micro's
    ``log1pf``) or in double rounded to float (TensorFlow's ``log1p``)."""
    if tables == "tensorflow":
        return F32(1127.0 * log1p_double(np.float64(F32(freq)) / 700.0))
    return F32(1127.0) * log1pf(F32(freq) / F32(700.0))


@dataclass(frozen=True)
class Filterbank:
    """Triangular mel channels over FFT bins (``filterbank_util.c``).

    Channel ``c`` (0..num_channels, one more than output: the first only
    feeds the next one's lower slope) covers bins ``starts[c]`` to
    ``starts[c] + widths[c] - 1`` with Q12 ``weights`` (rising slope of
    channel ``c``) and ``unweights`` (``4096 - weight``, the falling slope
    that channel ``c + 1`` receives).
    """

    start_index: int
    end_index: int
    starts: tuple[int, ...]
    widths: tuple[int, ...]
    weights: tuple[np.ndarray, ...]  # per channel, (width,) int64
    unweights: tuple[np.ndarray, ...]


def make_filterbank(config: MicroFrontendConfig) -> Filterbank:
    """``FilterbankPopulateState``: channel edges and Q12 weights.

    ``num_channels + 1`` centres are spaced evenly on the mel scale between
    ``lower_band_hz`` and ``upper_band_hz``; each FFT bin at or below a centre
    (and above the previous one) belongs to that channel, weighted by how
    close it is to the centre in mel. Computed in float32 (or partly double,
    ``tables="tensorflow"``) step by step as the C does, so every rounding
    lands the same way.
    """
    tables = config.tables
    tf = tables == "tensorflow"

    def mel(f):
        return _freq_to_mel(f, tables)

    def quantize(w: np.float32) -> tuple[int, int]:
        """``QuantizeFilterbankWeights``: Q12 weight and ``1 - weight``."""
        one = 1 << FILTERBANK_BITS
        if tf:  # the C adds 0.5 and 1.0 as doubles
            return (int(np.floor(np.float64(w * F32(one)) + 0.5)),
                    int(np.floor((1.0 - np.float64(w)) * one + 0.5)))
        return (int(np.floor(w * F32(one) + F32(0.5))),
                int(np.floor((F32(1.0) - w) * F32(one) + F32(0.5))))

    spectrum_size = config.fft_size // 2 + 1
    n = config.num_channels + 1
    mel_low = mel(F32(config.lower_band_hz))
    mel_hi = mel(F32(config.upper_band_hz))
    spacing = (mel_hi - mel_low) / F32(n)
    centers = [mel_low + spacing * F32(i + 1) for i in range(n)]
    if tf:
        hz_per_sbin = F32(0.5 * config.sample_rate / np.float64(F32(spectrum_size) - F32(1.0)))
        start_index = int(1.5 + np.float64(F32(config.lower_band_hz) / hz_per_sbin))
    else:
        hz_per_sbin = F32(0.5) * F32(config.sample_rate) / (F32(spectrum_size) - F32(1.0))
        start_index = int(F32(1.5) + F32(config.lower_band_hz) / hz_per_sbin)
    starts, widths, weights, unweights = [], [], [], []
    freq_start = start_index
    end_index = 0
    for chan in range(n):
        freq = freq_start
        while mel(F32(freq) * hz_per_sbin) <= centers[chan]:
            freq += 1
        denom = mel_low if chan == 0 else centers[chan - 1]
        w = [quantize((centers[chan] - mel(F32(f) * hz_per_sbin)) / (centers[chan] - denom))
             for f in range(freq_start, freq)]
        starts.append(freq_start)
        widths.append(freq - freq_start)
        weights.append(np.array([a for a, _ in w], np.int64))
        unweights.append(np.array([b for _, b in w], np.int64))
        end_index = max(end_index, freq)
        freq_start = freq
    if end_index >= spectrum_size:
        raise TinyKWSError("bad micro frontend config: filterbank reaches above the spectrum; "
                           "lower upper_band_hz or use fewer channels")
    return Filterbank(start_index, end_index, tuple(starts), tuple(widths), tuple(weights),
                      tuple(unweights))


def pcan_shifts(config: MicroFrontendConfig) -> tuple[int, int]:
    """``(snr_shift, input_bits)`` of PCAN for this FFT size (``frontend_util.c``)."""
    snr_shift = config.gain_bits - config.input_correction_bits - PCAN_SNR_BITS
    input_bits = config.smoothing_bits - config.input_correction_bits
    return snr_shift, input_bits


def _pcan_gain(config: MicroFrontendConfig, input_bits: int, x: int) -> int:
    """``PcanGainLookupFunction``: ``2^gain_bits (x / 2^input_bits + offset)^-strength``, int16."""
    x_as_float = F32(x) / F32(2.0 ** input_bits)
    power = powf(x_as_float + F32(config.pcan_offset), -F32(config.pcan_strength))
    gain = F32(2.0 ** config.gain_bits) * power
    if gain > F32(32767):
        return 32767
    return int(gain + F32(0.5))


def pcan_gain_lut(config: MicroFrontendConfig) -> np.ndarray:
    """The piecewise-quadratic gain table of ``pcan_gain_control_util.c``.

    Entries 0 and 1 are the gains at x = 0 and 1; for each octave
    ``interval`` = 2..32 of x, three entries at ``4*interval - 6`` hold
    ``y0, a1, a2`` of ``gain(x0 + t x0) ~ y0 + a1 t + a2 t^2`` (t in [0, 1)).
    """
    _, input_bits = pcan_shifts(config)
    lut = np.zeros(4 * WIDE_DYNAMIC_FUNCTION_BITS - 3, np.int64)
    lut[0] = _pcan_gain(config, input_bits, 0)
    lut[1] = _pcan_gain(config, input_bits, 1)
    for interval in range(2, WIDE_DYNAMIC_FUNCTION_BITS + 1):
        x0 = 1 << (interval - 1)
        x1 = x0 + (x0 >> 1)
        x2 = x0 + (x0 - 1) if interval == WIDE_DYNAMIC_FUNCTION_BITS else 2 * x0
        y0, y1, y2 = (_pcan_gain(config, input_bits, x) for x in (x0, x1, x2))
        a1 = 4 * (y1 - y0) - (y2 - y0)
        a2 = (y2 - y0) - a1
        base = 4 * interval - 6
        lut[base:base + 3] = y0, int16(a1), int16(a2)
    return lut



@lru_cache(maxsize=16)
def frontend_tables(config: MicroFrontendConfig) -> tuple[np.ndarray, Filterbank, np.ndarray]:
    """Window, filterbank and PCAN tables for ``config`` (built once per config)."""
    return (window_coefficients(config.window_size, config.tables), make_filterbank(config),
            pcan_gain_lut(config))
