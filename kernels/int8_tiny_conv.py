"""The whole int8 TinyConv graph in one Numba call: the fused batch-1 path.

:class:`tinykws.int8.fused.FusedTinyConv` prepares the buffers and tables
once and calls :func:`tiny_conv` per example. The graph is a one-channel
CONV_2D (a DEPTHWISE_CONV_2D with one input channel is the same sums),
RESHAPE, FULLY_CONNECTED and an optional SOFTMAX; here, with no allocation and
no Python between the ops:

1. the input, plus the convolution's ``input_offset``, goes into the stride
   phases (:func:`kernels.stride_phases.fill_phases`; the zero padding was
   written once);
2. :func:`kernels.int8_conv_phases.accumulate` sums every convolution
   accumulator, ``acc[c, oy * PW + ox]``, in int32;
3. :func:`kernels.int8_conv_phases.output_rows` applies TFLM's per-channel
   output stage and adds the FULLY_CONNECTED's ``input_offset``, giving
   ``h[c, oy * PW + ox] = conv_output + input_offset`` as int16;
4. FULLY_CONNECTED: ``acc[k] = sum_j fc_weights[k, j] * h[j]``, where
   ``fc_weights`` (:func:`fc_weights_by_phase_rows`) are the model's weights
   plus ``weights_offset``, moved from TFLite's flattened NHWC order
   ``(oy * out_w + ox) * C + c`` to ``h``'s order ``c * run + oy * PW + ox``,
   with zeros against the ``PW - out_w`` columns that hold no output. One long
   int16 dot product per class, which vectorises as ``vpmaddwd``; then TFLM's
   output stage, per tensor or per channel;
5. SOFTMAX (:func:`kernels.int8_softmax.softmax`) when the graph has one.

Every sum is the int32 sum TFLM forms, in another order, so the bytes are
tflite-micro's (``tests/test_int8_fused.py``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from kernels.int8_conv_phases import accumulate, output_rows
from kernels.int8_quantize import multiply_by_quantized_multiplier
from kernels.int8_softmax import softmax
from kernels.stride_phases import fill_phases


def fc_weights_by_phase_rows(filter_data, weights_offset, output_height, output_width,
                             output_depth, phase_width):
    """FULLY_CONNECTED weights in the order of the fused path's ``h``.

    filter_data : (K, out_h * out_w * C) int8, TFLite's flattened NHWC order.
    Returns (K, C * out_h * PW) int16 of ``filter + weights_offset``, zero at
    the columns ``ox >= out_w`` that are no output position.
    """
    k = filter_data.shape[0]
    w = filter_data.astype(np.int16).reshape(k, output_height, output_width, output_depth)
    by_rows = np.zeros((k, output_depth, output_height, phase_width), np.int16)
    by_rows[:, :, :, :output_width] = np.transpose(w, (0, 3, 1, 2)) + weights_offset
    return by_rows.reshape(k, -1)


@njit(cache=True)
def tiny_conv(image, phases, phase, start, conv_weights, acc, h, conv_input_offset, pad_top,
              pad_left, conv_bias, conv_multiplier, conv_shift, conv_output_offset,
              conv_activation_min, conv_activation_max, fc_weights, fc_input_offset, fc_bias,
              fc_multiplier, fc_shift, fc_output_offset, fc_activation_min, fc_activation_max,
              has_softmax, softmax_multiplier, softmax_left_shift, softmax_diff_min):
    """image : (H, W, 1) int8 -> (1, K) int8, the graph's output.

    phases : (sh, sw, 1, PH, PW) int16, zero padding; phase, start,
    conv_weights : :func:`kernels.int8_conv_phases.tap_table`; acc : (C, run)
    int32 and h : (C, run) int16 scratch; fc_weights :
    :func:`fc_weights_by_phase_rows`. The other arguments are the fields of the
    ops' params (``ConvParams``, ``FullyConnectedParams``, ``SoftmaxParams``).
    """
    fill_phases(image, phases, conv_input_offset, pad_top, pad_left)
    accumulate(phases.reshape(phases.shape[0] * phases.shape[1] * phases.shape[2], -1), phase,
               start, conv_weights, acc)
    output_rows(acc, conv_bias, conv_multiplier, conv_shift, conv_output_offset,
                conv_activation_min, conv_activation_max, fc_input_offset, h)
    flat_h = h.reshape(-1)  # (C * run,) int16: conv output + the FC's input_offset
    classes = fc_weights.shape[0]
    per_channel = fc_multiplier.size > 1
    logits = np.empty((1, classes), np.int8)
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
        logits[0, out_c] = min(scaled, fc_activation_max)
    if has_softmax:
        return softmax(logits, softmax_multiplier, softmax_left_shift, softmax_diff_min)
    return logits
