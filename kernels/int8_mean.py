"""Numba kernel of int8 MEAN over H and W; bit-identical to :func:`tinykws.int8.mean.mean`.

Same name and arguments (TFLM's ``OpDataReduce`` fields); the loop is
``QuantizedMeanOrSum``'s: sum every channel in int32, fold ``1/n`` into the
multiplier (:func:`tinykws.int8.mean.mean_multiplier`, here inlined), rescale.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from kernels.int8_quantize import multiply_by_quantized_multiplier


@njit(cache=True)
def mean(input_data, input_zp, output_zp, multiplier, shift):
    """input_data : (N, H, W, C) int8. Returns (N, C) int8."""
    batches, height, width, depth = input_data.shape
    num_elements = height * width
    k = 0  # 63 - CountLeadingZeros(num_elements): floor(log2(n))
    while (num_elements >> (k + 1)) != 0:
        k += 1
    k = min(k, 32, 31 + shift)
    scaled_multiplier = (np.int64(multiplier) << k) // num_elements
    scaled_shift = np.int64(shift - k)
    out = np.empty((batches, depth), np.int8)
    for batch in range(batches):
        for channel in range(depth):
            temp_sum = np.int64(0)
            for y in range(height):
                for x in range(width):
                    temp_sum += input_data[batch, y, x, channel]
            shifted_sum = temp_sum - np.int64(input_zp) * num_elements
            output = multiply_by_quantized_multiplier(shifted_sum, scaled_multiplier,
                                                      scaled_shift) + output_zp
            output = max(output, -128)
            out[batch, channel] = min(output, 127)
    return out
