"""NumPy references against hand-computed cases and against the Numba kernels.

Each pair has one name and one signature: ``tinykws.int8.conv.conv_per_channel``
(the reference) and ``kernels.int8_conv.conv_per_channel`` (the kernel), and so on.

(Agreement with tflite-micro itself is in ``test_int8_vs_tflm.py``.)
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from fixtures import conv_geometry
from hypothesis import strategies as st

from kernels import (
    int8_conv, int8_conv_gemm, int8_conv_phases, int8_depthwise_conv, int8_fully_connected,
    int8_quantize, int8_softmax)
from kernels.int8_conv_gemm import gemm_dtype, weights_matrix
from tinykws.int8 import conv, depthwise_conv, fully_connected, quantize, softmax
from tinykws.int8.quantize_multiplier import quantize_multipliers
from tinykws.int8.reshape import reshape
from tinykws.int8.softmax import softmax_params
from tinykws.padding import (
    PaddingValues, compute_out_size, compute_padding_height_width, compute_padding_with_offset)

seeds = st.integers(0, 2 ** 32 - 1)


def test_padding_and_output_size_of_tinyconv():
    # 49 x 40 input, 10 x 8 filter, stride 2, SAME: 25 x 20 out, pad 4 rows / 3 columns.
    assert compute_out_size("SAME", 49, 10, 2) == 25 and compute_out_size("SAME", 40, 8, 2) == 20
    assert compute_padding_with_offset(2, 1, 49, 10, 25) == (4, 1)  # 24*2 + 10 - 49 = 9 = 4+4+1
    assert compute_padding_with_offset(2, 1, 40, 8, 20) == (3, 0)  # 19*2 + 8 - 40 = 6 = 3+3
    assert compute_out_size("VALID", 49, 10, 2) == 20


def test_conv_one_by_one_identity_is_requantization():
    """A 1x1 conv with weight 1 and multiplier 1/2 halves x, ties toward +infinity.

    (The multiplier is exactly 2**30 with shift 0, so only SaturatingRoundingDoublingHighMul
    rounds: -1.5 -> -1 and 1.5 -> 2, -0.5 -> 0 and 0.5 -> 1.)
    """
    x = np.array([-128, -3, -1, 0, 1, 3, 127], np.int8).reshape(1, 1, 7, 1)
    multiplier, shift = quantize_multipliers([0.5])
    y = conv.conv_per_channel(x, np.ones((1, 1, 1, 1), np.int8), None, input_offset=0,
                              output_offset=0, output_multiplier=multiplier, output_shift=shift,
                              quantized_activation_min=-128, quantized_activation_max=127,
                              stride_width=1, stride_height=1, dilation_width_factor=1,
                              dilation_height_factor=1, padding_values=PaddingValues(0, 0),
                              output_height=1, output_width=7)
    assert y.ravel().tolist() == [-64, -1, 0, 0, 1, 2, 64]


def test_conv_padding_taps_contribute_nothing():
    """SAME 3x3 box filter on a 1x1 image: only the centre tap is inside."""
    x = np.array([[[[10]]]], np.int8)
    multiplier, shift = quantize_multipliers([1.0])
    y = conv.conv_per_channel(x, np.ones((1, 3, 3, 1), np.int8), np.array([0], np.int32),
                              input_offset=5, output_offset=0, output_multiplier=multiplier,
                              output_shift=shift, quantized_activation_min=-128,
                              quantized_activation_max=127, stride_width=1, stride_height=1,
                              dilation_width_factor=1, dilation_height_factor=1,
                              padding_values=PaddingValues(1, 1, 1, 1), output_height=1,
                              output_width=1)
    assert y.item() == 15  # 1 * (10 + 5); the 8 padded taps add 0, not 8 * 5


def test_fully_connected_hand_value():
    x = np.array([[1, 2, 3]], np.int8)
    w = np.array([[1, 1, 1], [1, -1, 0]], np.int8)
    multiplier, shift = quantize_multipliers([0.25])
    y = fully_connected.fully_connected(
        x, w, np.array([2, 0], np.int32), input_offset=1, weights_offset=0, output_offset=-1,
        output_multiplier=multiplier[0], output_shift=shift[0], quantized_activation_min=-128,
        quantized_activation_max=127)
    # acc = (2+3+4) + 2 = 11 -> 11/4 = 2.75 -> 3 -> 2 ; (2-3) = -1 -> -0.25 -> 0 -> -1
    assert y.tolist() == [[2, -1]]


def test_softmax_close_to_float_softmax():
    rng = np.random.default_rng(0)
    x = rng.integers(-128, 128, (500, 6)).astype(np.int8)
    scale, zp = 0.1, 3
    y = softmax.softmax(x, *softmax_params(scale))
    real = (x.astype(np.float64) - zp) * np.float32(scale)
    p = np.exp(real - real.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    assert np.abs((y.astype(np.float64) + 128) / 256 - p).max() <= 1.5 / 256


def test_softmax_equal_inputs_share_probability():
    y = softmax.softmax(np.full((1, 4), 7, np.int8), *softmax_params(0.5))
    assert y.tolist() == [[-64] * 4]  # 1/4 = 64/256 -> 64 - 128


def test_quantize_rounds_half_away_from_zero():
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5], np.float32)
    assert quantize.affine_quantize(x, 1.0, 0).tolist() == [1, 2, 3, -1, -2, -3]
    np.testing.assert_array_equal(int8_quantize.affine_quantize(x, 1.0, 0),
                                  quantize.affine_quantize(x, 1.0, 0))


def test_dequantize_hand_value():
    q = np.array([-128, 0, 5], np.int8)
    assert quantize.dequantize(q, 0.5, 5).tolist() == [-66.5, -2.5, 0.0]


def test_reshape_keeps_bytes_and_replaces_batch():
    x = np.arange(24, dtype=np.int8).reshape(2, 3, 4, 1)
    y = reshape(x, (1, 12))
    assert y.shape == (2, 12) and y.tobytes() == x.tobytes()
    with pytest.raises(ValueError):
        reshape(x, (1, 5))


def random_multipliers(rng, n):
    return quantize_multipliers(2.0 ** rng.uniform(-20, 4, n))


@settings(max_examples=60)
@given(seeds, st.integers(1, 3), st.integers(1, 2))
def test_conv_kernel_equals_reference(seed, stride, dilation):
    rng = np.random.default_rng(seed)
    n, h, w, c_in, c_out, kh, kw = 3, 11, 9, 2, 5, 3, 4
    x = rng.integers(-128, 128, (n, h, w, c_in)).astype(np.int8)
    f = rng.integers(-127, 128, (c_out, kh, kw, c_in)).astype(np.int8)
    b = rng.integers(-9999, 9999, c_out).astype(np.int32)
    m, s = random_multipliers(rng, c_out)
    padding = "SAME" if seed % 2 else "VALID"
    args = dict(conv_geometry(padding, h, w, kh, kw, stride, dilation),
                input_offset=int(rng.integers(-128, 128)),
                output_offset=int(rng.integers(-128, 128)), output_multiplier=m, output_shift=s,
                quantized_activation_min=-100, quantized_activation_max=120)
    np.testing.assert_array_equal(int8_conv.conv_per_channel(x, f, b, **args),
                                  conv.conv_per_channel(x, f, b, **args))


@settings(max_examples=60)
@given(seeds, st.integers(1, 3), st.integers(1, 2), st.sampled_from(["SAME", "VALID"]),
       st.integers(1, 40))
def test_conv_gemm_path_equals_reference(seed, stride, dilation, padding, batch):
    """Batches larger than the GEMM block (32) and a last partial block included."""
    rng = np.random.default_rng(seed)
    h, w, c_in, c_out, kh, kw = 10, 9, int(rng.integers(1, 4)), 5, 3, 4
    x = rng.integers(-128, 128, (batch, h, w, c_in)).astype(np.int8)
    f = rng.integers(-128, 128, (c_out, kh, kw, c_in)).astype(np.int8)
    b = rng.integers(-99999, 99999, c_out).astype(np.int32)
    m, s = random_multipliers(rng, c_out)
    args = dict(conv_geometry(padding, h, w, kh, kw, stride, dilation),
                input_offset=int(rng.integers(-127, 129)),
                output_offset=int(rng.integers(-128, 128)), output_multiplier=m, output_shift=s,
                quantized_activation_min=-128, quantized_activation_max=127)
    expected = conv.conv_per_channel(x, f, b, **args)
    got = int8_conv_gemm.conv_per_channel_gemm(x, f, b, **args,
                                               filter_matrix=weights_matrix(f, gemm_dtype(f)))
    np.testing.assert_array_equal(got, expected)


@settings(max_examples=150)
@given(seeds, st.integers(1, 3), st.integers(1, 3), st.integers(1, 2), st.integers(1, 2),
       st.sampled_from(["SAME", "VALID"]), st.integers(1, 4))
def test_conv_phase_kernel_equals_reference(seed, stride_h, stride_w, dilation_h, dilation_w,
                                            padding, batch):
    """The integer GEMM over stride phases: every geometry, full-range weights and offsets,
    tap counts that are and are not multiples of the eight taps of one pass."""
    rng = np.random.default_rng(seed)
    kh, kw, c_in, c_out = (int(v) for v in rng.integers(1, [6, 6, 4, 10]))
    h = int(rng.integers((kh - 1) * dilation_h + 1, 14))
    w = int(rng.integers((kw - 1) * dilation_w + 1, 14))
    x = rng.integers(-128, 128, (batch, h, w, c_in)).astype(np.int8)
    f = rng.integers(-128, 128, (c_out, kh, kw, c_in)).astype(np.int8)
    b = rng.integers(-5000, 5000, c_out).astype(np.int32)
    # Multipliers that put a typical sum (about 5500 * sqrt(taps)) tens of steps from zero.
    m, s = quantize_multipliers(2.0 ** rng.uniform(-2, 2, c_out) * 60
                                / (5500 * np.sqrt(kh * kw * c_in)))
    padding_values, oh, ow = compute_padding_height_width(
        padding, stride_h, stride_w, dilation_h, dilation_w, h, w, kh, kw)
    args = dict(padding_values=padding_values, stride_width=stride_w, stride_height=stride_h,
                dilation_width_factor=dilation_w, dilation_height_factor=dilation_h,
                output_height=oh, output_width=ow, input_offset=int(rng.integers(-127, 129)),
                output_offset=int(rng.integers(-128, 128)), output_multiplier=m,
                output_shift=s, quantized_activation_min=-128, quantized_activation_max=127)
    expected = conv.conv_per_channel(x, f, b, **args)
    # A draw whose outputs all saturate (a few outputs, a large bias) tells nothing: rejected.
    assume(len(np.unique(expected)) > 2 or expected.size < 8)
    np.testing.assert_array_equal(int8_conv_phases.conv_per_channel(x, f, b, **args), expected)
    # The runtime's path: tap pairs (column layout at stride 2 across, else doubled
    # phases), or the pixel pairs of a 1x1 stride-1 layer.
    runtime_path = conv.gemm(conv.ConvParams(filter_data=f, bias_data=b, **args))
    np.testing.assert_array_equal(runtime_path(x), expected)


def test_conv_phase_kernel_is_exact_beyond_float32():
    """1600 full-scale taps: sums past 2**24, where a float32 GEMM would round."""
    rng = np.random.default_rng(5)
    f = np.full((1, 40, 40, 1), -128, np.int8)
    x = rng.choice(np.array([-128, 127], np.int8), (2, 40, 40, 1))
    m, s = quantize_multipliers([2.0 ** -18])
    args = dict(conv_geometry("VALID", 40, 40, 40, 40, 1), input_offset=127, output_offset=0,
                output_multiplier=m, output_shift=s, quantized_activation_min=-128,
                quantized_activation_max=127)
    expected = conv.conv_per_channel(x, f, np.zeros(1, np.int32), **args)
    got = int8_conv_phases.conv_per_channel(x, f, np.zeros(1, np.int32), **args)
    np.testing.assert_array_equal(got, expected)
    assert -128 < expected.min() and expected.max() < 127  # not merely saturated


def test_conv_phase_tap_table_reads_the_right_pixels():
    """Stride 2, dilation 1: tap (ky, kx) reads phase (ky % 2, kx % 2) from row ky // 2,
    column kx // 2 of the phase; taps past KH * KW are zero-weight padding."""
    f = np.arange(1, 7, dtype=np.int8).reshape(1, 2, 3, 1)  # (C_out, KH, KW, C_in)
    phase, start, weights = int8_conv_phases.tap_table(f, 2, 2, 1, 1, 10)
    assert phase.tolist() == [0, 1, 0, 2, 3, 2, 0, 0]
    assert start.tolist() == [0, 0, 1, 0, 0, 1, 0, 0]
    assert weights.tolist() == [[1, 2, 3, 4, 5, 6, 0, 0]]


