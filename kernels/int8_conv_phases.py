"""Per-channel int8 CONV_2D as an integer GEMM over stride phases: no BLAS, no floats.

Same bits as :func:`tinykws.int8.conv.conv_per_channel` and TFLM's
``reference_integer_ops::ConvPerChannel``: every accumulator is the int32 sum
of ``filter * (input + input_offset)`` over the taps inside the image, then
TFLM's output stage. Only the order of the additions differs, and int32
addition (wrapping, as TFLM's int32 does) does not depend on the order.

How the sums are laid out so that the compiler vectorises them:

1. The image ``input + input_offset``, zero-padded (the zeros are TFLM's
   skipped taps), is split into its stride phases
   (:mod:`kernels.stride_phases`): ``phases[py, px, c]`` is the
   ``(PH, PW)`` int16 image of the padded pixels ``(py + sh * i, px + sw * j)``.
   Output ``(oy, ox)``'s tap ``(ky, kx, ic)`` then reads phase
   ``(ky * dh % sh, kx * dw % sw, ic)`` at row ``oy + ky * dh // sh`` and
   column ``ox + kx * dw // sw``.
2. Flattened row-major, that is index ``oy * PW + ox + start(tap)``: for one
   tap, *every* output position reads one contiguous run of the flat phase,
   ``run = out_h * PW`` values long (the ``PW - out_w`` columns past each
   output row compute sums nobody reads; a spare phase row keeps the last
   run inside the array). :func:`tap_table` lists each tap's phase and start.
3. ``acc[c, i] = sum_t w[c, t] * phase_t[start_t + i]``
   (:func:`accumulate`): per output channel, a pass over the run adds
   :data:`TAPS_PER_PASS` taps at once. The inner loop is ``acc[i] += w0 * x0[i]
   + ... + w7 * x7[i]`` on int16 inputs and int16-range weights with an int32
   accumulator, which LLVM turns into ``vpmaddwd`` / ``vpdpwssd`` (AVX2,
   AVX-512, AVX-VNNI), 16 or 32 multiply-adds per instruction.
4. TFLM's output stage (+ bias, ``MultiplyByQuantizedMultiplier``,
   + output_offset, clamp) on each row ``acc[c]`` (:func:`output_rows`,
   vectorised too), and output ``(oy, ox, c)`` is ``rows[c, oy * PW + ox]``.

Why int16 is enough: ``input + input_offset`` is in [-255, 255] (int8 minus
an int8 zero point) and every weight in [-128, 127], so each product fits in
int32 with room for about 65 000 taps before an int32 sum could even wrap,
where TFLM's own int32 accumulator wraps the same way.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from kernels.int8_quantize import (multiply_by_quantized_multiplier,
                                   multiply_by_quantized_multiplier_right)
from kernels.stride_phases import fill_phases, phase_shape

# Taps one pass of accumulate() adds: eight reads and one read-modify-write of
# the accumulator row per eight multiply-adds (four gave 25 % less speed).
TAPS_PER_PASS = 8


@njit(cache=True)
def tap_table(filter_data, stride_height, stride_width, dilation_height_factor,
              dilation_width_factor, phase_width):
    """Where each tap reads in the flat phases, and the weights in the same order.

    filter_data : (C_out, KH, KW, C_in) int8; ``phase_width`` is PW of
    :func:`~kernels.stride_phases.phase_shape`. Returns ``(phase, start,
    weights)``: phase, start : (T,) int64, the flat phase index
    ``(py * sw + px) * C_in + ic`` and the run's first element; weights :
    (C_out, T) int16. T is ``KH * KW * C_in`` rounded up to a multiple of
    :data:`TAPS_PER_PASS`; the extra taps have weight 0 and read phase 0 from 0.
    """
    output_depth, filter_height, filter_width, input_depth = filter_data.shape
    taps = filter_height * filter_width * input_depth
    padded_taps = -(-taps // TAPS_PER_PASS) * TAPS_PER_PASS
    phase = np.zeros(padded_taps, np.int64)
    start = np.zeros(padded_taps, np.int64)
    weights = np.zeros((output_depth, padded_taps), np.int16)
    t = 0
    for filter_y in range(filter_height):
        dy = filter_y * dilation_height_factor  # row in the padded image, from the output's
        for filter_x in range(filter_width):
            dx = filter_x * dilation_width_factor
            for in_channel in range(input_depth):
                phase[t] = ((dy % stride_height) * stride_width
                            + dx % stride_width) * input_depth + in_channel
                start[t] = (dy // stride_height) * phase_width + dx // stride_width
                for out_channel in range(output_depth):
                    weights[out_channel, t] = filter_data[out_channel, filter_y, filter_x,
                                                          in_channel]
                t += 1
    return phase, start, weights


@njit(cache=True)
def accumulate(flat_phases, phase, start, weights, acc):
    """acc[c, i] = sum over taps t of weights[c, t] * flat_phases[phase[t], start[t] + i].

    flat_phases : (sh * sw * C_in, PH * PW) int16; phase, start, weights from
    :func:`tap_table`; acc : (C_out, run) int32, overwritten. Eight taps per
    pass over the run, as the module docstring explains.
    """
    output_depth, taps = weights.shape
    run = acc.shape[1]
    for out_channel in range(output_depth):
        a = acc[out_channel]  # (run,) int32
        a[:] = 0
        w = weights[out_channel]
        for t in range(0, taps, TAPS_PER_PASS):
            w0, w1, w2, w3 = np.int32(w[t]), np.int32(w[t + 1]), np.int32(w[t + 2]), \
                np.int32(w[t + 3])
            w4, w5, w6, w7 = np.int32(w[t + 4]), np.int32(w[t + 5]), np.int32(w[t + 6]), \
                np.int32(w[t + 7])
            x0 = flat_phases[phase[t], start[t]:start[t] + run]
            x1 = flat_phases[phase[t + 1], start[t + 1]:start[t + 1] + run]
            x2 = flat_phases[phase[t + 2], start[t + 2]:start[t + 2] + run]
            x3 = flat_phases[phase[t + 3], start[t + 3]:start[t + 3] + run]
            x4 = flat_phases[phase[t + 4], start[t + 4]:start[t + 4] + run]
            x5 = flat_phases[phase[t + 5], start[t + 5]:start[t + 5] + run]
            x6 = flat_phases[phase[t + 6], start[t + 6]:start[t + 6] + run]
            x7 = flat_phases[phase[t + 7], start[t + 7]:start[t + 7] + run]
            for i in range(run):
                a[i] += ((w0 * np.int32(x0[i]) + w1 * np.int32(x1[i]))
                         + (w2 * np.int32(x2[i]) + w3 * np.int32(x3[i]))
                         + (w4 * np.int32(x4[i]) + w5 * np.int32(x5[i]))
                         + (w6 * np.int32(x6[i]) + w7 * np.int32(x7[i])))


@njit(cache=True)
def output_rows(acc, bias_data, output_multiplier, output_shift, output_offset,
                quantized_activation_min, quantized_activation_max, added, rows):
    """TFLM's per-channel output stage on every accumulator, plus ``added``, into ``rows``.

    acc : (C_out, run) int32; rows : (C_out, run), int8 (``added`` 0) or int16
    (the next layer's input offset already added). Row by row, so that each
    row's multiplier and shift are constants of the inner loop and it
    vectorises: + bias, ``MultiplyByQuantizedMultiplier``, + output_offset,
    clamp to [quantized_activation_min, quantized_activation_max].
    """
    output_depth, run = acc.shape
    for out_channel in range(output_depth):
        a, r = acc[out_channel], rows[out_channel]
        bias = np.int64(bias_data[out_channel])
        multiplier = np.int64(output_multiplier[out_channel])
        shift = np.int64(output_shift[out_channel])
        if shift <= 0 and multiplier >= 0:  # every scale below 1: the branch-free form
            for i in range(run):
                scaled = multiply_by_quantized_multiplier_right(np.int64(a[i]) + bias,
                                                                multiplier, -shift)
                scaled += output_offset
                scaled = max(scaled, quantized_activation_min)
                r[i] = min(scaled, quantized_activation_max) + added
            continue
        for i in range(run):
            scaled = multiply_by_quantized_multiplier(np.int64(a[i]) + bias, multiplier, shift)
            scaled += output_offset
            scaled = max(scaled, quantized_activation_min)
            r[i] = min(scaled, quantized_activation_max) + added


@njit(cache=True)
def conv_per_channel(input_data, filter_data, bias_data, padding_values, stride_width,
                     stride_height, dilation_width_factor, dilation_height_factor, input_offset,
                     output_offset, output_multiplier, output_shift, quantized_activation_min,
                     quantized_activation_max, output_height, output_width):
    """input_data : (N, H, W, C_in) int8; filter_data : (C_out, KH, KW, C_in) int8;
    bias_data : (C_out,) int32; output_multiplier, output_shift : (C_out,) int32.
    Returns (N, output_height, output_width, C_out) int8. The arguments of
    :func:`tinykws.int8.conv.conv_per_channel`.
    """
    batches, height, width, depth = input_data.shape
    output_depth = filter_data.shape[0]
    sh, sw, _, phase_h, phase_w = phase_shape(height, width, depth, stride_height, stride_width,
                                              padding_values)
    phase, start, weights = tap_table(filter_data, stride_height, stride_width,
                                      dilation_height_factor, dilation_width_factor, phase_w)
    # phases: (sh, sw, C_in, PH, PW) int16; the padding is written once, as zeros.
    phases = np.zeros((sh, sw, depth, phase_h, phase_w), np.int16)
    flat_phases = phases.reshape(sh * sw * depth, phase_h * phase_w)
    run = output_height * phase_w  # output (oy, ox) is column oy * PW + ox
    acc = np.empty((output_depth, run), np.int32)
    rows = np.empty((output_depth, run), np.int8)
    out = np.empty((batches, output_height, output_width, output_depth), np.int8)
    for batch in range(batches):
        fill_phases(input_data[batch], phases, input_offset, padding_values.height,
                    padding_values.width)
        accumulate(flat_phases, phase, start, weights, acc)
        output_rows(acc, bias_data, output_multiplier, output_shift, output_offset,
                    quantized_activation_min, quantized_activation_max, 0, rows)
        rows_to_nhwc(rows, phase_w, out[batch])
    return out


@njit(cache=True)
def rows_to_nhwc(rows, phase_width, out):
    """out[oy, ox, c] = rows[c, oy * PW + ox]: one example's outputs from the
    row layout (C_out, >= out_h * PW) into NHWC (out_h, out_w, C_out)."""
    output_height, output_width, output_depth = out.shape
    for out_y in range(output_height):
        for out_x in range(output_width):
            for out_channel in range(output_depth):
                out[out_y, out_x, out_channel] = rows[out_channel, out_y * phase_width + out_x]
