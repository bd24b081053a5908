"""Minifloat rounding against a brute-force nearest value of the format's full value table."""

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tinykws.quant.fake_quant import fake_quant_minifloat
from tinykws.quant.minifloat import STUDY_FORMATS, MinifloatFormat, minifloat_round, parse_format


def test_e2m1_is_the_ocp_fp4_grid():
    assert MinifloatFormat(2, 1).values().tolist() == [0, 0.5, 1, 1.5, 2, 3, 4, 6]


@pytest.mark.parametrize("name, largest", [("E2M1", 6.0), ("E3M2", 28.0), ("E2M3", 7.5),
                                            ("E4M3", 480.0), ("E5M2", 114688.0)])
def test_largest_values(name, largest):
    assert parse_format(name).max_value == largest


def _brute_force(x: float, fmt: MinifloatFormat) -> float:
    """Nearest value of the table; ties to the one with an even mantissa code."""
    table = np.concatenate([-fmt.values()[::-1], fmt.values()])
    codes = np.concatenate([np.arange(len(fmt.values()))[::-1], np.arange(len(fmt.values()))])
    d = np.abs(table - x)
    best = np.flatnonzero(d == d.min())
    if len(best) > 1:
        best = [i for i in best if codes[i] % 2 == 0]
    return float(table[best[0]])


@settings(max_examples=400)
@given(st.sampled_from(STUDY_FORMATS), st.floats(-600, 600, allow_nan=False))
@example("E2M0", 3.0)  # a tie between 2 and 4: the even code is 2's (no mantissa bits)
@example("E3M0", -0.75)  # between 0.5 (code 2) and 1 (code 3)
def test_rounding_picks_the_nearest_value_ties_to_even(name, x):
    fmt = parse_format(name)
    assert minifloat_round(np.array([x]), fmt)[0] == _brute_force(x, fmt)


@pytest.mark.parametrize("name", STUDY_FORMATS)
def test_every_value_of_the_format_is_a_fixed_point(name):
    fmt = parse_format(name)
    v = np.concatenate([-fmt.values(), fmt.values()])
    np.testing.assert_array_equal(minifloat_round(v, fmt), v)


def test_subnormals_fill_the_gap_evenly():
    fmt = MinifloatFormat(3, 2)  # bias 3: smallest normal 2^-2, subnormal step 2^-4
    assert fmt.values()[:5].tolist() == [0, 1 / 16, 2 / 16, 3 / 16, 4 / 16]
    assert minifloat_round(np.array([0.03, 0.032]), fmt).tolist() == [0.0, 1 / 16]


def test_fake_quant_scales_the_peak_onto_the_largest_value():
    x = np.array([[-3.0, 0.2, 1.0], [0.5, 0.1, 0.0]], np.float32)
    y, _ = fake_quant_minifloat(x, MinifloatFormat(2, 1), axis=0)
    np.testing.assert_allclose(y[0], np.array([-6.0, 0.5, 2.0]) / 2, rtol=1e-6)  # row scale 3/6
    np.testing.assert_allclose(y[1], np.array([6.0, 1.0, 0.0]) / 12, rtol=1e-6)  # row scale 0.5/6


def test_bad_format_names_are_refused():
    for bad in ("E0M3", "M3E4", "E4", "fp8"):
        with pytest.raises(ValueError):
            parse_format(bad)