def test_gemm_dtype_keeps_every_partial_sum_exact():
    """float32 while 255 * max_c sum|w| < 2**24, then float64; and float64 stays exact."""
    # 514 taps of -128: 255 * 65792 = 16776960 < 2**24; one more tap crosses it.
    assert gemm_dtype(np.full((2, 514), -128, np.int8)) is np.float32
    assert gemm_dtype(np.full((2, 515), -128, np.int8)) is np.float64
    # Where float32 would round, the float64 GEMM still gives the int32 sum.
    rng = np.random.default_rng(5)
    f = np.full((1, 40, 40, 1), -128, np.int8)  # 1600 taps, sums up to 5.2e7 > 2**24
    x = rng.choice(np.array([-128, 127], np.int8), (1, 40, 40, 1))
    m, s = quantize_multipliers([2.0 ** -18])
    args = dict(conv_geometry("VALID", 40, 40, 40, 40, 1), input_offset=127, output_offset=0,
                output_multiplier=m, output_shift=s, quantized_activation_min=-128,
                quantized_activation_max=127)
    expected = conv.conv_per_channel(x, f, None, **args)
    got = int8_conv_gemm.conv_per_channel_gemm(x, f, np.zeros(1, np.int32), **args,
                                filter_matrix=weights_matrix(f, gemm_dtype(f)))
    np.testing.assert_array_equal(got, expected)
    exact_sum = int((x.astype(np.int64) + 127).ravel() @ f.astype(np.int64).ravel())
    assert abs(exact_sum) > 2 ** 24  # a float32 GEMM would not have been safe here
    assert -128 < expected.item() < 127  # and the output is not merely saturated


