"""Int8 1x1 CONV_2D (pointwise) with two input channels per multiply-add instruction.

A 1x1 convolution with stride 1 is a matrix product over pixels: every
position ``i`` of the (N, H, W) grid gets

    acc[i, c] = sum_k filter[c, k] * (input[i, k] + input_offset),

then TFLM's per-channel output stage (``reference_integer_ops::ConvPerChannel``
with a 1x1 filter does exactly these sums). In NHWC the inputs of one pixel
lie side by side, so two neighbouring input channels ``(2p, 2p + 1)`` of pixel
``i`` are one int16 pair once offset: ``xpair[i, p]``. The weights are laid out
the other way round, pairs of input channels for every output channel side by
side: ``wt[p, 2c + j] = filter[c, 2p + j]``. Then

    acc[i, c0 + l] = sum_p  pmaddwd(wt[p, 2(c0 + l) : + 2], xpair[i, p])

is :func:`kernels.pair_dot.pair_dot4` with the pixel's pair in the role of
the broadcast weight pair and the weight rows in the role of the input run:
four pixels at a time, 16 output channels per call. The accumulators come out
in NHWC order, so no transposes; the output stage runs along the channels
(:func:`output_stage_nhwc`).

Exact for any int8 weights: ``|input + offset| <= 255``, so every pair of
products fits ``vpmaddwd``'s int32 and the int32 sums wrap as TFLM's do.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from kernels.int8_quantize import (multiply_by_quantized_multiplier,
                                   multiply_by_quantized_multiplier_right)
from kernels.pair_dot import LANES, ROWS, pair_dot4

CHUNK = 512  # pixels per block: their int16 inputs and int32 sums stay in cache


def weight_pairs(filter_data):
    """(C_out, 1, 1, C_in) int8 -> wt (P, 2 * C_pad) int16, ``wt[p, 2c + j] = filter[c, 2p + j]``.

    P = ceil(C_in / 2) (an odd last channel pairs with a zero weight); C_pad is
    C_out rounded up to :data:`LANES` with zero weights.
    """
    output_depth, _, _, input_depth = filter_data.shape
    pairs = -(-input_depth // 2)
    c_pad = -(-output_depth // LANES) * LANES
    w = np.zeros((c_pad, 2 * pairs), np.int16)  # (C_pad, 2P): filter rows, zero-padded
    w[:output_depth, :input_depth] = filter_data.reshape(output_depth, input_depth)
    # (C_pad, P, 2) -> (P, C_pad, 2): for pair p, the pairs of every output channel
    return np.ascontiguousarray(w.reshape(c_pad, pairs, 2).transpose(1, 0, 2)).reshape(pairs, -1)


@njit(cache=True)
def output_stage_nhwc(acc, bias_data, output_multiplier, output_shift, output_offset,
                      quantized_activation_min, quantized_activation_max, out):
    """TFLM's per-channel output stage along the channels: acc (M, >= C_out) int32
    -> out (M, C_out) int8 (+ bias, MultiplyByQuantizedMultiplier, + offset, clamp)."""
    rows, output_depth = out.shape
    right = True  # every channel's scale below 1 (the usual case): the branch-free form
    for c in range(output_depth):
        right = right and output_shift[c] <= 0 and output_multiplier[c] >= 0
    for i in range(rows):
        for c in range(output_depth):
            total = np.int64(acc[i, c]) + bias_data[c]
            if right:
                scaled = multiply_by_quantized_multiplier_right(
                    total, np.int64(output_multiplier[c]), -np.int64(output_shift[c]))
            else:
                scaled = multiply_by_quantized_multiplier(
                    total, np.int64(output_multiplier[c]), np.int64(output_shift[c]))
            scaled += output_offset
            scaled = max(scaled, quantized_activation_min)
            out[i, c] = min(scaled, quantized_activation_max)


@njit(cache=True)
def pointwise_conv_per_channel(input_data, wt, output_depth, bias_data, input_offset,
                               output_offset, output_multiplier, output_shift,
                               quantized_activation_min, quantized_activation_max):
    """input_data : (N, H, W, C_in) int8; wt : :func:`weight_pairs`. Returns
    (N, H, W, output_depth) int8, the 1x1 stride-1 CONV_2D's output."""
    batches, height, width, input_depth = input_data.shape
    pixels = batches * height * width
    pairs, c_pad = wt.shape[0], wt.shape[1] // 2
    x = input_data.reshape(pixels, input_depth)
    out = np.empty((pixels, output_depth), np.int8)
    chunk = min(CHUNK, -(-pixels // ROWS) * ROWS)
    xpairs = np.zeros((chunk, 2 * pairs), np.int16)  # (chunk, 2P) input + offset; pad stays 0
    xpair32 = xpairs.view(np.int32)  # (chunk, P): one int16 pair per int32
    acc = np.empty((chunk, c_pad), np.int32)
    offsets = np.arange(pairs) * (2 * c_pad)  # where pair p's weight row starts in wt
    flat_wt = wt.reshape(-1)
    for first in range(0, pixels, chunk):
        count = min(chunk, pixels - first)
        for i in range(count):
            for k in range(input_depth):
                xpairs[i, k] = x[first + i, k] + input_offset
        for i in range(count, -(-count // ROWS) * ROWS):  # a partial group of four: zeros
            xpairs[i, :] = 0
        for i in range(0, count, ROWS):
            for c0 in range(0, c_pad, LANES):
                pair_dot4(acc[i:i + ROWS], c0, flat_wt, 2 * c0, offsets, xpair32[i:i + ROWS])
        output_stage_nhwc(acc[:count], bias_data, output_multiplier, output_shift, output_offset,
                          quantized_activation_min, quantized_activation_max,
                          out[first:first + count])
    return out.reshape(batches, height, width, output_depth)
