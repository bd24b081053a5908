"""Numba kernels of int8 AVERAGE_POOL_2D and MAX_POOL_2D; bit-identical to the NumPy references.

The references are :func:`tinykws.int8.pooling.average_pool` and
:func:`tinykws.int8.pooling.max_pool`: the same names and arguments (the
fields of TFLM's ``PoolParams``). Loop order, the clipped window and the
names follow TFLM's ``reference_integer_ops::AveragePool`` / ``MaxPool``:
batch, out_y, out_x, channel, then the taps of the window inside the image.
The two share that loop nest (:func:`_pool`) and differ in the reduction only.
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
    for batch in range(batches):
        for out_y in range(output_height):
            in_y_origin = out_y * stride_height - padding_values.height
            filter_y_start, filter_y_end = _window(in_y_origin, filter_height, input_height)
            for out_x in range(output_width):
                in_x_origin = out_x * stride_width - padding_values.width
                filter_x_start, filter_x_end = _window(in_x_origin, filter_width, input_width)
                filter_count = (filter_y_end - filter_y_start) * (filter_x_end - filter_x_start)
                half = filter_count // 2
                for channel in range(depth):
                    # average: the int32 sum; max: from std::numeric_limits<int8_t>::lowest()
                    acc = 0 if average else -128
                    for filter_y in range(filter_y_start, filter_y_end):
                        for filter_x in range(filter_x_start, filter_x_end):
                            value = np.int32(input_data[batch, in_y_origin + filter_y,
                                                        in_x_origin + filter_x, channel])
                            acc = acc + value if average else max(acc, value)
                    if average:  # round to the closest integer, C division (toward zero)
                        if acc > 0:
                            acc = (acc + half) // filter_count
                        else:
                            acc = -((half - acc) // filter_count)
                    acc = max(acc, quantized_activation_min)
                    acc = min(acc, quantized_activation_max)
                    out[batch, out_y, out_x, channel] = acc
    return out


def average_pool(input_data, **params):
    """input_data : (N, H, W, C) int8; ``params`` the fields of ``PoolParams``. Returns int8."""
    return _pool(input_data, True, **params)


def max_pool(input_data, **params):
    """input_data : (N, H, W, C) int8; ``params`` the fields of ``PoolParams``. Returns int8."""
    return _pool(input_data, False, **params)
