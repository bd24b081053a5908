"""kernels.pair_dot: the pmaddwd intrinsic, in every form this host can run, against NumPy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from llvmlite import binding
from numba import njit

from kernels.pair_dot import LANES, PATHS, ROWS, host_path, make_pair_dot4, pair_dot4_reference

FEATURE = {"avx512": "avx512bw", "avx2": "avx2", "generic": None}
RUNNABLE = [p for p in PATHS
            if FEATURE[p] is None or binding.get_host_cpu_features().get(FEATURE[p])]


def _caller(path):
    pair_dot4 = make_pair_dot4(path)

    @njit
    def call(acc, acc_index, q, q_base, q_offsets, wpairs):
        pair_dot4(acc, acc_index, q, q_base, q_offsets, wpairs)

    return call


CALLERS = {path: _caller(path) for path in RUNNABLE}


def test_the_host_path_is_one_this_host_runs():
    assert host_path() in RUNNABLE


@settings(max_examples=60, deadline=None)
@given(path=st.sampled_from(RUNNABLE), pairs=st.integers(0, 50), rows=st.integers(ROWS, 7),
       seed=st.integers(0, 2 ** 32 - 1), extreme=st.booleans())
def test_pair_dot4_equals_the_numpy_reference(path, pairs, rows, seed, extreme):
    rng = np.random.default_rng(seed)
    low, high = (-32767, 32768) if extreme else (-256, 256)  # extreme: the int32 sums wrap
    q = rng.integers(low, high, 700).astype(np.int16)
    offsets = rng.integers(0, 700 - 2 * LANES - 40, pairs).astype(np.int64)
    wpairs = rng.integers(-2 ** 31, 2 ** 31, (rows, pairs)).astype(np.int32)
    q_base, acc_index = int(rng.integers(0, 40)), int(rng.integers(0, 9))
    expected = rng.integers(-5, 5, (rows, 3 * LANES)).astype(np.int32)
    got = expected.copy()
    pair_dot4_reference(expected, acc_index, q, q_base, offsets, wpairs)
    CALLERS[path](got, acc_index, q, q_base, offsets, wpairs)
    np.testing.assert_array_equal(got, expected)  # the rows and columns outside kept too


def test_pair_dot4_reference_by_hand():
    q = np.arange(2 * LANES + 2, dtype=np.int16)  # pair l from 1: (1 + 2l, 2 + 2l)
    wpairs = np.array([[3 | (-2 << 16)], [0], [1], [1 << 16]], np.int32)  # (lo, hi) weights
    acc = np.zeros((ROWS, LANES), np.int32)
    pair_dot4_reference(acc, 0, q, 1, np.array([0]), wpairs)
    even, odd = np.arange(1, 2 * LANES, 2), np.arange(2, 2 * LANES + 1, 2)
    np.testing.assert_array_equal(acc, [3 * even - 2 * odd, 0 * even, even, odd])


@pytest.mark.parametrize("path", RUNNABLE)
def test_pair_dot4_with_no_pairs_writes_zeros(path):
    acc = np.ones((ROWS, LANES), np.int32)
    CALLERS[path](acc, 0, np.zeros(40, np.int16), 0, np.zeros(0, np.int64),
                  np.zeros((ROWS, 0), np.int32))
    assert not acc.any()
