"""Numba kernel of per-channel int8 DEPTHWISE_CONV_2D; bit-identical to the NumPy reference.

The reference is :func:`tinykws.int8.depthwise_conv.depthwise_conv_per_channel`: the same
name and arguments (the fields of TFLM's ``DepthwiseParams``). The accumulator is
int32, as TFLM's (see :func:`tinykws.int8.quantize_multiplier.output_stage`).

Names follow TFLM's ``reference_integer_ops::DepthwiseConvPerChannel``; the loop
order does not. TFLM runs batch, out_y, out_x, in_channel, m
(``output_channel = m + in_channel * depth_multiplier``), then filter_y, filter_x:
nine multiply-adds per channel, too few to vectorise. Here the taps are the
outer loops and the channels the inner one: every tap adds
``filter[0, fy, fx, :] * (input[b, in_y, in_x, :] + input_offset)`` to an int32
accumulator row of all ``C_out`` channels, one unit-stride multiply-add in NHWC.
The int32 sums are the same numbers in another order (integer addition is
associative, wrapping or not), so the output is bit-identical; the output stage
then runs per channel in TFLM's order.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from kernels.int8_quantize import multiply_by_quantized_multiplier


@njit(cache=True)
def depthwise_conv_per_channel(input_data, filter_data, bias_data, padding_values, stride_width,
                               stride_height, dilation_width_factor, dilation_height_factor,
                               depth_multiplier, input_offset, output_offset, output_multiplier,
                               output_shift, quantized_activation_min, quantized_activation_max,
                               output_height, output_width):
    """input_data : (N, H, W, C_in) int8; filter_data : (1, KH, KW, C_in * depth_multiplier)
    int8; bias_data : (C_out,) int32; output_multiplier, output_shift : (C_out,) int32.
    Returns (N, output_height, output_width, C_out) int8.
    """
    batches, input_height, input_width, input_depth = input_data.shape
    _, filter_height, filter_width, output_depth = filter_data.shape
    pad_height, pad_width = padding_values.height, padding_values.width
    out = np.empty((batches, output_height, output_width, output_depth), np.int8)
    acc = np.empty(output_depth, np.int32)  # int32, as TFLM
    shifted = np.empty(input_depth, np.int32)  # input + input_offset at one pixel
    for batch in range(batches):
        for out_y in range(output_height):
            for out_x in range(output_width):
                in_x_origin = out_x * stride_width - pad_width
                in_y_origin = out_y * stride_height - pad_height
                acc[:] = 0
                for filter_y in range(filter_height):
                    in_y = in_y_origin + dilation_height_factor * filter_y
                    if in_y < 0 or in_y >= input_height:
                        continue  # TFLM skips taps outside the image
                    for filter_x in range(filter_width):
                        in_x = in_x_origin + dilation_width_factor * filter_x
                        if in_x < 0 or in_x >= input_width:
                            continue
                        for in_channel in range(input_depth):
                            shifted[in_channel] = np.int32(
                                input_data[batch, in_y, in_x, in_channel]) + input_offset
                        if depth_multiplier == 1:
                            for output_channel in range(output_depth):
                                acc[output_channel] += np.int32(
                                    filter_data[0, filter_y, filter_x, output_channel]
                                ) * shifted[output_channel]
                        else:
                            for in_channel in range(input_depth):
                                for m in range(depth_multiplier):
                                    output_channel = m + in_channel * depth_multiplier
                                    acc[output_channel] += np.int32(
                                        filter_data[0, filter_y, filter_x, output_channel]
                                    ) * shifted[in_channel]
                for output_channel in range(output_depth):
                    total = np.int32(acc[output_channel] + bias_data[output_channel])
                    scaled = multiply_by_quantized_multiplier(
                        np.int64(total), np.int64(output_multiplier[output_channel]),
                        np.int64(output_shift[output_channel]))
                    scaled += output_offset
                    scaled = max(scaled, quantized_activation_min)
                    scaled = min(scaled, quantized_activation_max)
                    out[batch, out_y, out_x, output_channel] = scaled
    return out
