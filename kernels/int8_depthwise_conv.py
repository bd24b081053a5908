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
then runs along the channels of every pixel
(:func:`kernels.int8_pointwise_pairs.output_stage_nhwc`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from kernels.int8_pointwise_pairs import output_stage_nhwc


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
    out = np.empty((batches, output_height * output_width, output_depth), np.int8)
    acc = np.empty((output_height * output_width, output_depth), np.int32)  # int32, as TFLM
    for batch in range(batches):
        acc[:] = 0
        for out_y in range(output_height):
            for out_x in range(output_width):
                in_x_origin = out_x * stride_width - pad_width
                in_y_origin = out_y * stride_height - pad_height
                a = acc[out_y * output_width + out_x]  # (C_out,) this pixel's sums
                for filter_y in range(filter_height):
                    in_y = in_y_origin + dilation_height_factor * filter_y
                    if in_y < 0 or in_y >= input_height:
                        continue  # TFLM skips taps outside the image
                    for filter_x in range(filter_width):
                        in_x = in_x_origin + dilation_width_factor * filter_x
                        if in_x < 0 or in_x >= input_width:
                            continue
                        pixel, taps = input_data[batch, in_y, in_x], filter_data[0, filter_y,
                                                                                 filter_x]
                        if depth_multiplier == 1:
                            for output_channel in range(output_depth):
                                a[output_channel] += np.int32(taps[output_channel]) * (
                                    np.int32(pixel[output_channel]) + input_offset)
                        else:
                            for in_channel in range(input_depth):
                                shifted = np.int32(pixel[in_channel]) + input_offset
                                for m in range(depth_multiplier):
                                    output_channel = m + in_channel * depth_multiplier
                                    a[output_channel] += np.int32(taps[output_channel]) * shifted
        output_stage_nhwc(acc, bias_data, output_multiplier, output_shift, output_offset,
                          quantized_activation_min, quantized_activation_max, out[batch])
    return out.reshape(batches, output_height, output_width, output_depth)