@settings(max_examples=60)
@given(seeds, st.integers(1, 3), st.integers(1, 3))
def test_depthwise_kernel_equals_reference(seed, stride, multiplier):
    rng = np.random.default_rng(seed)
    n, h, w, c_in, kh, kw = 2, 8, 10, 3, 3, 2
    c_out = c_in * multiplier
    x = rng.integers(-128, 128, (n, h, w, c_in)).astype(np.int8)
    f = rng.integers(-127, 128, (1, kh, kw, c_out)).astype(np.int8)
    b = rng.integers(-9999, 9999, c_out).astype(np.int32)
    m, s = random_multipliers(rng, c_out)
    args = dict(conv_geometry("SAME", h, w, kh, kw, stride), depth_multiplier=multiplier,
                input_offset=int(rng.integers(-128, 128)),
                output_offset=int(rng.integers(-128, 128)), output_multiplier=m, output_shift=s,
                quantized_activation_min=-128, quantized_activation_max=127)
    np.testing.assert_array_equal(int8_depthwise_conv.depthwise_conv_per_channel(x, f, b, **args),
                                  depthwise_conv.depthwise_conv_per_channel(x, f, b, **args))


@settings(max_examples=40, deadline=None)
@given(seeds, st.sampled_from(["SAME", "VALID"]), st.integers(1, 3), st.integers(1, 2),
       st.sampled_from([1, 2, 64]), st.integers(1, 3), st.booleans())
