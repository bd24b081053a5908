"""Wilson intervals, weighted intervals and McNemar's test against worked values."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import binomtest

from tinykws.stats import mcnemar, weighted_interval, wilson_interval


def test_wilson_interval_of_a_worked_example():
    # 81 of 263 (Newcombe 1998's table): 0.3080 with Wilson interval 0.2553-0.3662.
    p = wilson_interval(81, 263)
    assert p.value == pytest.approx(81 / 263)
    assert (round(p.low, 4), round(p.high, 4)) == (0.2553, 0.3662)


def test_wilson_interval_at_the_ends_stays_inside_zero_one():
    zero, full = wilson_interval(0, 21), wilson_interval(21, 21)
    assert zero.low == 0.0 and 0.1 < zero.high < 0.2  # 0 of 21 still allows ~15 %
    assert full.high == 1.0 and 0.8 < full.low < 0.9


def test_wilson_interval_of_nothing_is_nan_and_bad_counts_are_refused():
    assert math.isnan(wilson_interval(0, 0).value)
    with pytest.raises(ValueError):
        wilson_interval(5, 4)


@given(st.integers(1, 5000), st.data())
def test_wilson_interval_holds_the_estimate_and_matches_scipy(n, data):
    k = data.draw(st.integers(0, n))
    p = wilson_interval(k, n)
    assert p.low <= p.value <= p.high
    ci = binomtest(k, n).proportion_ci(method="wilson")
    assert p.low == pytest.approx(ci.low, abs=1e-9) and p.high == pytest.approx(ci.high, abs=1e-9)


def test_weighted_interval_of_one_class_is_the_normal_interval():
    p = weighted_interval(np.array([0.8]), np.array([100]), np.array([1.0]))
    half = 1.959963984540054 * math.sqrt(0.8 * 0.2 / 100)
    assert (p.value, p.low, p.high) == pytest.approx((0.8, 0.8 - half, 0.8 + half))


def test_weighted_interval_normalises_weights_and_drops_empty_classes():
    p = weighted_interval(np.array([1.0, 0.5, 0.0]), np.array([10, 10, 0]), np.array([3.0, 1.0, 5.0]))
    assert p.value == pytest.approx(0.75 + 0.125)


def test_mcnemar_counts_discordant_pairs_and_gives_the_exact_binomial_p_value():
    a = np.array([True] * 10 + [False] * 2 + [True] * 50)
    b = np.array([False] * 10 + [True] * 2 + [True] * 50)
    t = mcnemar(a, b)
    assert (t.a_only, t.b_only) == (10, 2)
    assert t.p_value == pytest.approx(binomtest(2, 12, 0.5).pvalue)
    assert t.significant is True


def test_mcnemar_of_identical_classifiers_is_not_significant():
    a = np.array([True, False, True])
    t = mcnemar(a, a)
    assert (t.a_only, t.b_only, t.p_value, t.significant) == (0, 0, 1.0, False)


def test_mcnemar_needs_the_same_clips():
    with pytest.raises(ValueError):
        mcnemar(np.ones(3, bool), np.ones(4, bool))


def test_balanced_test_sees_a_failing_keyword_that_mcnemar_on_plain_correctness_misses():
    from tinykws.stats import paired_balanced_test

    labels = np.array([1] * 290 + [2] * 10)  # 97 % unknown
    good = np.ones(300, bool)
    good[:10] = False  # misses 10 unknown clips, finds every keyword
    lazy = labels == 1  # always "_unknown_": every keyword clip wrong
    assert mcnemar(good, lazy).p_value == 1.0  # 10 discordant clips each way: "no difference"
    t = paired_balanced_test(good, lazy, labels)
    assert t["difference"] == pytest.approx((280 / 290 + 1) / 2 - 0.5) and t["significant"]
    assert t["low"] <= t["difference"] <= t["high"]


def test_balanced_test_of_identical_outcomes_is_not_significant_and_is_seeded():
    from tinykws.stats import paired_balanced_test

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 200)
    a = rng.random(200) < 0.8
    assert paired_balanced_test(a, a, labels)["p_value"] == 1.0
    b = rng.random(200) < 0.8
    assert paired_balanced_test(a, b, labels) == paired_balanced_test(a, b, labels)
