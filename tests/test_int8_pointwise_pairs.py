"""kernels.int8_pointwise_pairs: the 1x1 CONV_2D, two input channels per multiply-add,
against the NumPy reference convolution (itself tested against tflite-micro)."""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kernels.int8_pointwise_pairs import pointwise_conv_per_channel, weight_pairs
from tinykws.int8.conv import conv_per_channel
from tinykws.padding import PaddingValues


@settings(max_examples=120, deadline=None)
@given(n=st.integers(1, 3), h=st.integers(1, 9), w=st.integers(1, 9), c_in=st.integers(1, 70),
       c_out=st.integers(1, 40), seed=st.integers(0, 2 ** 32 - 1), left_shift=st.booleans())
def test_pointwise_pairs_equal_the_reference_convolution(n, h, w, c_in, c_out, seed, left_shift):
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, (n, h, w, c_in)).astype(np.int8)
    filters = rng.integers(-128, 128, (c_out, 1, 1, c_in)).astype(np.int8)
    bias = (rng.integers(-2000, 2000, c_out) * np.sqrt(c_in)).astype(np.int32)
    multiplier = rng.integers(1 << 30, 1 << 31, c_out).astype(np.int32)
    # A sum of c_in products of two ~U(int8) values is ~5500 * sqrt(c_in) in size; this
    # right shift brings it to tens of output steps, off the clamp bounds.
    shift = -(7 + round(0.5 * np.log2(c_in)) + rng.integers(0, 2, c_out)).astype(np.int32)
    if left_shift:  # one channel with a scale above 1: the general output stage
        shift[0] = 1
    args = dict(bias_data=bias, input_offset=int(rng.integers(-127, 129)),
                output_offset=int(rng.integers(-128, 128)), output_multiplier=multiplier,
                output_shift=shift, quantized_activation_min=-128, quantized_activation_max=127)
    expected = conv_per_channel(x, filters, padding_values=PaddingValues(0, 0), stride_width=1,
                                stride_height=1, dilation_width_factor=1,
                                dilation_height_factor=1, output_height=h, output_width=w,
                                **args)
    scaled_down = expected[..., 1:] if left_shift else expected  # a channel scaled up may clamp
    # A draw whose outputs are all one value (a tiny weight, say) tells little: rejected.
    assume(len(np.unique(scaled_down)) > 2 or scaled_down.size < 8)
    got = pointwise_conv_per_channel(x, weight_pairs(filters), c_out, **args)
    np.testing.assert_array_equal(got, expected)


def test_weight_pairs_layout():
    filters = np.arange(2 * 3).reshape(2, 1, 1, 3).astype(np.int8)  # c: [3c, 3c + 1, 3c + 2]
    wt = weight_pairs(filters)
    assert wt.shape == (2, 32)  # 2 pairs of input channels; 2 outputs padded to 16
    np.testing.assert_array_equal(wt[0, :4], [0, 1, 3, 4])  # pair 0 of outputs 0 and 1
    np.testing.assert_array_equal(wt[1, :4], [2, 0, 5, 0])  # the odd channel, zero beside it
    assert not wt[:, 4:].any()
