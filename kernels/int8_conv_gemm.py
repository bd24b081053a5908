"""Int8 convolution as an exact floating-point GEMM (im2col + BLAS).

The runtime used to take this path; it now takes the integer GEMM of
:mod:`kernels.int8_conv_phases`, whose speed does not depend on the BLAS
build and which is exact for any weights. This module stays as the float
formulation (and :func:`output_stage` serves the sparse kernels).

Same bits as :func:`kernels.int8_conv.conv_per_channel` and TFLM's
``reference_integer_ops::ConvPerChannel``; only the way the accumulator is
summed differs. The recipe:

1. ``input + input_offset`` goes into a zero-padded image (zeros in the
   padding are TFLM's skipped taps);
2. im2col: a strided *view* of that image lists, for every output position,
   its ``KH * KW * C_in`` taps; reshaping it copies them into a matrix
   (positions, taps);
3. one matrix product with the weights (taps, C_out) gives every accumulator;
4. :func:`output_stage` adds the bias and rescales with
   ``MultiplyByQuantizedMultiplier`` exactly as TFLM does, in int64.

Why floating point is exact here: every product ``filter * (input + offset)``
is an integer of magnitude at most ``128 * 255``, and every partial sum BLAS
forms, in whatever order and with or without fused multiply-add, is a sum of
some of those products, so its magnitude is at most
``B = 255 * max_c sum_k |filter[c, k]|``. A float32 holds every integer below
2**24 exactly and a float64 every integer below 2**53; if ``B`` is below the
limit no operation ever rounds, and the sum equals the int32 one. (TinyConv:
B <= 255 * 80 * 128 = 2.6e6 < 2**24, float32.) :func:`gemm_dtype` checks the
bound for given weights and returns None if neither type is safe, in which
case the caller uses the loop kernel.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.lib.stride_tricks import as_strided

from kernels.int8_quantize import multiply_by_quantized_multiplier

# Examples per im2col block: keeps the (positions, taps) matrix in cache.
CHUNK = 32


def gemm_dtype(filters: np.ndarray):
    """np.float32 or np.float64 if a GEMM over ``filters`` is exact, else None.

    filters : (C_out, ...) int8, one row of taps per output channel.
    """
    bound = 255 * int(np.abs(filters.reshape(filters.shape[0], -1).astype(np.int64))
                      .sum(axis=1).max(initial=0))
    if bound < 2 ** 24:
        return np.float32
    if bound < 2 ** 53:
        return np.float64
    return None


def weights_matrix(filters: np.ndarray, dtype) -> np.ndarray:
    """(C_out, KH, KW, C_in) int8 -> (KH * KW * C_in, C_out) ``dtype``, taps in im2col order."""
    return np.ascontiguousarray(filters.reshape(filters.shape[0], -1).T.astype(dtype))


@njit(cache=True)
def output_stage(acc, bias_data, output_multiplier, output_shift, output_offset,
                 quantized_activation_min, quantized_activation_max):
    """acc : (M, C_out) exact integers (float or int). Returns (M, C_out) int8.

    TFLM's per-channel epilogue, the twin of
    :func:`tinykws.int8.quantize_multiplier.output_stage`: + bias,
    MultiplyByQuantizedMultiplier, + output_offset, clamp.
    """
    rows, output_depth = acc.shape
    out = np.empty((rows, output_depth), np.int8)
    for i in range(rows):
        for out_channel in range(output_depth):
            total = np.int64(acc[i, out_channel]) + bias_data[out_channel]
            scaled = multiply_by_quantized_multiplier(
                total, np.int64(output_multiplier[out_channel]),
                np.int64(output_shift[out_channel]))
            scaled += output_offset
            scaled = max(scaled, quantized_activation_min)
            scaled = min(scaled, quantized_activation_max)
            out[i, out_channel] = scaled
    return out


def conv_per_channel_gemm(input_data, filter_data, bias_data, padding_values, stride_width,
                          stride_height, dilation_width_factor, dilation_height_factor,
                          input_offset, output_offset, output_multiplier, output_shift,
                          quantized_activation_min, quantized_activation_max, output_height,
                          output_width, filter_matrix):
    """Per-channel int8 convolution through one exact GEMM per block of examples.

    The arguments of :func:`kernels.int8_conv.conv_per_channel` (``filter_data``
    only gives KH and KW) and ``filter_matrix``, the (KH * KW * C_in, C_out)
    :func:`weights_matrix` in the dtype :func:`gemm_dtype` chose.
    Returns (N, output_height, output_width, C_out) int8.
    """
    n, height, width, depth = input_data.shape
    _, filter_height, filter_width, _ = filter_data.shape
    taps, output_depth = filter_matrix.shape
    dtype = filter_matrix.dtype.type  # np.float32 or np.float64
    p = padding_values
    block = min(n, CHUNK)
    # padded: (block, H + 2 * height + height_offset, W + ..., C_in); the border stays
    # 0 = skipped taps.
    padded = np.zeros((block, height + 2 * p.height + p.height_offset,
                       width + 2 * p.width + p.width_offset, depth), dtype)
    out = np.empty((n, output_height, output_width, output_depth), np.int8)
    for start in range(0, n, block):
        x = input_data[start:start + block]
        b = x.shape[0]
        padded[:b, p.height:p.height + height, p.width:p.width + width, :] = (
            x.astype(dtype) + dtype(input_offset))
        s_b, s_y, s_x, s_c = padded.strides
        # patches: (b, out_h, out_w, KH, KW, C_in) view, no copy yet.
        patches = as_strided(
            padded, (b, output_height, output_width, filter_height, filter_width, depth),
            (s_b, stride_height * s_y, stride_width * s_x, dilation_height_factor * s_y,
             dilation_width_factor * s_x, s_c), writeable=False)
        acc = patches.reshape(-1, taps) @ filter_matrix  # (b * out_h * out_w, C_out) exact
        out[start:start + b] = output_stage(
            acc, bias_data, output_multiplier, output_shift, output_offset,
            quantized_activation_min, quantized_activation_max).reshape(
                b, output_height, output_width, output_depth)
    return out
