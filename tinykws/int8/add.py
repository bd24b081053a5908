"""Int8 ADD, as TFLM's ``reference_integer_ops::Add`` / ``BroadcastAdd``: two scales made one.

The inputs have scales of their own, so they cannot be summed as they are.
TFLM's ``CalculateOpDataAdd`` (``micro/kernels/add_common.cc``) brings both to
a common fixed-point scale ``2 * max(s1, s2) / 2**20``, sums there, and
rescales to the output (all in double from the float32 scales)::

    left_shift = 20
    twice_max  = 2 * max(s1, s2)
    input1_multiplier, input1_shift = QuantizeMultiplierSmallerThanOneExp(s1 / twice_max)
    input2_multiplier, input2_shift = QuantizeMultiplierSmallerThanOneExp(s2 / twice_max)
    output_multiplier, output_shift = QuantizeMultiplierSmallerThanOneExp(
                                          twice_max / (2**20 * s_out))

``SmallerThanOneExp`` is :func:`quantize_multiplier` that insists on a factor in
(0, 1), so every shift is <= 0 (TFLite aborts otherwise; we raise). Then per
element (``AddFunc`` in ``reference/integer_ops/add.h``)::

    v1     = (x1 + input1_offset) * 2**20        v2 likewise     (offset = -zero_point)
    scaled = MultiplyByQuantizedMultiplierSmallerThanOneExp(v, multiplier, shift)
    raw    = MultiplyByQuantizedMultiplierSmallerThanOneExp(scaled1 + scaled2,
                                                            output_multiplier, output_shift)
    out    = clamp(raw + output_offset, quantized_activation_min, quantized_activation_max)

In the double-rounding build (how the tflite-micro package is compiled),
``MultiplyByQuantizedMultiplierSmallerThanOneExp(x, m, s)`` is
``RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x, m), -s)``, which for
``s <= 0`` is exactly :func:`multiply_by_quantized_multiplier`; the 2**20 head
room keeps the two roundings of the inputs far below one output step.

Shapes broadcast as NumPy's (TFLM's ``BroadcastAdd`` repeats size-1 axes the same
way). :class:`AddParams`, :func:`prepare` and the reference :func:`add`, with the
Numba twin :func:`kernels.int8_add.add`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinykws.int8 import kernel_util
from tinykws.int8.quantize_multiplier import (
    activation_range, multiply_by_quantized_multiplier, quantize_multiplier)
from tinykws.tflite.model import Graph, Operator

LEFT_SHIFT = 20  # int8; TFLM uses 15 for int16


def quantize_multiplier_smaller_than_one_exp(real_multiplier: float) -> tuple[int, int]:
    """``QuantizeMultiplierSmallerThanOneExp``: :func:`quantize_multiplier` of a factor in (0, 1)."""
    if not 0.0 < real_multiplier < 1.0:
        raise ValueError(f"ADD needs rescaling factors in (0, 1), got {real_multiplier} "
                         "(output scale too small for the inputs')")
    multiplier, shift = quantize_multiplier(real_multiplier)
    if shift > 0:  # (cannot happen below 1, but TFLite checks it)
        raise ValueError(f"ADD rescaling factor {real_multiplier} has shift {shift} > 0")
    return multiplier, shift


@dataclass(frozen=True)
class AddParams:
    """The int8 fields of TFLM's ``ArithmeticParams`` for ADD."""

    left_shift: int
    input1_offset: int  # -input1 zero point
    input1_multiplier: int
    input1_shift: int
    input2_offset: int
    input2_multiplier: int
    input2_shift: int
    output_offset: int  # output zero point
    output_multiplier: int
    output_shift: int
    quantized_activation_min: int
    quantized_activation_max: int


def prepare(graph: Graph, op: Operator) -> AddParams:
    """:class:`AddParams` of an int8 ADD, as TFLM's ``CalculateOpDataAdd``."""
    kernel_util.require_int8(graph, op, (op.inputs[0], op.inputs[1], op.outputs[0]))
    shapes = [graph.tensors[i].shape for i in (op.inputs[0], op.inputs[1], op.outputs[0])]
    try:
        broadcast = np.broadcast_shapes(shapes[0], shapes[1])
    except ValueError:
        broadcast = None
    if broadcast != tuple(shapes[2]):
        raise ValueError(f"inputs {shapes[0]} and {shapes[1]} do not broadcast to the "
                         f"output {shapes[2]}")
    s1, zp1 = kernel_util.single_quantization(graph, op.inputs[0])
    s2, zp2 = kernel_util.single_quantization(graph, op.inputs[1])
    s_out, zp_out = kernel_util.single_quantization(graph, op.outputs[0])
    # The max is taken of the float32 scales, the rest in double.
    twice_max = 2 * float(max(np.float32(s1), np.float32(s2)))
    m1, shift1 = quantize_multiplier_smaller_than_one_exp(float(np.float32(s1)) / twice_max)
    m2, shift2 = quantize_multiplier_smaller_than_one_exp(float(np.float32(s2)) / twice_max)
    m_out, shift_out = quantize_multiplier_smaller_than_one_exp(
        twice_max / ((1 << LEFT_SHIFT) * float(np.float32(s_out))))
    act_min, act_max = activation_range(op.options.get("activation", "NONE"), s_out, zp_out)
    return AddParams(LEFT_SHIFT, -zp1, m1, shift1, -zp2, m2, shift2, zp_out, m_out, shift_out,
                     act_min, act_max)


def add(input1_data: np.ndarray, input2_data: np.ndarray, left_shift: int, input1_offset: int,
        input1_multiplier: int, input1_shift: int, input2_offset: int, input2_multiplier: int,
        input2_shift: int, output_offset: int, output_multiplier: int, output_shift: int,
        quantized_activation_min: int, quantized_activation_max: int) -> np.ndarray:
    """Int8 ``input1 + input2`` with three rescalings; int8 of the broadcast shape."""
    v1 = (input1_data.astype(np.int64) + input1_offset) << left_shift  # |v| < 2**28
    v2 = (input2_data.astype(np.int64) + input2_offset) << left_shift
    scaled1 = multiply_by_quantized_multiplier(v1, input1_multiplier, input1_shift)
    scaled2 = multiply_by_quantized_multiplier(v2, input2_multiplier, input2_shift)
    raw = multiply_by_quantized_multiplier(scaled1 + scaled2, output_multiplier, output_shift)
    return np.clip(raw + output_offset, quantized_activation_min,
                   quantized_activation_max).astype(np.int8)
