"""Numba kernel of int8 SVDF; bit-identical to :func:`tinykws.int8.svdf.svdf`.

Same name and arguments (TFLM's ``OpDataSvdf`` fields), and the loops of
``EvalIntegerSvdfReference``: shift the state left, write the feature filter's
outputs into each filter's newest slot, dot every filter's memory with its time
weights, sum each unit's ``rank`` filters onto the bias, rescale to int8.
Returns a new state rather than rewriting the given one in place.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from kernels.int8_quantize import multiply_by_quantized_multiplier, wrap_int32


@njit(cache=True)
def svdf(input_data, activation_state, weights_feature, weights_time, bias, rank,
         input_zero_point, output_zero_point, activation_state_zero_point, effective_scale_1_a,
         effective_scale_1_b, effective_scale_2_a, effective_scale_2_b, quantized_activation_max=127):
    """input_data : (N, D) int8; activation_state : (N, M * F) int16.
    Returns (output (N, F / rank) int8, new state (N, M * F) int16)."""
    n_batch = input_data.shape[0]
    n_input = input_data.size // n_batch
    n_filter, n_memory = weights_time.shape
    n_unit = n_filter // rank
    x = input_data.reshape(n_batch, n_input)
    old = activation_state.reshape(n_batch, n_filter * n_memory)
    state = np.empty((n_batch, n_filter * n_memory), np.int16)
    out = np.empty((n_batch, n_unit), np.int8)
    scratch = np.empty(n_filter, np.int64)
    for b in range(n_batch):
        for i in range(n_filter * n_memory - 1):  # left shift by one
            state[b, i] = old[b, i + 1]
        for f in range(n_filter):  # feature filter into the newest slot
            dot_prod = np.int64(0)
            for c in range(n_input):
                dot_prod += np.int64(weights_feature[f, c]) * (np.int64(x[b, c]) - input_zero_point)
            dot_prod = multiply_by_quantized_multiplier(dot_prod, effective_scale_1_a,
                                                        effective_scale_1_b)
            dot_prod = min(max(dot_prod, -32768), 32767) + activation_state_zero_point
            state[b, f * n_memory + n_memory - 1] = np.int16(((dot_prod + 32768) & 0xFFFF) - 32768)
        for f in range(n_filter):  # time filter over each filter's memory
            total = np.int64(0)
            for j in range(n_memory):
                total += np.int64(weights_time[f, j]) * (
                    np.int64(state[b, f * n_memory + j]) - activation_state_zero_point)
            scratch[f] = total
        for u in range(n_unit):  # rank reduction, bias, rescale
            acc = np.int64(bias[u])
            for r in range(rank):
                acc += scratch[u * rank + r]
            acc = multiply_by_quantized_multiplier(wrap_int32(acc), effective_scale_2_a,
                                                   effective_scale_2_b) + output_zero_point
            out[b, u] = min(max(acc, -128), quantized_activation_max)
    return out, state
