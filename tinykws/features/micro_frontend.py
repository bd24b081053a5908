"""The TFLite-Micro audio frontend ("micro features"), bit-exact, in NumPy.

This is the feature extractor of TensorFlow's ``micro_speech`` example and of
the ``audio_microfrontend`` op its training script uses
(``tensorflow/lite/experimental/microfrontend/lib/``). Per frame of 16-bit
audio it runs, in integer arithmetic:

1. **window** (``window.c``): a Hann window with 12-bit coefficients,
   ``y = (x * w) >> 12``; every ``stride`` samples once ``window`` samples
   are in, so 1 s at 30 ms / 20 ms gives ``1 + (16000 - 480) // 320 = 49``
   frames;
2. **FFT** (``fft.cc``): the windowed frame, shifted left so its peak fills
   int16 (``input_shift = 15 - msb(max |y|)``), zero-padded to a power of
   two, through KISS FFT's 16-bit fixed-point real FFT
   (:mod:`tinykws.features.kissfft_fixed`);
3. **filterbank** (``filterbank.c``): energies ``re^2 + im^2`` summed into
   ``num_channels`` triangular mel channels (``mel = 1127 ln(1 + f/700)``) with
   12-bit weights, square-rooted, and the input shift undone;
4. **noise reduction** (``noise_reduction.c``): a per-channel running noise
   estimate (smoothing 0.025 on even, 0.06 on odd channels) is subtracted,
   keeping at least 5 % of the signal;
5. **PCAN** (``pcan_gain_control.c``): per-channel automatic gain,
   ``signal / (noise + offset)^strength``, through a piecewise-quadratic
   lookup table, then a soft "shrink";
6. **log** (``log_scale.c``): a fixed-point natural log, scaled by
   ``2^scale_shift``, saturated to uint16.

The tables (window, filterbank weights, PCAN gain curve) are built in float
exactly as the C ``*_util.c`` files build them. Two copies of those files
exist: tflite-micro's computes in float32 (``cosf``, ``log1pf``), TensorFlow's
``audio_microfrontend`` op partly in double (``cos``, ``log1p``). The last
bit of a few filterbank weights differs, and with it about 0.3 % of the
outputs, so :attr:`MicroFrontendConfig.tables` picks which one to match.
Output: ``(frames, channels)`` uint16. Default settings are the micro_speech
training ones.

The Numba kernel in ``kernels/micro_frontend.py`` computes the same numbers
fast; this module is the one to read.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from tinykws.errors import TinyKWSError
from tinykws.features.kissfft_fixed import kiss_fftr
from tinykws.features.model_input import to_float_model_input, to_int8_model_input  # noqa: F401 (callers' names)

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

F32 = np.float32


def _load_libm():
    """The C math library, so tables use the very ``cosf``/``log1pf``/``powf`` the C code calls.

    NumPy's own float32 ``cos`` and ``log1p`` differ from glibc's in the last
    bit for a few percent of arguments, enough to move a filterbank weight for
    some configurations. Without a C math library (not glibc, say) NumPy's
    float32 functions are the fallback.
    """
    import ctypes
    import ctypes.util

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


_LIBM = _load_libm()


def cosf(x) -> np.float32:
    return F32(_LIBM.cosf(float(x))) if _LIBM else np.cos(F32(x))


def log1pf(x) -> np.float32:
    return F32(_LIBM.log1pf(float(x))) if _LIBM else np.log1p(F32(x))


def powf(x, y) -> np.float32:
    return F32(_LIBM.powf(float(x), float(y))) if _LIBM else F32(np.power(F32(x), F32(y)))


def cos_double(x) -> float:
    return _LIBM.cos(float(x)) if _LIBM else float(np.cos(np.float64(x)))


def log1p_double(x) -> float:
    return _LIBM.log1p(float(x)) if _LIBM else float(np.log1p(np.float64(x)))


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
            correction = self.fft_size.bit_length() - 1 - FILTERBANK_BITS // 2  # msb32 - 1 - 6
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

    def num_frames(self, num_samples: int) -> int:
        """Frames produced from ``num_samples`` samples (no padding)."""
        if num_samples < self.window_size:
            return 0
        return 1 + (num_samples - self.window_size) // self.stride


def msb32(x: int) -> int:
    """``MostSignificantBit32``: 1-based index of the highest set bit; 0 for 0."""
    return int(x).bit_length()


# -- tables, built as the *_util.c files build them ---------------------------------

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
    input_correction_bits = msb32(config.fft_size) - 1 - FILTERBANK_BITS // 2
    snr_shift = config.gain_bits - input_correction_bits - PCAN_SNR_BITS
    input_bits = config.smoothing_bits - input_correction_bits
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
        lut[base:base + 3] = y0, _int16(a1), _int16(a2)
    return lut


def _int16(v: int) -> int:
    return ((int(v) + 32768) & 0xFFFF) - 32768


def _int32(v: int) -> int:
    return ((int(v) + 2**31) & 0xFFFFFFFF) - 2**31


U32 = 0xFFFFFFFF
U64 = 0xFFFFFFFFFFFFFFFF


# -- the per-frame stages ---------------------------------------------------------

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
    result = _int32(result + _int32(a1 << 5))
    result = _int32(result * frac)
    result = (result + (1 << 14)) >> 15
    return _int16(result + y0)


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
    frac = _int32(x - (1 << integer))
    frac = frac << (LOG_SCALE_LOG2 - integer) if integer < LOG_SCALE_LOG2 else frac >> (integer - LOG_SCALE_LOG2)
    frac = _int32(frac)
    base_seg = (frac & U32) >> (LOG_SCALE_LOG2 - LOG_SEGMENTS_LOG2)
    seg_unit = (1 << LOG_SCALE_LOG2) >> LOG_SEGMENTS_LOG2
    c0, c1 = int(LOG_LUT[base_seg]), int(LOG_LUT[base_seg + 1])
    rel_pos = _int32((c1 - c0) * (frac - seg_unit * base_seg)) >> LOG_SCALE_LOG2
    fraction = (frac + c0 + rel_pos) & U32
    log2 = ((integer << LOG_SCALE_LOG2) + fraction) & U32
    rnd = (1 << LOG_SCALE_LOG2) // 2
    loge = ((LOG_COEFF * log2 + rnd) >> LOG_SCALE_LOG2) & U32
    return ((((loge << scale_shift) & U32) + rnd) & U32) >> LOG_SCALE_LOG2


def log_scale(signal: np.ndarray, config: MicroFrontendConfig) -> np.ndarray:
    """``LogScaleApply``: undo the FFT's scaling, take the log, saturate to uint16."""
    correction_bits = msb32(config.fft_size) - 1 - FILTERBANK_BITS // 2
    out = []
    for value in (int(v) for v in signal):
        if config.enable_log:
            value = (value << correction_bits) & U32 if correction_bits >= 0 else value >> -correction_bits
            value = fixed_log(value, config.scale_shift) if value > 1 else 0
        out.append(min(value, 0xFFFF))
    return np.array(out, np.uint16)


