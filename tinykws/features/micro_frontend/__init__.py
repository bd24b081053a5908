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

The package, in reading order: :mod:`.config` (the settings and the C
code's fixed-point constants), :mod:`.tables` (window, filterbank, PCAN
and log tables), :mod:`.stages` (one function per C function), :mod:`.driver`
(:func:`micro_features`, the reference over a clip) and :mod:`.fast`
(:func:`micro_features_numba` / :func:`micro_features_batch`: the same
numbers from the Numba kernel of ``kernels/micro_frontend.py``, fed the
named parameters and tables built here). The model-input mapping lives in
:mod:`tinykws.features.model_input`.
"""

from tinykws.features.micro_frontend.config import MicroFrontendConfig, msb32
from tinykws.features.micro_frontend.driver import micro_features
from tinykws.features.micro_frontend.fast import micro_features_batch, micro_features_numba
from tinykws.features.micro_frontend.stages import (
    apply_window, filterbank_energies, fixed_log, log_scale, noise_reduction, pcan, spectrum, sqrt64)
from tinykws.features.micro_frontend.tables import (
    Filterbank, frontend_tables, make_filterbank, pcan_gain_lut, pcan_shifts, window_coefficients)
from tinykws.features.model_input import to_float_model_input, to_int8_model_input

__all__ = [
    "Filterbank", "MicroFrontendConfig", "apply_window", "filterbank_energies", "fixed_log",
    "frontend_tables", "log_scale", "make_filterbank", "micro_features", "micro_features_batch",
    "micro_features_numba", "msb32", "noise_reduction", "pcan", "pcan_gain_lut", "pcan_shifts",
    "spectrum", "sqrt64", "to_float_model_input", "to_int8_model_input", "window_coefficients"]
