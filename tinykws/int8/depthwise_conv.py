"""Per-channel int8 DEPTHWISE_CONV_2D, as TFLM's ``reference_integer_ops::DepthwiseConvPerChannel``.

Each input channel ``ic`` is convolved with ``depth_multiplier`` filters of
its own; output channel ``oc = ic * depth_multiplier + m``
(``reference/integer_ops/depthwise_conv.h``)::

    acc  = sum over (filter_y, filter_x) inside the image of
           filter[0, fy, fx, oc] * (input[b, in_y, in_x, ic] + input_offset)
    acc += bias[oc]
    acc  = MultiplyByQuantizedMultiplier(acc, output_multiplier[oc], output_shift[oc])
    out  = clamp(acc + output_offset, quantized_activation_min, quantized_activation_max)

Weights are (1, KH, KW, C_in * depth_multiplier), quantized per output
channel along dimension 3. Padding, output size and the shape checks are
those of :mod:`tinykws.int8.conv`; so is the layout of this module
(:class:`DepthwiseParams`, :func:`prepare`, the reference
:func:`depthwise_conv_per_channel` and its Numba twin
:func:`kernels.int8_depthwise_conv.depthwise_conv_per_channel`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinykws.int8 import conv
from tinykws.int8.quantize_multiplier import output_stage
from tinykws.padding import PaddingValues
from tinykws.tflite.model import Graph, Operator


@dataclass(frozen=True, eq=False)
class DepthwiseParams:
    """TFLM's ``DepthwiseParams`` for the per-channel kernel (as :class:`~.conv.ConvParams`)."""

    filter_data: np.ndarray  # (1, KH, KW, C_out) int8
    bias_data: np.ndarray  # (C_out,) int32
    padding_values: PaddingValues
    stride_width: int
    stride_height: int
    dilation_width_factor: int
    dilation_height_factor: int
    depth_multiplier: int
    input_offset: int
    output_offset: int
    output_multiplier: np.ndarray  # (C_out,) int32
    output_shift: np.ndarray  # (C_out,) int32
    quantized_activation_min: int
    quantized_activation_max: int
    output_height: int
    output_width: int


def prepare(graph: Graph, op: Operator) -> DepthwiseParams:
    """:class:`DepthwiseParams` of a DEPTHWISE_CONV_2D, as TFLM's ``DepthwiseConvPrepare``."""
    return DepthwiseParams(filter_data=graph.constant(op.inputs[1]),
                           depth_multiplier=op.options["depth_multiplier"],
                           **conv.conv_fields(graph, op))


def as_conv(params: DepthwiseParams) -> conv.ConvParams | None:
    """The CONV_2D computing the same sums when there is one input channel, else None.

    With one input channel all ``C_out`` filters read it: a convolution with
    weights (C_out, KH, KW, 1), the (1, KH, KW, C_out) ones transposed. The
    sums are the same, so are the bits, and the convolution kernels are faster.
    """
    if params.depth_multiplier != params.filter_data.shape[3]:
        return None
    fields = {k: v for k, v in vars(params).items() if k != "depth_multiplier"}
    fields["filter_data"] = np.ascontiguousarray(np.transpose(params.filter_data, (3, 1, 2, 0)))
    return conv.ConvParams(**fields)


def gemm(params: DepthwiseParams):
    """The integer GEMM path of :func:`as_conv` (one input channel), or None."""
    as_conv_params = as_conv(params)
    return None if as_conv_params is None else conv.gemm(as_conv_params)


def depthwise_conv_per_channel(input_data: np.ndarray, filter_data: np.ndarray,
                               bias_data: np.ndarray | None, padding_values: PaddingValues,
                               stride_width: int, stride_height: int,
                               dilation_width_factor: int, dilation_height_factor: int,
                               depth_multiplier: int, input_offset: int, output_offset: int,
                               output_multiplier: np.ndarray, output_shift: np.ndarray,
                               quantized_activation_min: int, quantized_activation_max: int,
                               output_height: int, output_width: int) -> np.ndarray:
    """Int8 depthwise convolution with one (multiplier, shift) per output channel.

    input_data : (N, H, W, C_in) int8; filter_data : (1, KH, KW, C_in * depth_multiplier)
    int8; bias_data : (C_out,) int32 or None. Returns (N, output_height, output_width, C_out) int8.
    """
    _, kh, kw, c_out = filter_data.shape
    p = padding_values
    # Repeat each input channel depth_multiplier times so channel oc reads ic = oc // dm;
    # padded: (N, H + 2 * height + height_offset, W + ..., C_out) int64, 0 in the padding
    # (TFLM's skipped taps).
    padded = np.pad(np.repeat(input_data.astype(np.int64) + input_offset, depth_multiplier, axis=3),
                    ((0, 0), (p.height, p.height + p.height_offset),
                     (p.width, p.width + p.width_offset), (0, 0)))
    w64 = filter_data[0].astype(np.int64)  # (KH, KW, C_out) int64
    acc = np.zeros(padded.shape[:1] + (output_height, output_width, c_out), np.int64)
    for fy in range(kh):
        for fx in range(kw):
            y0, x0 = fy * dilation_height_factor, fx * dilation_width_factor
            patch = padded[:, y0:y0 + (output_height - 1) * stride_height + 1:stride_height,
                           x0:x0 + (output_width - 1) * stride_width + 1:stride_width, :]
            acc += patch * w64[fy, fx]  # patch: (N, oh, ow, C_out)
    return output_stage(acc, bias_data, output_multiplier, output_shift, output_offset,
                        quantized_activation_min, quantized_activation_max)
