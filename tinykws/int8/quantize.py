"""QUANTIZE, DEQUANTIZE and int8 -> int8 requantize, as TFLM's reference kernels.

- float -> int8 (``reference_ops::AffineQuantize``, ``reference/quantize.h``):
  ``q = clamp(round(x / scale) + zero_point)``, the division done in *float32*
  (``val / static_cast<float>(scale)``) and ``round`` half away from zero.
- int8 -> float (``reference_ops::Dequantize``): ``x = float(scale * (q - zp))``
  with the scale widened to double and the product rounded once to float32.
- int8 -> int8 (``reference_ops::Requantize``, what QUANTIZE does when input
  and output are both int8): ``q' = clamp(MultiplyByQuantizedMultiplier(q - zp_in,
  M, shift) + zp_out)`` with ``(M, shift) = QuantizeMultiplier(double(s_in) / double(s_out))``.
"""

from __future__ import annotations

import numpy as np

from tinykws.int8.quantize_multiplier import multiply_by_quantized_multiplier, quantize_multiplier


def quantize(x: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """float32 -> int8. x : any shape float32; returns the same shape int8."""
    ratio = x.astype(np.float32) / np.float32(scale)  # float32 division, as TFLM
    # np.round rounds half to even; TfLiteRound (std::round) rounds half away
    # from zero. Adding 0.5 in float64 is exact for every float32 value.
    wide = ratio.astype(np.float64)
    rounded = np.sign(wide) * np.floor(np.abs(wide) + 0.5)
    rounded = np.clip(rounded, -2.0 ** 31, 2.0 ** 31 - 1)  # before the int cast
    q = rounded.astype(np.int64) + zero_point
    return np.clip(q, -128, 127).astype(np.int8)


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """int8 -> float32: ``float(double(scale) * (q - zero_point))``."""
    return (float(np.float32(scale)) * (q.astype(np.float64) - zero_point)).astype(np.float32)


def requantize_params(input_scale: float, output_scale: float) -> tuple[int, int]:
    """(multiplier, shift) of an int8 -> int8 QUANTIZE (``quantize_common.cc``)."""
    return quantize_multiplier(float(np.float32(input_scale)) / float(np.float32(output_scale)))


def requantize(q: np.ndarray, input_zero_point: int, output_zero_point: int,
               multiplier: int, shift: int) -> np.ndarray:
    """int8 -> int8 with a new scale and zero point. Same shape, int8."""
    acc = multiply_by_quantized_multiplier(q.astype(np.int64) - input_zero_point,
                                           multiplier, shift)
    return np.clip(acc + output_zero_point, -128, 127).astype(np.int8)
