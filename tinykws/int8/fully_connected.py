"""Int8 FULLY_CONNECTED, per-tensor and per-channel, as TFLM's reference kernels.

``reference_integer_ops::FullyConnected`` (per-tensor weights) and
``FullyConnectedPerChannel`` (``reference/integer_ops/fully_connected.h``),
for every batch row ``b`` and output ``out_c``::

    acc  = sum_d (filter[out_c, d] + weights_offset) * (input[b, d] + input_offset)
    acc += bias[out_c]
    acc  = MultiplyByQuantizedMultiplier(acc, multiplier, shift)   # per out_c if per-channel
    out  = clamp(acc + output_offset, quantized_activation_min, quantized_activation_max)

``weights_offset = -filter_zero_point`` is 0 for the symmetric weights TFLite
makes (the per-channel kernel has no weights offset at all). The per-tensor
multiplier comes from :func:`~tinykws.int8.quantize_multiplier.fc_per_tensor_multiplier`,
the per-channel ones from :func:`~tinykws.int8.quantize_multiplier.conv_output_multipliers`
(both ``input_scale * weight_scale / output_scale`` in double).

Layout as every op of :mod:`tinykws.int8.runtime`: :class:`FullyConnectedParams`
made by :func:`prepare`, the reference :func:`fully_connected` and its Numba
twin :func:`kernels.int8_fully_connected.fully_connected` with the same arguments.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinykws.int8 import kernel_util
from tinykws.int8.quantize_multiplier import (
    activation_range, conv_output_multipliers, fc_per_tensor_multiplier, output_stage)
from tinykws.tflite.model import Graph, Operator


@dataclass(frozen=True, eq=False)
class FullyConnectedParams:
    """TFLM's ``FullyConnectedParams`` plus the constant tensors the kernel reads."""

    filter_data: np.ndarray  # (C_out, D) int8
    bias_data: np.ndarray  # (C_out,) int32, zeros if the model has none
    input_offset: int  # -input_zero_point
    weights_offset: int  # -filter_zero_point: 0 when per-channel
    output_offset: int  # output_zero_point
    output_multiplier: np.ndarray  # (1,) per tensor or (C_out,) per channel, int32
    output_shift: np.ndarray  # the same shape, int32
    quantized_activation_min: int
    quantized_activation_max: int


def prepare(graph: Graph, op: Operator) -> FullyConnectedParams:
    """:class:`FullyConnectedParams`, as TFLM's ``CalculateOpDataFullyConnected``."""
    out_index = op.outputs[0]
    kernel_util.require_int8(graph, op, (op.inputs[0], op.inputs[1], out_index))
    in_t, w_t, out_t = (graph.tensors[op.inputs[0]], graph.tensors[op.inputs[1]],
                        graph.tensors[out_index])
    in_scale, in_zp = kernel_util.single_quantization(graph, op.inputs[0])
    out_scale, out_zp = kernel_util.single_quantization(graph, out_index)
    filters = graph.constant(op.inputs[1])
    in_size = int(np.prod(in_t.shape))
    if filters.ndim != 2 or in_size % filters.shape[1] or out_t.shape[-1] != filters.shape[0]:
        raise ValueError(f"weights {filters.shape} do not fit input {in_t.shape} "
                         f"and output {out_t.shape}")
    if len(w_t.scale) not in (1, filters.shape[0]):
        raise ValueError(f"weights have {len(w_t.scale)} scales for "
                         f"{filters.shape[0]} outputs")
    if w_t.is_per_channel:
        multiplier, shift = conv_output_multipliers(in_scale, w_t.scale, out_scale,
                                                    filters.shape[0])
        weights_offset = 0  # the per-channel kernel has no weights offset
    else:
        m, s = fc_per_tensor_multiplier(in_scale, w_t.scale[0], out_scale)
        multiplier, shift = np.array([m], np.int32), np.array([s], np.int32)
        weights_offset = -w_t.zero_point[0]
    act_min, act_max = activation_range(op.options.get("activation", "NONE"), out_scale, out_zp)
    return FullyConnectedParams(filters, kernel_util.bias_or_zeros(graph, op, filters.shape[0]),
                                -in_zp, weights_offset, out_zp, multiplier, shift,
                                act_min, act_max)


def fully_connected(input_data: np.ndarray, filter_data: np.ndarray,
                    bias_data: np.ndarray | None, input_offset: int, weights_offset: int,
                    output_offset: int, output_multiplier, output_shift,
                    quantized_activation_min: int, quantized_activation_max: int) -> np.ndarray:
    """Int8 dense layer.

    input_data : (N, D) int8 (any shape whose size is a multiple of D is read
    as rows of D, as TFLM does); filter_data : (C_out, D) int8; bias_data :
    (C_out,) int32 or None; output_multiplier, output_shift : (1,) per tensor
    or (C_out,) per channel. Returns (rows, C_out) int8.
    """
    rows = input_data.reshape(-1, filter_data.shape[1]).astype(np.int64) + input_offset
    # rows: (N, D) int64; acc: (N, C_out), int32 in TFLM (see output_stage)
    acc = rows @ (filter_data.astype(np.int64) + weights_offset).T
    return output_stage(acc, bias_data, output_multiplier, output_shift, output_offset,
                        quantized_activation_min, quantized_activation_max)
