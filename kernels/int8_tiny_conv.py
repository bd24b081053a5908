"""The whole int8 TinyConv graph in one Numba call: the fused path.

:class:`tinykws.int8.fused.FusedTinyConv` prepares the buffers and tables
once and calls :func:`tiny_conv` on a batch. The graph is a one-channel
CONV_2D (a DEPTHWISE_CONV_2D with one input channel is the same sums),
RESHAPE, FULLY_CONNECTED and an optional SOFTMAX; here, per example, with no
allocation and no Python between the ops:

1. the input, plus the convolution's ``input_offset``, goes into the layout
   whose int16 pairs the multiply-adds read: with TinyConv's stride 2 across,
   the padded image split by row phase
   (:func:`kernels.int8_conv_pairs.fill_columns`), else the doubled stride
   phases (:func:`kernels.int8_conv_pairs.fill_doubled`); the zero padding
   was written once;
2. :func:`kernels.int8_conv_pairs.accumulate_pairs` sums every convolution
   accumulator, ``acc[c, oy * PW + ox]``, in int32, two taps per
   ``vpmaddwd`` (:mod:`kernels.pair_dot`);
3. :func:`kernels.int8_conv_phases.output_rows` applies TFLM's per-channel
   output stage and adds the FULLY_CONNECTED's ``input_offset``, giving
   ``h[c, oy * PW + ox] = conv_output + input_offset`` as int16;
4. FULLY_CONNECTED: ``acc[k] = sum_j fc_weights[k, j] * h[j]``, where
   ``fc_weights`` (:func:`fc_weights_by_phase_rows`) are the model's weights
   plus ``weights_offset``, moved from TFLite's flattened NHWC order
   ``(oy * out_w + ox) * C + c`` to ``h``'s order ``c * run_p + oy * PW + ox``,
   with zeros against the columns that hold no output (``ox >= out_w``, and
   the block padding past ``out_h * PW``). One long int16 dot product per
   class, which vectorises as ``vpmaddwd``; then TFLM's output stage, per
   tensor or per channel;
5. SOFTMAX (:func:`kernels.int8_softmax.softmax`) when the graph has one.

Every sum is the int32 sum TFLM forms, in another order, so the bytes are
tflite-micro's (``tests/test_int8_fused.py``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from kernels.int8_conv_pairs import accumulate_pairs, fill_columns, fill_doubled
from kernels.int8_conv_phases import output_rows
from kernels.int8_quantize import multiply_by_quantized_multiplier
from kernels.int8_softmax import softmax


def fc_weights_by_phase_rows(filter_data, weights_offset, output_height, output_width,
                             output_depth, phase_width, row_length):
    """FULLY_CONNECTED weights in the order of the fused path's ``h``.

    filter_data : (K, out_h * out_w * C) int8, TFLite's flattened NHWC order.
    Returns (K, C * row_length) int16 of ``filter + weights_offset``, zero at
    the columns ``ox >= out_w`` and past ``out_h * PW`` (``row_length >= out_h * PW``)
    that are no output position.
    """
    k = filter_data.shape[0]
    w = filter_data.astype(np.int16).reshape(k, output_height, output_width, output_depth)
    by_rows = np.zeros((k, output_depth, row_length), np.int16)
    grid = by_rows[:, :, :output_height * phase_width].reshape(k, output_depth, output_height,
                                                               phase_width)
    grid[:, :, :, :output_width] = np.transpose(w, (0, 3, 1, 2)) + weights_offset
    return by_rows.reshape(k, -1)


@njit(cache=True)
def tiny_conv(images, pairs, columns, offsets, wpairs, acc, h, conv_input_offset, pad_top,
              pad_left, stride_h, stride_w, phase_w, conv_bias, conv_multiplier, conv_shift,
              conv_output_offset, conv_activation_min, conv_activation_max, fc_weights,
              fc_input_offset, fc_bias, fc_multiplier, fc_shift, fc_output_offset,
              fc_activation_min, fc_activation_max, has_softmax, softmax_multiplier,
              softmax_left_shift, softmax_diff_min):
    """images : (N, H, W, 1) int8 -> (N, K) int8, the graph's output for each example.

    pairs : (sh * sw, QL) int16, zero padding
    (:func:`kernels.int8_conv_pairs.doubled_shape`), of which the column
    layout (``columns`` True) uses the first ``sh`` rows; offsets, wpairs :
    :func:`kernels.int8_conv_pairs.column_pair_table` or ``pair_table``; acc : (C_pad, run_p) int32
    and h : (C, run_p) int16 scratch; fc_weights :
    :func:`fc_weights_by_phase_rows`. The other arguments are the fields of the
    ops' params (``ConvParams``, ``FullyConnectedParams``, ``SoftmaxParams``).
    """
    output_depth = h.shape[0]
    classes = fc_weights.shape[0]
    per_channel = fc_multiplier.size > 1
    flat_h = h.reshape(-1)  # (C * run_p,) int16: conv output + the FC's input_offset
    logits = np.empty((images.shape[0], classes), np.int8)
    for n in range(images.shape[0]):
        if columns:
            fill_columns(images[n], pairs, conv_input_offset, pad_top, pad_left, stride_h,
                         phase_w)
        else:
            fill_doubled(images[n], pairs, conv_input_offset, pad_top, pad_left, stride_h,
                         stride_w, phase_w)
        accumulate_pairs(pairs, offsets, wpairs, acc)
        output_rows(acc[:output_depth], conv_bias, conv_multiplier, conv_shift,
                    conv_output_offset, conv_activation_min, conv_activation_max,
                    fc_input_offset, h)
        for out_c in range(classes):
            w = fc_weights[out_c]
            total = np.int32(0)
            for j in range(flat_h.size):
                total += np.int32(w[j]) * np.int32(flat_h[j])
            k = out_c if per_channel else 0
            scaled = multiply_by_quantized_multiplier(np.int64(total) + fc_bias[out_c],
                                                      np.int64(fc_multiplier[k]),
                                                      np.int64(fc_shift[k]))
            scaled += fc_output_offset
            scaled = max(scaled, fc_activation_min)
            logits[n, out_c] = min(scaled, fc_activation_max)
    if has_softmax:
        return softmax(logits, softmax_multiplier, softmax_left_shift, softmax_diff_min)
    return logits
