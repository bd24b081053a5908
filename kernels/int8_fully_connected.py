"""Numba kernel of int8 FULLY_CONNECTED; same bits as :mod:`tinykws.int8.fully_connected`.

One kernel serves both TFLM reference kernels: per-tensor weights pass
length-1 ``output_multiplier``/``output_shift`` arrays (and may have a
``weights_offset``), per-channel ones pass one entry per output. Names and
arguments are the reference's (the fields of TFLM's ``FullyConnectedParams``);
loop order as ``reference_integer_ops::FullyConnected``: batch row, out_c, d,
with an int32 accumulator as TFLM's.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from kernels.int8_quantize import multiply_by_quantized_multiplier


@njit(cache=True)
def fully_connected(input_data, filter_data, bias_data, input_offset, weights_offset,
                    output_offset, output_multiplier, output_shift, quantized_activation_min,
                    quantized_activation_max):
    """input_data : (N, D) int8, or any C-contiguous shape read as rows of D;
    filter_data : (C_out, D) int8; bias_data : (C_out,) int32; output_multiplier,
    output_shift : (1,) or (C_out,) int32. Returns (rows, C_out) int8.
    """
    output_depth, accum_depth = filter_data.shape
    rows = input_data.reshape(-1, accum_depth)  # (N, D) int8
    batches = rows.shape[0]
    per_channel = output_multiplier.size > 1
    out = np.empty((batches, output_depth), np.int8)
    for b in range(batches):
        for out_c in range(output_depth):
            acc = np.int32(0)  # int32, as TFLM
            for d in range(accum_depth):
                input_val = np.int32(rows[b, d])
                filter_val = np.int32(filter_data[out_c, d])
                acc = np.int32(acc + (filter_val + weights_offset) * (input_val + input_offset))
            acc = np.int32(acc + bias_data[out_c])
            k = out_c if per_channel else 0
            scaled = multiply_by_quantized_multiplier(np.int64(acc), np.int64(output_multiplier[k]),
                                                      np.int64(output_shift[k]))
            scaled += output_offset
            scaled = max(scaled, quantized_activation_min)
            scaled = min(scaled, quantized_activation_max)
            out[b, out_c] = scaled
    return out
