"""Per-channel int8 CONV_2D, as TFLM's ``reference_integer_ops::ConvPerChannel``.

The integer recipe (``reference/integer_ops/conv.h``), for every output
position and output channel::

    acc  = sum over (filter_y, filter_x, in_channel) inside the image of
           filter[out_c, fy, fx, ic] * (input[b, in_y, in_x, ic] + input_offset)
    acc += bias[out_c]
    acc  = MultiplyByQuantizedMultiplier(acc, output_multiplier[out_c], output_shift[out_c])
    acc += output_offset
    out  = clamp(acc, quantized_activation_min, quantized_activation_max)

with ``input_offset = -input_zero_point`` and ``output_offset =
output_zero_point``. Taps falling in the padding are *skipped*, which is the
same as padding ``input + input_offset`` with zeros (what this vectorised
reference does). Weights are symmetric (zero point 0). Padding and output
size are TFLite's ``ComputePaddingHeightWidth`` (:mod:`tinykws.padding`).

The op, as every op of :mod:`tinykws.int8.runtime`:

- :class:`ConvParams`, TFLM's ``ConvParams`` plus the constant tensors the
  kernel reads, worked out once by :func:`prepare`;
- :func:`conv_per_channel`, the NumPy reference, and
  :func:`kernels.int8_conv.conv_per_channel`, the Numba kernel: the same
  name, the same arguments (the fields of :class:`ConvParams`), the same bits;
- :func:`gemm`, the runtime's fast path: the same sums as an integer GEMM over
  the stride phases of the input (:mod:`kernels.int8_conv_phases`), or for a
  1x1 stride-1 layer over the pixels, two input channels per ``vpmaddwd``
  (:mod:`kernels.int8_pointwise_pairs`); exact for any weights and
  independent of the BLAS. (:mod:`kernels.int8_conv_gemm` is
  the same GEMM in floating point through BLAS, exact while the partial sums
  stay below 2**24 or 2**53; the runtime no longer takes it.)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np

from kernels import int8_conv_pairs, int8_pointwise_pairs
from kernels.stride_phases import phase_shape
from tinykws.int8 import kernel_util
from tinykws.int8.quantize_multiplier import (
    activation_range, conv_output_multipliers, output_stage)
from tinykws.padding import PaddingValues, compute_padding_height_width
from tinykws.tflite.model import Graph, Operator


@dataclass(frozen=True, eq=False)
class ConvParams:
    """TFLM's ``ConvParams`` (``kernels/internal/types.h``) for the per-channel kernel.

    TFLM also carries ``weights_offset``, which ``ConvPerChannel`` ignores:
    int8 weights are symmetric. ``output_height`` / ``output_width`` are the
    output tensor's, which TFLM reads from its shape.
    """

    filter_data: np.ndarray  # (C_out, KH, KW, C_in) int8
    bias_data: np.ndarray  # (C_out,) int32, zeros if the model has none
    padding_values: PaddingValues
    stride_width: int
    stride_height: int
    dilation_width_factor: int
    dilation_height_factor: int
    input_offset: int  # -input_zero_point
    output_offset: int  # output_zero_point
    output_multiplier: np.ndarray  # (C_out,) int32, one per output channel
    output_shift: np.ndarray  # (C_out,) int32
    quantized_activation_min: int
    quantized_activation_max: int
    output_height: int
    output_width: int


def conv_fields(graph: Graph, op: Operator) -> dict:
    """The fields CONV_2D and DEPTHWISE_CONV_2D prepare alike (TFLM's conv / depthwise Prepare).

    Checks the shape rules TFLM's Prepare enforces (ValueError), then works
    out padding, per-channel multipliers and the activation range.
    """
    kernel_util.require_int8(graph, op, (op.inputs[0], op.inputs[1], op.outputs[0]))
    in_t, w_t, out_t = (graph.tensors[op.inputs[0]], graph.tensors[op.inputs[1]],
                        graph.tensors[op.outputs[0]])
    if len(in_t.shape) != 4 or len(w_t.shape) != 4 or len(out_t.shape) != 4:
        raise ValueError(f"needs 4-D input, weights and output, got {in_t.shape}, "
                         f"{w_t.shape}, {out_t.shape}")
    o = op.options
    if op.op == "CONV_2D":
        channels_ok = w_t.shape[3] == in_t.shape[3] and w_t.shape[0] == out_t.shape[3]
    else:
        channels_ok = (w_t.shape[0] == 1 and w_t.shape[3] == out_t.shape[3]
                       == in_t.shape[3] * o["depth_multiplier"])
    padding_values, out_h, out_w = compute_padding_height_width(
        o["padding"], o["stride_h"], o["stride_w"], o["dilation_h"], o["dilation_w"],
        in_t.shape[1], in_t.shape[2], w_t.shape[1], w_t.shape[2])
    channels = out_t.shape[3]
    if len(w_t.scale) not in (1, channels):
        raise ValueError(f"weights have {len(w_t.scale)} scales for {channels} channels")
    if not channels_ok or tuple(out_t.shape[1:3]) != (out_h, out_w):
        raise ValueError(f"input {in_t.shape}, weights {w_t.shape} and output {out_t.shape} "
                         f"do not fit (expected output size {(out_h, out_w)})")
    in_scale, in_zp = kernel_util.single_quantization(graph, op.inputs[0])
    out_scale, out_zp = kernel_util.single_quantization(graph, op.outputs[0])
    multiplier, shift = conv_output_multipliers(in_scale, w_t.scale, out_scale, channels)
    act_min, act_max = activation_range(o["activation"], out_scale, out_zp)
    return dict(bias_data=kernel_util.bias_or_zeros(graph, op, channels),
                padding_values=padding_values, stride_width=o["stride_w"],
                stride_height=o["stride_h"], dilation_width_factor=o["dilation_w"],
                dilation_height_factor=o["dilation_h"], input_offset=-in_zp,
                output_offset=out_zp, output_multiplier=multiplier, output_shift=shift,
                quantized_activation_min=act_min, quantized_activation_max=act_max,
                output_height=out_h, output_width=out_w)


def prepare(graph: Graph, op: Operator) -> ConvParams:
    """:class:`ConvParams` of a CONV_2D, as TFLM's ``ConvPrepare`` computes them."""
    return ConvParams(filter_data=graph.constant(op.inputs[1]), **conv_fields(graph, op))


def conv_per_channel(input_data: np.ndarray, filter_data: np.ndarray,
                     bias_data: np.ndarray | None, padding_values: PaddingValues,
                     stride_width: int, stride_height: int, dilation_width_factor: int,
                     dilation_height_factor: int, input_offset: int, output_offset: int,
                     output_multiplier: np.ndarray, output_shift: np.ndarray,
                     quantized_activation_min: int, quantized_activation_max: int,
                     output_height: int, output_width: int) -> np.ndarray:
    """Int8 convolution with one (multiplier, shift) per output channel.

    input_data : (N, H, W, C_in) int8; filter_data : (C_out, KH, KW, C_in) int8;
    bias_data : (C_out,) int32 or None; output_multiplier, output_shift :
    (C_out,) int32 (:func:`~tinykws.int8.quantize_multiplier.conv_output_multipliers`).
    Returns (N, output_height, output_width, C_out) int8.
    """
    _, kh, kw, _ = filter_data.shape
    p = padding_values
    # padded: (N, H + 2 * height + height_offset, W + ..., C_in) int64; its border
    # holds 0 == input_zero_point + input_offset, TFLM's skipped taps.
    padded = np.pad(input_data.astype(np.int64) + input_offset,
                    ((0, 0), (p.height, p.height + p.height_offset),
                     (p.width, p.width + p.width_offset), (0, 0)))
    w64 = filter_data.astype(np.int64)  # (C_out, KH, KW, C_in) int64
    acc = np.zeros(padded.shape[:1] + (output_height, output_width, filter_data.shape[0]),
                   np.int64)  # int32 in TFLM: see output_stage for why int64 gives its bits
    for fy in range(kh):
        for fx in range(kw):
            y0, x0 = fy * dilation_height_factor, fx * dilation_width_factor
            patch = padded[:, y0:y0 + (output_height - 1) * stride_height + 1:stride_height,
                           x0:x0 + (output_width - 1) * stride_width + 1:stride_width, :]
            acc += patch @ w64[:, fy, fx, :].T  # patch: (N, oh, ow, C_in)
    return output_stage(acc, bias_data, output_multiplier, output_shift, output_offset,
                        quantized_activation_min, quantized_activation_max)


def gemm(params: ConvParams):
    """The integer GEMM path for ``params``: a function of the input.

    A 1x1 convolution with stride 1 (DS-CNN's pointwise layers) is a matrix
    product over pixels: :func:`kernels.int8_pointwise_pairs.pointwise_conv_per_channel`,
    two input channels per ``vpmaddwd``, weights laid out once here. Any other
    geometry: :func:`kernels.int8_conv_pairs.conv_per_channel`, two taps per
    ``vpmaddwd`` over the stride phases, tap pairs laid out once here. Both use
    int16 inputs and weights and int32 sums: the same bits as
    :func:`conv_per_channel` for every weight tensor.
    """
    p = params
    if p.filter_data.shape[1:3] == (1, 1) and (p.stride_height, p.stride_width) == (1, 1):
        wt = int8_pointwise_pairs.weight_pairs(p.filter_data)
        return partial(int8_pointwise_pairs.pointwise_conv_per_channel, wt=wt,
                       output_depth=p.filter_data.shape[0], bias_data=p.bias_data,
                       input_offset=p.input_offset, output_offset=p.output_offset,
                       output_multiplier=p.output_multiplier, output_shift=p.output_shift,
                       quantized_activation_min=p.quantized_activation_min,
                       quantized_activation_max=p.quantized_activation_max)
    return PairedConv(params)


class PairedConv:
    """CONV_2D through :func:`kernels.int8_conv_pairs.conv_per_channel`: ``run(x) -> y``.

    The tap pairs' offsets depend on the input's height and width (the stride
    phases' width), which ``ConvParams`` does not hold, as TFLM's does not:
    they are laid out at the first call and again only if the size changes.
    """

    def __init__(self, params: ConvParams):
        self.params = params
        self.image_shape = None  # (H, W, C_in) the tables below were laid out for
        self.tables = None

    def __call__(self, input_data: np.ndarray) -> np.ndarray:
        p = self.params
        if input_data.shape[1:] != self.image_shape:
            self.image_shape = input_data.shape[1:]
            self.tables = int8_conv_pairs.prepare_pairs(
                p.filter_data, p.stride_height, p.stride_width, p.dilation_height_factor,
                p.dilation_width_factor,
                phase_shape(*self.image_shape, p.stride_height, p.stride_width,
                            p.padding_values))
        return int8_conv_pairs.conv_per_channel(
            input_data, **self.tables, bias_data=p.bias_data, padding_values=p.padding_values,
            stride_width=p.stride_width, stride_height=p.stride_height,
            input_offset=p.input_offset, output_offset=p.output_offset,
            output_multiplier=p.output_multiplier, output_shift=p.output_shift,
            quantized_activation_min=p.quantized_activation_min,
            quantized_activation_max=p.quantized_activation_max,
            output_height=p.output_height, output_width=p.output_width)
