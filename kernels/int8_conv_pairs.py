"""Int8 CONV_2D sums two taps per multiply-add instruction: the stride phases read in pairs.

:mod:`kernels.int8_conv_phases` lays a strided convolution out so that one tap
reads one contiguous run of a stride phase for all output positions: output
column ``i`` of tap ``t`` reads ``flat[phase_t, start_t + i]``. Two taps of one
phase whose starts are ``s`` and ``s + 1`` (in TinyConv, filter columns ``kx``
and ``kx + 2`` of the same row, stride 2) read, for output ``i``, the
neighbours ``flat[s + i]`` and ``flat[s + i + 1]``. If the phase is stored with
every value twice,

    doubled[ph, 2j] = doubled[ph, 2j + 1] = flat[ph, j]        (int16),

then from one element past ``2(s + i)`` the two sit side by side:
``doubled[ph, 2(s + i) + 1 : + 2] = (flat[s + i], flat[s + i + 1])``. Those pairs
are what ``vpmaddwd`` multiplies by a pair of weights and adds
(:mod:`kernels.pair_dot`), so each instruction does two taps for 16 or 32
output columns, and four output channels share each load.

With a stride of exactly 2 across columns (no dilation) the pairs need no
doubling: filter columns ``kx`` (even) and ``kx + 1`` of output column ``ox``
read padded columns ``2 ox + kx`` and ``2 ox + kx + 1``, already side by side in
the padded image, and the next output's pair starts two values on. So the
image is only split by row phase, its columns kept in order,

    columns[py * C + c, i * 2PW + X] = padded[i * sh + py, X, c],

and pair ``(ky, kx)`` of output ``i = oy * PW + ox`` sits at
``2 ((ky // sh) * PW + kx // 2 + i)`` in row phase ``ky % sh``: the same reading
pattern as the doubled phases, for a fill that is a plain copy.

:func:`pair_table` / :func:`column_pair_table` pair the taps (a tap with no
partner gets a zero weight beside it), :func:`fill_doubled` /
:func:`fill_columns` write ``input + input_offset`` into the layout,
:func:`accumulate_pairs` forms every int32 accumulator ``acc[c, i]`` from
either, the same sums as :func:`kernels.int8_conv_phases.accumulate` (tested
equal), so TFLM's bits.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from kernels.int8_conv_phases import output_rows, rows_to_nhwc
from kernels.pair_dot import LANES, ROWS, pair_dot4


def doubled_shape(phase_shape, run):
    """(sh * sw * C, QL) of the doubled phases for a convolution of ``run`` output columns.

    ``phase_shape`` is :func:`kernels.stride_phases.phase_shape`'s ``(sh, sw, C, PH, PW)``.
    QL holds the doubled flat phase and the columns :func:`accumulate_pairs`
    reads past it when it rounds ``run`` up to whole blocks of :data:`LANES`.
    """
    sh, sw, depth, phase_h, phase_w = phase_shape
    return sh * sw * depth, 2 * (phase_h * phase_w + LANES) + 2


def columns_apply(stride_width, dilation_width_factor):
    """True when the column layout (no doubling) pairs the taps: stride 2 across, no dilation."""
    return stride_width == 2 and dilation_width_factor == 1


def padded_run(run):
    """``run`` output columns rounded up to whole blocks of :data:`LANES`."""
    return -(-run // LANES) * LANES


def pair_table(filter_data, stride_height, stride_width, dilation_height_factor,
               dilation_width_factor, phase_width, doubled_width):
    """Pairs of taps, where each reads in the flattened doubled phases, and their weights.

    filter_data : (C_out, KH, KW, C_in) int8. Taps are placed as in
    :func:`kernels.int8_conv_phases.tap_table` (phase, start); a tap at start
    ``s`` is paired with the unpaired tap of the same phase at ``s + 1`` when
    there is one. Returns ``(offsets, wpairs)``: offsets (P,) int64, the pair's
    first element in the doubled phases flattened to one row of
    ``doubled_width`` per phase; wpairs (C_pad, P) int32, the two int16 weights
    of each pair (low half: the tap at ``s``), ``C_pad = C_out`` rounded up to
    :data:`ROWS` with zero rows.
    """
    output_depth, filter_height, filter_width, input_depth = filter_data.shape
    taps = {}  # (phase, start) -> (C_out,) weights
    for ky in range(filter_height):
        dy = ky * dilation_height_factor
        for kx in range(filter_width):
            dx = kx * dilation_width_factor
            for ic in range(input_depth):
                phase = ((dy % stride_height) * stride_width + dx % stride_width) * input_depth + ic
                start = (dy // stride_height) * phase_width + dx // stride_width
                taps[phase, start] = filter_data[:, ky, kx, ic].astype(np.int32)
    zero = np.zeros(output_depth, np.int32)
    offsets, low, high = [], [], []
    for (phase, start) in sorted(taps):
        if (phase, start) not in taps:  # taken as the high half of the previous pair
            continue
        offsets.append(phase * doubled_width + 2 * start + 1)
        low.append(taps.pop((phase, start)))
        high.append(taps.pop((phase, start + 1), zero))
    c_pad = -(-output_depth // ROWS) * ROWS
    wpairs = np.zeros((c_pad, len(offsets)), np.int32)
    wpairs[:output_depth] = (np.array(low).T & 0xFFFF) | (np.array(high).T << 16)
    return np.array(offsets, np.int64), wpairs


def column_pair_table(filter_data, stride_height, dilation_height_factor, phase_width,
                      row_width):
    """:func:`pair_table` for the column layout (``columns_apply``): filter columns
    ``(kx, kx + 1)``, ``kx`` even, of each filter row and input channel are a pair.

    ``row_width`` is the length of one flattened row phase (QL of
    :func:`doubled_shape`). Returns ``(offsets (P,) int64, wpairs (C_pad, P) int32)``.
    """
    output_depth, filter_height, filter_width, input_depth = filter_data.shape
    offsets, low, high = [], [], []
    for ky in range(filter_height):
        dy = ky * dilation_height_factor
        for kx in range(0, filter_width, 2):
            for ic in range(input_depth):
                row = (dy % stride_height) * input_depth + ic
                offsets.append(row * row_width + 2 * ((dy // stride_height) * phase_width + kx // 2))
                low.append(filter_data[:, ky, kx, ic].astype(np.int32))
                high.append(filter_data[:, ky, kx + 1, ic].astype(np.int32)
                            if kx + 1 < filter_width else np.zeros(output_depth, np.int32))
    c_pad = -(-output_depth // ROWS) * ROWS
    wpairs = np.zeros((c_pad, len(offsets)), np.int32)
    wpairs[:output_depth] = (np.array(low).T & 0xFFFF) | (np.array(high).T << 16)
    return np.array(offsets, np.int64), wpairs


@njit(cache=True)
def fill_columns(image, columns, offset, pad_top, pad_left, stride_h, phase_w):
    """Write ``image + offset`` into the column layout (zero-initialised, padding never written).

    image : (H, W, C) int8; columns : (sh * C, QL) int16. Pixel ``(y, x, c)`` is padded
    ``(pad_top + y, pad_left + x)``, so row phase ``(pad_top + y) % sh``, at
    ``((pad_top + y) // sh) * 2PW + pad_left + x``.
    """
    height, width, depth = image.shape
    for y in range(height):
        py, row = (pad_top + y) % stride_h, (pad_top + y) // stride_h
        for c in range(depth):
            source = image[y, :, c]  # (W,)
            line = columns[py * depth + c, row * 2 * phase_w + pad_left:]
            for x in range(width):
                line[x] = source[x] + offset


@njit(cache=True)
def fill_doubled(image, doubled, offset, pad_top, pad_left, stride_h, stride_w, phase_w):
    """Write ``image + offset`` twice per value into the doubled phases.

    image : (H, W, C) int8; doubled : (sh * sw * C, QL) int16 from
    :func:`doubled_shape`, zero-initialised (the padding is never written):
    padded pixel ``(y, x)`` of channel ``c`` is ``flat[(py * sw + px) * C + c, j]``,
    ``j = (y // sh) * PW + x // sw`` with ``(py, px) = (y % sh, x % sw)``, and lands
    at ``doubled[., 2j]`` and ``doubled[., 2j + 1]``.
    """
    height, width, depth = image.shape
    for y in range(height):
        py, row = (pad_top + y) % stride_h, (pad_top + y) // stride_h
        for px in range(stride_w):
            first_x = (px - pad_left) % stride_w  # the image columns of phase px
            first_k = (pad_left + first_x) // stride_w
            for c in range(depth):
                source = image[y, first_x::stride_w, c]  # (count,): unit steps for the loop
                line = doubled[(py * stride_w + px) * depth + c, 2 * (row * phase_w + first_k):]
                for k in range(source.size):
                    value = source[k] + offset
                    line[2 * k] = value
                    line[2 * k + 1] = value


@njit(cache=True)
def accumulate_pairs(doubled, offsets, wpairs, acc):
    """acc[c, i] = the int32 sum over taps of weight * (input + input_offset).

    doubled : (P_h, QL) int16 from :func:`fill_doubled` or :func:`fill_columns`,
    C-contiguous; offsets, wpairs : :func:`pair_table` or :func:`column_pair_table`; acc : (C_pad, run_p) int32,
    ``run_p`` a multiple of :data:`LANES`, overwritten. Column ``i`` is output
    ``(i // PW, i % PW)``; columns past the real outputs hold sums nobody reads.
    """
    flat = doubled.reshape(-1)
    for c in range(0, acc.shape[0], ROWS):
        for i in range(0, acc.shape[1], LANES):
            pair_dot4(acc[c:c + ROWS], i, flat, 2 * i, offsets, wpairs[c:c + ROWS])


@njit(cache=True)
def conv_per_channel(input_data, columns, offsets, wpairs, pairs_shape, bias_data, padding_values,
                     stride_width, stride_height, input_offset, output_offset, output_multiplier,
                     output_shift, quantized_activation_min, quantized_activation_max,
                     output_height, output_width, phase_width):
    """Per-channel int8 CONV_2D through the tap pairs: (N, H, W, C_in) int8 ->
    (N, output_height, output_width, C_out) int8, the bits of
    :func:`kernels.int8_conv_phases.conv_per_channel`.

    columns, offsets, wpairs : the layout and :func:`column_pair_table` /
    :func:`pair_table` of the filter; pairs_shape : the layout's
    ``(rows, QL)`` (:func:`doubled_shape`, ``sh * C_in`` rows for the
    column layout); the other arguments as ``ConvParams``' fields.
    """
    batches = input_data.shape[0]
    output_depth = bias_data.shape[0]
    run = output_height * phase_width
    pairs = np.zeros(pairs_shape, np.int16)  # the padding stays zero across examples
    acc = np.empty((wpairs.shape[0], -(-run // LANES) * LANES), np.int32)  # padded_run(run)
    rows = np.empty((output_depth, acc.shape[1]), np.int8)
    out = np.empty((batches, output_height, output_width, output_depth), np.int8)
    for batch in range(batches):
        if columns:
            fill_columns(input_data[batch], pairs, input_offset, padding_values.height,
                         padding_values.width, stride_height, phase_width)
        else:
            fill_doubled(input_data[batch], pairs, input_offset, padding_values.height,
                         padding_values.width, stride_height, stride_width, phase_width)
        accumulate_pairs(pairs, offsets, wpairs, acc)
        output_rows(acc[:output_depth], bias_data, output_multiplier, output_shift,
                    output_offset, quantized_activation_min, quantized_activation_max, 0, rows)
        rows_to_nhwc(rows, phase_width, out[batch])
    return out


def prepare_pairs(filter_data, stride_height, stride_width, dilation_height_factor,
                  dilation_width_factor, phase_shape):
    """The layout and tables of :func:`conv_per_channel` for one filter:
    ``dict(columns, offsets, wpairs, pairs_shape, phase_width)``.

    ``phase_shape``: :func:`kernels.stride_phases.phase_shape` of the input.
    """
    columns = columns_apply(stride_width, dilation_width_factor)
    rows, width = doubled_shape(phase_shape, 0)
    if columns:
        rows = stride_height * filter_data.shape[3]  # row phases x input channels
        offsets, wpairs = column_pair_table(filter_data, stride_height, dilation_height_factor,
                                            phase_shape[4], width)
    else:
        offsets, wpairs = pair_table(filter_data, stride_height, stride_width,
                                     dilation_height_factor, dilation_width_factor,
                                     phase_shape[4], width)
    return dict(columns=columns, offsets=offsets, wpairs=wpairs, pairs_shape=(rows, width),
                phase_width=phase_shape[4])
