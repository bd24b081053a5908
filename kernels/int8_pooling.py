"""Numba kernels of int8 AVERAGE_POOL_2D and MAX_POOL_2D; bit-identical to the NumPy references.

The references are :func:`tinykws.int8.pooling.average_pool` and
:func:`tinykws.int8.pooling.max_pool`: the same names and arguments (the
fields of TFLM's ``PoolParams``). The clipped window and the names follow
TFLM's ``reference_integer_ops::AveragePool`` / ``MaxPool``; the loop order
does not: TFLM runs batch, out_y, out_x, channel, then the window's taps,
which in NHWC reads every tap ``C`` values apart. Here the taps are outer and
the channels inner, reducing into a row of ``C`` int32 accumulators with
unit-stride reads (a sum and a max do not depend on the order), then the
rounding division and the clamp per channel. The two share that loop nest
(:func:`_pool`) and differ in the reduction only.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def _window(out_origin, filter_size, input_size):
    """``(filter_start, filter_end)``: the window's taps inside the image along one axis."""
    return max(0, -out_origin), min(filter_size, input_size - out_origin)


@njit(cache=True)
def _pool(input_data, average, stride_height, stride_width, filter_height, filter_width,
          padding_values, quantized_activation_min, quantized_activation_max, output_height,
          output_width):
    """Both poolings: one loop nest, the window's reduction chosen by ``average``."""
    batches, input_height, input_width, depth = input_data.shape
    out = np.empty((batches, output_height, output_width, depth), np.int8)
    acc = np.empty(depth, np.int32)  # (C,) one output pixel's sums or maxima
    for batch in range(batches):
        for out_y in range(output_height):
            in_y_origin = out_y * stride_height - padding_values.height
            filter_y_start, filter_y_end = _window(in_y_origin, filter_height, input_height)
            for out_x in range(output_width):
                in_x_origin = out_x * stride_width - padding_values.width
                filter_x_start, filter_x_end = _window(in_x_origin, filter_width, input_width)
                filter_count = (filter_y_end - filter_y_start) * (filter_x_end - filter_x_start)
                half = filter_count // 2
                # average: the int32 sums; max: from std::numeric_limits<int8_t>::lowest()
                acc[:] = 0 if average else -128
                for filter_y in range(filter_y_start, filter_y_end):
                    for filter_x in range(filter_x_start, filter_x_end):
                        pixel = input_data[batch, in_y_origin + filter_y, in_x_origin + filter_x]
                        if average:  # two loops, so each is a plain vector loop
                            for channel in range(depth):
                                acc[channel] += np.int32(pixel[channel])
                        else:
                            for channel in range(depth):
                                acc[channel] = max(acc[channel], np.int32(pixel[channel]))
                for channel in range(depth):
                    total = acc[channel]
                    if average:  # round to the closest integer, C division (toward zero)
                        if total > 0:
                            total = (total + half) // filter_count
                        else:
                            total = -((half - total) // filter_count)
                    total = max(total, quantized_activation_min)
                    total = min(total, quantized_activation_max)
                    out[batch, out_y, out_x, channel] = total
    return out


def average_pool(input_data, **params):
    """input_data : (N, H, W, C) int8; ``params`` the fields of ``PoolParams``. Returns int8."""
    return _pool(input_data, True, **params)


def max_pool(input_data, **params):
    """input_data : (N, H, W, C) int8; ``params`` the fields of ``PoolParams``. Returns int8."""
    return _pool(input_data, False, **params)
