"""The quantization grids of tinykws.quant.grid, against worked examples."""

import numpy as np
import pytest

from tinykws.quant.grid import (
    asymmetric_params, symmetric_codes, symmetric_scales, symmetric_weights, tflite_round)


def test_tflite_round_goes_half_away_from_zero_where_numpy_goes_to_even():
    x = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.49, -0.51])
    np.testing.assert_array_equal(tflite_round(x), [-3, -2, -1, 1, 2, 3, 0, -1])
    np.testing.assert_array_equal(np.round(x), [-2, -2, 0, 0, 2, 2, 0, -1])


def test_tflite_grid_at_2_bits_leaves_half_the_weights_without_a_code():
    # max|w| / (2^(b-1) - 1) = 2.2 / 1: codes -1..1, so +-1.1 fall to 0.
    w = np.array([-2.2, -1.1, 0.0, 1.1])
    q, s = symmetric_weights(w, axis=None, bits=2)
    assert s.tolist() == [np.float32(2.2)] and q.tolist() == [-1, 0, 0, 0]
    assert symmetric_codes(2, "tflite") == (-1, 1)


def test_full_range_grid_at_2_bits_gives_every_weight_its_code():
    # max(-min / 2^(b-1), max / (2^(b-1) - 1)) = max(2.2 / 2, 1.1 / 1) = 1.1: codes -2..1.
    w = np.array([-2.2, -1.1, 0.0, 1.1])
    q, s = symmetric_weights(w, axis=None, bits=2, grid="full-range")
    assert s.tolist() == [np.float32(1.1)] and q.tolist() == [-2, -1, 0, 1]
    assert symmetric_codes(2, "full-range") == (-2, 1)


def test_the_grids_differ_only_when_the_weights_lean_negative():
    lo, hi = np.array([-1.28, -0.5, 0.0]), np.array([0.5, 1.27, 0.0])
    tflite = symmetric_scales(lo, hi, 8)
    full = symmetric_scales(lo, hi, 8, "full-range")
    np.testing.assert_array_equal(tflite, np.float32([1.28 / 127, 0.01, 1.0]))
    np.testing.assert_array_equal(full, np.float32([0.01, 0.01, 1.0]))  # -1.28 is code -128
    q, _ = symmetric_weights(np.array([[-1.28, 0.5], [-0.5, 1.27]]), axis=0, grid="full-range")
    assert q.tolist() == [[-128, 50], [-50, 127]]


def test_per_channel_weights_get_one_scale_per_output_channel():
    w = np.array([[1.0, -0.5], [0.0, 0.0], [0.25, 0.1]])
    q, s = symmetric_weights(w, axis=0)
    np.testing.assert_array_equal(s, np.float32([1 / 127, 1.0, 0.25 / 127]))
    assert q.tolist() == [[127, -64], [0, 0], [127, 51]]  # -63.5 -> -64, 50.8 -> 51


def test_activation_grid_covers_zero_and_rounds_the_signed_zero_point():
    assert asymmetric_params(0.0, 25.5) == (pytest.approx(0.1), -128)  # after a ReLU
    scale, zp = asymmetric_params(-1.0, 3.0)
    assert scale == np.float32(4 / 255) and zp == -64  # round(-128 + 63.75)
    assert asymmetric_params(1.0, 3.0, 4) == (pytest.approx(0.2), -128)  # widened down to 0
    # -128 + 1.5 = -126.5 rounds away from zero to -127 (TFLite rounds the signed value).
    assert asymmetric_params(-1.5, 1.5, 2) == (1.0, -127)
    assert asymmetric_params(0.0, 0.0, 8) == (1.0, -128)


def test_an_unknown_grid_is_refused():
    with pytest.raises(ValueError, match="grid"):
        symmetric_scales(np.zeros(1), np.ones(1), 8, "half-range")
