"""kernels.int8_conv_pairs: two taps per multiply-add give the same int32 sums as one tap at a time."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels.int8_conv_pairs import (accumulate_pairs, column_pair_table, columns_apply,
                                     doubled_shape, fill_columns, fill_doubled, padded_run,
                                     pair_table)
from kernels.int8_conv_phases import accumulate, tap_table
from kernels.stride_phases import fill_phases, phase_shape
from tinykws.padding import compute_padding_height_width


def _both(image, filters, stride, dilation, padding, offset, columns=False):
    """(int8_conv_phases sums, int8_conv_pairs sums) of one image, each (C_out, run);
    ``columns``: the column layout instead of the doubled phases."""
    (h, w, c), (kh, kw) = image.shape, filters.shape[1:3]
    pad, out_h, _ = compute_padding_height_width(padding, *stride, *dilation, h, w, kh, kw)
    shape = phase_shape(h, w, c, stride[0], stride[1], pad)
    phases = np.zeros(shape, np.int16)
    fill_phases(image, phases, offset, pad.height, pad.width)
    phase, start, weights = tap_table(filters, *stride, *dilation, shape[4])
    run = out_h * shape[4]
    one_by_one = np.empty((filters.shape[0], run), np.int32)
    accumulate(phases.reshape(-1, shape[3] * shape[4]), phase, start, weights, one_by_one)

    doubled = np.zeros(doubled_shape(shape, run), np.int16)
    if columns:
        doubled = doubled[:stride[0] * c]  # row phases only
        fill_columns(image, doubled, offset, pad.height, pad.width, stride[0], shape[4])
        offsets, wpairs = column_pair_table(filters, stride[0], dilation[0], shape[4],
                                            doubled.shape[1])
    else:
        fill_doubled(image, doubled, offset, pad.height, pad.width, *stride, shape[4])
        offsets, wpairs = pair_table(filters, *stride, *dilation, shape[4], doubled.shape[1])
    paired = np.empty((wpairs.shape[0], padded_run(run)), np.int32)
    accumulate_pairs(doubled, offsets, wpairs, paired)
    return one_by_one, paired[:filters.shape[0], :run]


@settings(max_examples=150, deadline=None)
@given(kh=st.integers(1, 10), kw=st.integers(1, 8), sh=st.integers(1, 3), sw=st.integers(1, 3),
       dh=st.sampled_from([1, 1, 2]), dw=st.sampled_from([1, 1, 2]),
       padding=st.sampled_from(["SAME", "VALID"]), c_in=st.integers(1, 3),
       c_out=st.integers(1, 9), extra=st.tuples(st.integers(0, 12), st.integers(0, 12)),
       seed=st.integers(0, 2 ** 32 - 1))
def test_paired_sums_equal_the_tap_by_tap_sums(kh, kw, sh, sw, dh, dw, padding, c_in, c_out,
                                               extra, seed):
    rng = np.random.default_rng(seed)
    image = rng.integers(-128, 128, ((kh - 1) * dh + 1 + extra[0], (kw - 1) * dw + 1 + extra[1],
                                     c_in)).astype(np.int8)
    filters = rng.integers(-128, 128, (c_out, kh, kw, c_in)).astype(np.int8)
    offset = int(rng.integers(-127, 129))
    one_by_one, paired = _both(image, filters, (sh, sw), (dh, dw), padding, offset)
    np.testing.assert_array_equal(paired, one_by_one)
    if columns_apply(sw, dw):
        _, by_columns = _both(image, filters, (sh, sw), (dh, dw), padding, offset, columns=True)
        np.testing.assert_array_equal(by_columns, one_by_one)


def test_tiny_conv_taps_pair_up_completely():
    # 10x8 filter, stride 2: filter columns kx and kx + 2 share a phase and neighbouring
    # starts, so the 80 taps are 40 full pairs (no zero half) in 8 filters' rows.
    filters = (np.arange(8 * 10 * 8) % 127 + 1).reshape(8, 10, 8, 1).astype(np.int8)  # no zero
    pad, _, _ = compute_padding_height_width("SAME", 2, 2, 1, 1, 49, 40, 10, 8)  # TinyConv's
    shape = phase_shape(49, 40, 1, 2, 2, pad)
    offsets, wpairs = pair_table(filters, 2, 2, 1, 1, shape[4], doubled_shape(shape, 0)[1])
    assert offsets.shape == (40,) and wpairs.shape == (8, 40)
    low, high = wpairs << 16 >> 16, wpairs >> 16
    assert np.all(low != 0) and np.all(high != 0)
    # The pair of filter 0's first row, columns 0 and 2.
    assert (low[0, 0], high[0, 0]) == (filters[0, 0, 0, 0], filters[0, 0, 2, 0])


def test_tiny_conv_filter_columns_pair_up_in_the_column_layout():
    filters = (np.arange(8 * 10 * 8) % 127 + 1).reshape(8, 10, 8, 1).astype(np.int8)  # no zero
    pad, _, _ = compute_padding_height_width("SAME", 2, 2, 1, 1, 49, 40, 10, 8)
    shape = phase_shape(49, 40, 1, 2, 2, pad)
    assert columns_apply(2, 1) and not columns_apply(1, 1) and not columns_apply(2, 2)
    offsets, wpairs = column_pair_table(filters, 2, 1, shape[4], doubled_shape(shape, 0)[1])
    low, high = wpairs << 16 >> 16, wpairs >> 16
    assert offsets.shape == (40,) and np.all(low != 0) and np.all(high != 0)
    assert (low[0, 1], high[0, 1]) == (filters[0, 0, 2, 0], filters[0, 0, 3, 0])