def test_depthwise_kernel_equals_reference_over_paddings_dilations_and_widths(
        seed, padding, stride, dilation, c_in, multiplier, saturating):
    """The channel-vectorised kernel, for DS-CNN's 64 channels too, and with the widest sums."""
    rng = np.random.default_rng(seed)
    n, h, w = 2, 9, 7
    kh, kw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    c_out = c_in * multiplier
    x = rng.integers(-128, 128, (n, h, w, c_in)).astype(np.int8)
    f = rng.integers(-127, 128, (1, kh, kw, c_out)).astype(np.int8)
    if saturating:  # every product at its extreme: the largest int32 sums the taps make
        x[:], f[:] = 127, -127
    b = rng.integers(-9999, 9999, c_out).astype(np.int32)
    m, s = random_multipliers(rng, c_out)
    args = dict(conv_geometry(padding, h, w, kh, kw, stride, dilation),
                depth_multiplier=multiplier, input_offset=int(rng.integers(-128, 128)),
                output_offset=int(rng.integers(-128, 128)), output_multiplier=m, output_shift=s,
                quantized_activation_min=-128, quantized_activation_max=127)
    np.testing.assert_array_equal(int8_depthwise_conv.depthwise_conv_per_channel(x, f, b, **args),
                                  depthwise_conv.depthwise_conv_per_channel(x, f, b, **args))