# -- the whole frontend ---------------------------------------------------------------

@lru_cache(maxsize=16)
def frontend_tables(config: MicroFrontendConfig):
    """Window, filterbank and PCAN tables for ``config`` (built once)."""
    return (window_coefficients(config.window_size, config.tables), make_filterbank(config),
            pcan_gain_lut(config))


def micro_features(samples: np.ndarray, config: MicroFrontendConfig = MicroFrontendConfig()) -> np.ndarray:
    """Run the frontend over a whole clip of int16 samples.

    Parameters
    ----------
    samples : (n,) int16 audio at ``config.sample_rate``.

    Returns
    -------
    (frames, num_channels) uint16, ``frames = config.num_frames(n)``.
    """
    samples = np.asarray(samples)
    if samples.dtype != np.int16:
        raise TypeError(f"samples must be int16, not {samples.dtype}")
    coeffs, fb, lut = frontend_tables(config)
    snr_shift, _ = pcan_shifts(config)
    estimate = np.zeros(config.num_channels, np.uint64)  # noise estimate, carried across frames
    frames = []
    for t in range(config.num_frames(len(samples))):
        start = t * config.stride
        windowed, peak = apply_window(samples[start:start + config.window_size], coeffs)
        # Scale each frame up so its peak fills int16: the fixed-point FFT
        # then loses as few bits as possible; the filterbank undoes it.
        input_shift = 15 - msb32(peak)
        re, im = spectrum(windowed, input_shift, config.fft_size)
        signal = filterbank_energies(re, im, fb, input_shift)
        signal, estimate = noise_reduction(signal, estimate, config)
        if config.enable_pcan:
            signal = pcan(signal, estimate, lut, snr_shift)
        frames.append(log_scale(signal, config))
    return np.array(frames, dtype=np.uint16).reshape(-1, config.num_channels)
