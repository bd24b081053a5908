"""Numba kernel of int8 FULLY_CONNECTED; same bits as :mod:`tinykws.int8.fully_connected`.

One kernel serves both TFLM reference kernels: per-tensor weights pass
length-1 ``output_multiplier``/``output_shift`` arrays (and may have a
``filter_offset``), per-channel ones pass one entry per output. Loop order
as ``reference_integer_ops::FullyConnected``: batch row, out_c, d.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from kernels.int8_quantize import multiply_by_quantized_multiplier


@njit(cache=True)
def fully_connected(input_data, filter_data, bias_data, input_offset, filter_offset,
                    output_offset, output_multiplier, output_shift,
                    output_activation_min, output_activation_max):
    """input_data : (N, D) int8; filter_data : (C_out, D) int8; bias_data : (C_out,) int32;
    output_multiplier, output_shift : (1,) or (C_out,) int32. Returns (N, C_out) int8.
    """
    batches, accum_depth = input_data.shape
    output_depth = filter_data.shape[0]
    per_channel = output_multiplier.size > 1
    out = np.empty((batches, output_depth), np.int8)
    for b in range(batches):
        for out_c in range(output_depth):
            acc = np.int64(0)
            for d in range(accum_depth):
                input_val = np.int64(input_data[b, d])
                filter_val = np.int64(filter_data[out_c, d])
                acc += (filter_val + filter_offset) * (input_val + input_offset)
            acc += bias_data[out_c]
            k = out_c if per_channel else 0
            acc = multiply_by_quantized_multiplier(acc, np.int64(output_multiplier[k]),
                                                   np.int64(output_shift[k]))
            acc += output_offset
            acc = max(acc, output_activation_min)
            acc = min(acc, output_activation_max)
            out[b, out_c] = acc
    return out