@settings(max_examples=60)
@given(seeds, st.booleans())
def test_fully_connected_kernel_equals_reference(seed, per_channel):
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, (7, 50)).astype(np.int8)
    f = rng.integers(-127, 128, (6, 50)).astype(np.int8)
    b = rng.integers(-9999, 9999, 6).astype(np.int32)
    m, s = random_multipliers(rng, 6 if per_channel else 1)
    weights_offset = 0 if per_channel else int(rng.integers(-3, 4))
    args = (int(rng.integers(-128, 128)), weights_offset, int(rng.integers(-128, 128)))
    np.testing.assert_array_equal(int8_fully_connected.fully_connected(x, f, b, *args, m, s,
                                                                       -128, 127),
                                  fully_connected.fully_connected(x, f, b, *args, m, s, -128, 127))


@settings(max_examples=60)
@given(seeds, st.floats(-14, 4), st.integers(1, 40))
def test_softmax_kernel_equals_reference(seed, log2_scale, depth):
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, (20, depth)).astype(np.int8)
    params = softmax_params(float(np.float32(2.0 ** log2_scale)))
    np.testing.assert_array_equal(int8_softmax.softmax(x, *params), softmax.softmax(x, *params))


@settings(max_examples=60)
@given(seeds, st.floats(-10, 2), st.integers(-128, 127))
def test_quantize_kernels_equal_reference(seed, log2_scale, zp):
    rng = np.random.default_rng(seed)
    scale = float(np.float32(2.0 ** log2_scale))
    x = (rng.normal(0, 100, 300) * scale).astype(np.float32)
    np.testing.assert_array_equal(int8_quantize.affine_quantize(x, scale, zp),
                                  quantize.affine_quantize(x, scale, zp))
    q = rng.integers(-128, 128, 300).astype(np.int8)
    np.testing.assert_array_equal(int8_quantize.dequantize(q, scale, zp),
                                  quantize.dequantize(q, scale, zp))
    m, s = quantize.requantize_params(scale, scale * 3.7)
    np.testing.assert_array_equal(int8_quantize.requantize(q, zp, -zp // 2, m, s),
                                  quantize.requantize(q, zp, -zp // 2, m, s))
