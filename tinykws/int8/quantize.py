"""QUANTIZE, DEQUANTIZE and int8 -> int8 requantize, as TFLM's reference kernels.

- float -> int8 (``reference_ops::AffineQuantize``, ``reference/quantize.h``):
  ``q = clamp(round(x / scale) + zero_point)``, the division done in *float32*
  (``val / static_cast<float>(scale)``) and ``round`` half away from zero.
- int8 -> float (``reference_ops::Dequantize``): ``x = float(scale * (q - zp))``
  with the scale widened to double and the product rounded once to float32.
- int8 -> int8 (``reference_ops::Requantize``, what QUANTIZE does when input
  and output are both int8): ``q' = clamp(MultiplyByQuantizedMultiplier(q - zp_in,
  M, shift) + zp_out)`` with ``(M, shift) = QuantizeMultiplier(double(s_in) / double(s_out))``.

TFLM's QUANTIZE Eval picks AffineQuantize or Requantize by the input's type;
so do :func:`prepare` and :func:`prepare_requantize` here. Each of the three
has its params dataclass (TFLM's ``QuantizationParams``, the requantize
fields of ``OpDataQuantizeReference``, ``DequantizationParams``), a NumPy
reference and a Numba twin in :mod:`kernels.int8_quantize` with the same name
and arguments.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinykws.errors import TinyKWSError
from tinykws.int8 import kernel_util
from tinykws.int8.quantize_multiplier import multiply_by_quantized_multiplier, quantize_multiplier
from tinykws.tflite.model import Graph, Operator


@dataclass(frozen=True)
class QuantizationParams:
    """TFLite's ``QuantizationParams`` of the int8 output of a float QUANTIZE."""

    scale: float  # the file's float32 value
    zero_point: int


@dataclass(frozen=True)
class RequantizeParams:
    """The int8 -> int8 fields of TFLM's quantize ``OpData``."""

    input_zero_point: int
    output_zero_point: int
    effective_scale_multiplier: int
    effective_scale_shift: int


@dataclass(frozen=True)
class DequantizationParams:
    """TFLite's ``DequantizationParams`` of an int8 DEQUANTIZE input."""

    scale: float  # the file's float32 value, widened to double
    zero_point: int


def prepare(graph: Graph, op: Operator) -> QuantizationParams:
    """A QUANTIZE from float32 (TFLM's ``PrepareQuantizeReference``)."""
    kernel_util.check_same_size(graph, op)
    in_dtype = graph.tensors[op.inputs[0]].dtype
    scale, zero_point = kernel_util.single_quantization(graph, op.outputs[0])
    kernel_util.require_int8(graph, op, (op.outputs[0],))
    if in_dtype != "float32":
        raise TinyKWSError(f"QUANTIZE from {in_dtype} is not supported")
    return QuantizationParams(scale, zero_point)


def prepare_requantize(graph: Graph, op: Operator) -> RequantizeParams:
    """A QUANTIZE from int8 to int8: a new scale and zero point."""
    kernel_util.check_same_size(graph, op)
    out_scale, out_zp = kernel_util.single_quantization(graph, op.outputs[0])
    kernel_util.require_int8(graph, op, (op.outputs[0],))
    in_scale, in_zp = kernel_util.single_quantization(graph, op.inputs[0])
    return RequantizeParams(in_zp, out_zp, *requantize_params(in_scale, out_scale))


def prepare_dequantize(graph: Graph, op: Operator) -> DequantizationParams:
    """A DEQUANTIZE of an int8 tensor."""
    kernel_util.require_int8(graph, op, (op.inputs[0],))
    kernel_util.check_same_size(graph, op)
    scale, zero_point = kernel_util.single_quantization(graph, op.inputs[0])
    return DequantizationParams(float(np.float32(scale)), zero_point)


def affine_quantize(input_data: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """float32 -> int8. input_data : any shape float32; returns the same shape int8."""
    ratio = input_data.astype(np.float32) / np.float32(scale)  # float32 division, as TFLM
    # np.round rounds half to even; TfLiteRound (std::round) rounds half away
    # from zero. Adding 0.5 in float64 is exact for every float32 value.
    wide = ratio.astype(np.float64)
    rounded = np.sign(wide) * np.floor(np.abs(wide) + 0.5)
    rounded = np.clip(rounded, -2.0 ** 31, 2.0 ** 31 - 1)  # before the int cast
    q = rounded.astype(np.int64) + zero_point
    return np.clip(q, -128, 127).astype(np.int8)


def dequantize(input_data: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """int8 -> float32: ``float(double(scale) * (q - zero_point))``. Same shape."""
    return (float(np.float32(scale)) * (input_data.astype(np.float64) - zero_point)
            ).astype(np.float32)


def requantize_params(input_scale: float, output_scale: float) -> tuple[int, int]:
    """(multiplier, shift) of an int8 -> int8 QUANTIZE (``quantize_common.cc``)."""
    return quantize_multiplier(float(np.float32(input_scale)) / float(np.float32(output_scale)))


def requantize(input_data: np.ndarray, input_zero_point: int, output_zero_point: int,
               effective_scale_multiplier: int, effective_scale_shift: int) -> np.ndarray:
    """int8 -> int8 with a new scale and zero point. Same shape, int8."""
    acc = multiply_by_quantized_multiplier(input_data.astype(np.int64) - input_zero_point,
                                           effective_scale_multiplier, effective_scale_shift)
    return np.clip(acc + output_zero_point, -128, 127).astype(np.int8)
