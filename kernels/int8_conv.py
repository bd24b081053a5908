"""Numba kernel of per-channel int8 CONV_2D; the same bits as :mod:`tinykws.int8.conv`.

Names and arguments are those of the reference, :func:`tinykws.int8.conv.conv_per_channel`
(the fields of TFLM's ``ConvParams``: input_offset, output_multiplier,
output_shift, quantized_activation_min/max, ...); the recipe per
output is the same: int32 accumulator of ``filter * (input + input_offset)``
over the taps inside the image, plus bias, ``MultiplyByQuantizedMultiplier``,
plus output_offset, clamp.

One change of loop order, for speed: TFLM loops out_channel outside the taps;
here the taps are outside and out_channel is innermost, so each input value is
read once and multiplied into all channel accumulators (a loop the compiler
vectorises; TinyConv's first layer has one input channel and eight outputs).
Integer addition is associative and the accumulator is int32 as in TFLM, so
the sums, and therefore the outputs, are identical bit for bit. Taps outside
the image are skipped by clipping the filter ranges instead of testing each tap.

The runtime normally uses the faster, equally exact integer GEMM over stride
phases of :mod:`kernels.int8_conv_phases`; this loop kernel is its
cross-check (``Int8Runtime(gemm=False)``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from kernels.int8_quantize import multiply_by_quantized_multiplier


@njit(cache=True, inline="always")
def _first_inside(origin, dilation):
    """Smallest filter index k with origin + dilation * k >= 0."""
    return max(0, -(origin // dilation))


@njit(cache=True, inline="always")
def _end_inside(origin, dilation, size, filter_size):
    """One past the largest filter index k with origin + dilation * k < size."""
    return min(filter_size, (size - origin + dilation - 1) // dilation)


@njit(cache=True)
def conv_per_channel(input_data, filter_data, bias_data, padding_values, stride_width,
                     stride_height, dilation_width_factor, dilation_height_factor, input_offset,
                     output_offset, output_multiplier, output_shift, quantized_activation_min,
                     quantized_activation_max, output_height, output_width):
    """input_data : (N, H, W, C_in) int8; filter_data : (C_out, KH, KW, C_in) int8;
    bias_data : (C_out,) int32 (zeros if the model has none); output_multiplier,
    output_shift : (C_out,) int32. Returns (N, output_height, output_width, C_out) int8.
    """
    batches, input_height, input_width, input_depth = input_data.shape
    output_depth, filter_height, filter_width, _ = filter_data.shape
    pad_height, pad_width = padding_values.height, padding_values.width
    # filters: (KH, KW, C_in, C_out) int32, so the channel loop reads contiguous memory.
    filters = np.empty((filter_height, filter_width, input_depth, output_depth), np.int32)
    for out_channel in range(output_depth):
        for filter_y in range(filter_height):
            for filter_x in range(filter_width):
                for in_channel in range(input_depth):
                    filters[filter_y, filter_x, in_channel, out_channel] = \
                        filter_data[out_channel, filter_y, filter_x, in_channel]
    offset = np.int32(input_offset)
    acc = np.empty(output_depth, np.int32)  # (C_out,) int32 accumulators, as in TFLM
    out = np.empty((batches, output_height, output_width, output_depth), np.int8)
    for batch in range(batches):
        for out_y in range(output_height):
            in_y_origin = out_y * stride_height - pad_height
            fy_start = _first_inside(in_y_origin, dilation_height_factor)
            fy_end = _end_inside(in_y_origin, dilation_height_factor, input_height,
                                 filter_height)
            for out_x in range(output_width):
                in_x_origin = out_x * stride_width - pad_width
                fx_start = _first_inside(in_x_origin, dilation_width_factor)
                fx_end = _end_inside(in_x_origin, dilation_width_factor, input_width,
                                     filter_width)
                for out_channel in range(output_depth):
                    acc[out_channel] = bias_data[out_channel]
                for filter_y in range(fy_start, fy_end):
                    in_y = in_y_origin + dilation_height_factor * filter_y
                    for filter_x in range(fx_start, fx_end):
                        in_x = in_x_origin + dilation_width_factor * filter_x
                        for in_channel in range(input_depth):
                            input_val = np.int32(input_data[batch, in_y, in_x, in_channel])
                            shifted = input_val + offset
                            for out_channel in range(output_depth):
                                acc[out_channel] += (
                                    filters[filter_y, filter_x, in_channel, out_channel] * shifted)
                for out_channel in range(output_depth):
                    scaled = multiply_by_quantized_multiplier(
                        np.int64(acc[out_channel]), np.int64(output_multiplier[out_channel]),
                        np.int64(output_shift[out_channel]))
                    scaled += output_offset
                    scaled = max(scaled, quantized_activation_min)
                    scaled = min(scaled, quantized_activation_max)
                    out[batch, out_y, out_x, out_channel] = scaled
    return out
