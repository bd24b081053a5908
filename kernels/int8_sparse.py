"""Numba kernels of int8 FULLY_CONNECTED and CONV_2D over CSR weights (zeros skipped).

The same sums, names and arguments as the NumPy references of
:mod:`tinykws.int8.sparse`, hence
the same bits as the dense kernels and tflite-micro (see that module for why
skipping zero weights is exact, and for the ``values`` / ``indices`` /
``segments`` storage, passed here as ``filter_values`` / ``filter_indices`` /
``filter_segments``). The accumulators are int32 as in TFLM; integer
addition wraps the same way in any order, so visiting the nonzeros in a
different order from TFLM's loops cannot change a bit. The epilogue is
:func:`kernels.int8_conv_gemm.output_stage`, TFLM's per-channel output stage;
a per-tensor FULLY_CONNECTED passes it its one multiplier repeated per output.

Loop orders, chosen for speed:

- FULLY_CONNECTED: as ``reference_integer_ops::FullyConnected`` (batch row,
  out_c, then the nonzeros of that row: a gather from the input row);
- CONV_2D: filter, then its nonzero taps, then every output position. The
  input is split by stride phase (:mod:`kernels.stride_phases`), so one
  tap's weight multiplies one contiguous run of input values into the
  accumulators of all outputs: the innermost loop has no tap bookkeeping and
  no bounds tests, and vectorises.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from kernels.int8_conv_gemm import output_stage
from kernels.stride_phases import fill_phases, phase_shape


@njit(cache=True)
def _per_output(params, output_depth):
    """A (1,) per-tensor multiplier or shift repeated to (C_out,); (C_out,) unchanged."""
    if params.size == 1:
        return np.full(output_depth, params[0], np.int32)
    return params.astype(np.int32)


@njit(cache=True)
def fully_connected_csr(input_data, filter_values, filter_indices, filter_segments, bias_data,
                        input_offset, weights_offset, output_offset, output_multiplier,
                        output_shift, quantized_activation_min, quantized_activation_max):
    """input_data : (N, D) int8; filter_values, filter_indices, filter_segments : a
    (C_out, D) CSR matrix (symmetric weights: ``weights_offset`` must be 0);
    bias_data : (C_out,) int32; output_multiplier, output_shift : (1,) or (C_out,)
    int32. Returns (N, C_out) int8.
    """
    if weights_offset != 0:
        raise ValueError("sparse kernels need symmetric weights (weights_offset 0)")
    batches = input_data.shape[0]
    output_depth = filter_segments.size - 1
    offset = np.int32(input_offset)
    acc = np.empty((batches, output_depth), np.int32)  # int32 accumulators, as in TFLM
    for b in range(batches):
        for out_c in range(output_depth):
            total = np.int32(0)
            for j in range(filter_segments[out_c], filter_segments[out_c + 1]):
                total += np.int32(filter_values[j]) * (
                    np.int32(input_data[b, filter_indices[j]]) + offset)
            acc[b, out_c] = total
    return output_stage(acc, bias_data, _per_output(output_multiplier, output_depth),
                        _per_output(output_shift, output_depth), output_offset,
                        quantized_activation_min, quantized_activation_max)


@njit(cache=True)
def conv_per_channel_csr(input_data, filter_values, filter_indices, filter_segments,
                         filter_height, filter_width, bias_data, padding_values, stride_width,
                         stride_height, dilation_width_factor, dilation_height_factor,
                         input_offset, output_offset, output_multiplier, output_shift,
                         quantized_activation_min, quantized_activation_max, output_height,
                         output_width):
    """input_data : (N, H, W, C_in) int8; filter_values, filter_indices, filter_segments :
    the (C_out, KH * KW * C_in) CSR matrix of the filters; the other arguments as
    :func:`kernels.int8_conv.conv_per_channel`.
    Returns (N, output_height, output_width, C_out) int8.
    """
    batches, input_height, input_width, input_depth = input_data.shape
    output_depth = filter_segments.size - 1
    # phases: input + input_offset split by stride phase (kernels.stride_phases), int32,
    # zero in the padding (TFLM's skipped taps).
    phases = np.zeros(phase_shape(input_height, input_width, input_depth, stride_height,
                                  stride_width, padding_values), np.int32)
    phase_w = phases.shape[4]
    # acc[c, oy * phase_w + ox]: int32 as in TFLM; columns ox >= output_width are spare.
    acc = np.empty((output_depth, output_height * phase_w), np.int32)
    rows = np.empty((output_height * output_width, output_depth), np.int32)
    out = np.empty((batches, output_height, output_width, output_depth), np.int8)
    for batch in range(batches):
        fill_phases(input_data[batch], phases, input_offset, padding_values.height,
                    padding_values.width)
        acc[:] = 0
        for out_channel in range(output_depth):
            for j in range(filter_segments[out_channel], filter_segments[out_channel + 1]):
                tap = filter_indices[j]  # (filter_y * KW + filter_x) * C_in + in_channel
                in_channel = tap % input_depth
                filter_x = (tap // input_depth) % filter_width
                filter_y = tap // (input_depth * filter_width)
                weight = np.int32(filter_values[j])
                # All outputs' inputs of this tap: one run of its flattened phase.
                dy = filter_y * dilation_height_factor
                dx = filter_x * dilation_width_factor
                plane = phases[dy % stride_height, dx % stride_width, in_channel].reshape(-1)
                start = (dy // stride_height) * phase_w + dx // stride_width
                line = acc[out_channel]
                window = plane[start:start + line.size]  # slicing first lets the loop vectorise
                for m in range(line.size):
                    line[m] += weight * window[m]
        for out_y in range(output_height):  # (C_out, oh, phase_w) -> (oh * ow, C_out) rows
            for out_x in range(output_width):
                for out_channel in range(output_depth):
                    rows[out_y * output_width + out_x, out_channel] = (
                        acc[out_channel, out_y * phase_w + out_x])
        out[batch] = output_stage(rows, bias_data, output_multiplier, output_shift,
                                  output_offset, quantized_activation_min,
                                  quantized_activation_max).reshape(
                                      output_height, output_width, output_depth)
    return out
