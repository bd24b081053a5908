"""Numba kernel of int8 ADD; bit-identical to :func:`tinykws.int8.add.add` (see there).

:func:`add_elementwise` is TFLM's ``AddElementwise``: ``AddFunc`` on every pair
of a flat run of elements. :func:`add`, with the reference's name and
arguments, broadcasts the two inputs against each other first (NumPy's rule,
as TFLM's ``BroadcastAdd``) and runs it on the flattened pairs.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from kernels.int8_quantize import multiply_by_quantized_multiplier


@njit(cache=True)
def add_elementwise(input1_data, input2_data, left_shift, input1_offset, input1_multiplier,
                    input1_shift, input2_offset, input2_multiplier, input2_shift, output_offset,
                    output_multiplier, output_shift, quantized_activation_min,
                    quantized_activation_max):
    """input1_data, input2_data : (n,) int8. Returns (n,) int8."""
    out = np.empty(input1_data.size, np.int8)
    for i in range(input1_data.size):
        shifted_input1_val = (np.int64(input1_data[i]) + input1_offset) << left_shift
        shifted_input2_val = (np.int64(input2_data[i]) + input2_offset) << left_shift
        # MultiplyByQuantizedMultiplierSmallerThanOneExp: every shift here is <= 0.
        scaled_input1_val = multiply_by_quantized_multiplier(
            shifted_input1_val, np.int64(input1_multiplier), np.int64(input1_shift))
        scaled_input2_val = multiply_by_quantized_multiplier(
            shifted_input2_val, np.int64(input2_multiplier), np.int64(input2_shift))
        raw_sum = scaled_input1_val + scaled_input2_val
        raw_output = multiply_by_quantized_multiplier(
            raw_sum, np.int64(output_multiplier), np.int64(output_shift)) + output_offset
        raw_output = max(raw_output, quantized_activation_min)
        out[i] = min(raw_output, quantized_activation_max)
    return out


def add(input1_data, input2_data, **params):
    """``input1 + input2`` broadcast, int8; arguments as :func:`tinykws.int8.add.add`."""
    a, b = np.broadcast_arrays(input1_data, input2_data)  # views, a.shape == b.shape
    flat = add_elementwise(np.ascontiguousarray(a).reshape(-1),
                           np.ascontiguousarray(b).reshape(-1), **params)
    return flat.reshape(a.shape)
