"""Fake quantization: the grid, the error bound, idempotence and the straight-through gradient."""

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinykws.quant.fake_quant import FakeQuant, QConfig, fake_quant_asymmetric, fake_quant_symmetric
from tinykws.quant.grid import asymmetric_params, symmetric_scales, tflite_round

# No subnormals: their float32 products keep too few bits to sit on any grid.
floats = st.floats(-100, 100, allow_nan=False, allow_subnormal=False, width=32)
arrays = hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=4, max_side=6), elements=floats)
bits = st.integers(2, 8)


@settings(max_examples=150)
@given(arrays, bits, st.booleans())
def test_symmetric_output_lies_on_the_grid_and_error_is_at_most_half_a_step(x, b, per_channel):
    axis = 0 if per_channel else None
    y, inside = fake_quant_symmetric(x, b, axis)
    x64 = x.astype(np.float64)
    peak = np.abs(x64).max(axis=tuple(range(1, x.ndim)), keepdims=True) if per_channel else np.abs(x64).max()
    s = np.where(peak > 0, peak / (2 ** (b - 1) - 1), 1.0).astype(np.float32).astype(np.float64)  # stored f32
    codes = y / s
    assert np.allclose(codes, np.round(codes), atol=1e-3)
    assert np.all(np.abs(np.round(codes)) <= 2 ** (b - 1) - 1)
    assert np.all(np.abs(y - x) <= s / 2 * (1 + 1e-5) + 1e-6)
    assert inside.all()  # the scale comes from max|x|: nothing is clamped


@settings(max_examples=150)
@given(arrays, bits, st.booleans())
def test_quantizing_twice_changes_nothing(x, b, per_channel):
    axis = 0 if per_channel else None
    once, _ = fake_quant_symmetric(x, b, axis)
    twice, _ = fake_quant_symmetric(once, b, axis)
    np.testing.assert_allclose(twice, once, rtol=1e-6, atol=1e-6)


@settings(max_examples=150)
@given(arrays, bits, st.floats(-50, 0), st.floats(0.01, 50))
@example(np.array([-1 / 3], np.float32), 2, -1 / 3, 1 / 3)  # float32(-1/3) lies just below lo
def test_asymmetric_grid_clamps_outside_the_range_and_keeps_zero_exact(x, b, lo, hi):
    y, inside = fake_quant_asymmetric(x, b, lo, hi)
    s, z = asymmetric_params(lo, hi, b)
    codes = np.round(y / s + z)
    assert np.all((codes >= -128) & (codes <= -129 + 2 ** b))  # int8's lowest 2^b codes
    assert np.allclose(y / s + z, codes, atol=1e-3)
    exact = x.astype(np.float64)  # compared with the float64 range, not rounded to float32
    within = (exact >= lo) & (exact <= hi)
    assert np.all(np.abs(y - x)[within] <= s / 2 * (1 + 1e-5) + 1e-6)
    assert np.all(inside[within])
    zero, _ = fake_quant_asymmetric(np.zeros(3, np.float32), b, lo, hi)
    assert np.all(zero == 0)
    again, _ = fake_quant_asymmetric(y, b, lo, hi)
    np.testing.assert_allclose(again, y, rtol=1e-5, atol=1e-5)


def test_asymmetric_after_relu_uses_every_code_from_zero():
    s, z = asymmetric_params(0.0, 15.0, 4)
    assert (s, z) == (1.0, -128)
    y, inside = fake_quant_asymmetric(np.array([-3.0, 0.4, 0.6, 14.5, 20.0], np.float32), 4, 0.0, 15.0)
    np.testing.assert_array_equal(y, [0, 0, 1, 15, 15])  # 14.5 rounds half away from zero
    np.testing.assert_array_equal(inside, [False, True, True, True, False])


@settings(max_examples=100)
@given(arrays, bits, st.sampled_from(["identity", "clipped"]))
def test_straight_through_gradient_shape_and_values(x, b, ste):
    q = FakeQuant(QConfig(b, "asymmetric", ste=ste, momentum=0.5))
    q.lo, q.hi = -1.0, 2.0  # a range most random values fall outside
    y = q.forward(x, training=False)
    dy = np.random.default_rng(0).normal(size=x.shape).astype(np.float32)
    dx = q.backward(dy)
    assert dx.shape == x.shape == y.shape
    if ste == "identity":
        np.testing.assert_array_equal(dx, dy)
    else:
        s, z = asymmetric_params(-1.0, 2.0, b)
        raw = tflite_round(x / s) + z
        np.testing.assert_array_equal(dx, np.where((raw >= -128) & (raw <= -129 + 2 ** b), dy, 0))


def test_running_range_is_a_moving_average_of_batch_extremes():
    q = FakeQuant(QConfig(8, "asymmetric", momentum=0.9))
    q.forward(np.array([0.0, 10.0], np.float32), training=True)
    q.forward(np.array([-2.0, 20.0], np.float32), training=True)
    assert q.lo == pytest.approx(0.9 * 0 + 0.1 * -2) and q.hi == pytest.approx(0.9 * 10 + 0.1 * 20)
    q.forward(np.array([-100.0, 100.0], np.float32), training=False)  # inference: frozen
    assert q.hi == pytest.approx(11.0)


def test_percentile_range_ignores_a_rare_outlier():
    x = np.concatenate([np.linspace(0, 1, 9999), [1000.0]]).astype(np.float32)
    q = FakeQuant(QConfig(8, "asymmetric", percentile=99.9))
    q.observe(x)
    assert q.hi == pytest.approx(np.percentile(x, 99.9)) and q.hi < 2


def test_symmetric_scale_of_an_all_zero_channel_is_harmless():
    np.testing.assert_array_equal(symmetric_scales(np.zeros(2), np.array([0.0, 1.27]), 8),
                                  np.float32([1.0, 0.01]))
    y, _ = fake_quant_symmetric(np.zeros((2, 3), np.float32), 4, axis=0)
    assert not y.any()


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="bits"):
        QConfig(1)
    with pytest.raises(ValueError, match="mode"):
        QConfig(8, "log")
    with pytest.raises(ValueError, match="grid"):
        QConfig(8, grid="half-range")
