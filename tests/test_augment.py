"""TF's training augmentation: shift, background noise, silence; deterministic evaluation."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinykws.data import augment

N = 16000
LENGTHS = (48000, 40000, 20000)  # three background files


def _draws(n_draws, is_silence, seed=0, lengths=LENGTHS, **kwargs):
    rng = np.random.default_rng(seed)
    settings = augment.Augmentation(**kwargs)
    return [augment.draw_training(rng, is_silence, lengths, N, settings) for _ in range(n_draws)]


# -- time shift -----------------------------------------------------------


@given(hnp.arrays(np.float32, st.integers(1, 50), elements=st.floats(-1, 1, width=32)), st.data())
def test_time_shift_is_a_delay_with_zero_fill(x, data):
    n = len(x)
    s = data.draw(st.integers(-n, n))
    y = augment.time_shift(x, s)
    assert y.shape == (n,) and y.dtype == x.dtype
    expected = [x[t - s] if 0 <= t - s < n else 0.0 for t in range(n)]
    np.testing.assert_array_equal(y, expected)


def test_time_shift_follows_tfs_pad_and_slice_convention():
    x = np.array([1, 2, 3, 4], dtype=np.float32)
    # s > 0: pad s zeros in front, keep the first n: the word starts later.
    np.testing.assert_array_equal(augment.time_shift(x, 1), [0, 1, 2, 3])
    # s < 0: pad -s zeros behind, keep n from -s on: the word starts earlier.
    np.testing.assert_array_equal(augment.time_shift(x, -2), [3, 4, 0, 0])
    np.testing.assert_array_equal(augment.time_shift(x, 0), x)


# -- training draws -------------------------------------------------------


def test_shift_is_uniform_on_minus_1600_to_1599():
    shifts = np.array([d.shift for d in _draws(20000, False)])
    assert shifts.min() >= -1600 and shifts.max() <= 1599
    # Discrete uniform on [-1600, 1599]: mean -0.5, variance ((3200)^2 - 1) / 12.
    sigma_mean = math.sqrt((3200**2 - 1) / 12 / len(shifts))
    assert abs(shifts.mean() + 0.5) < 5 * sigma_mean
    # Each tenth of the range gets its share (binomial, p = 0.1).
    counts = np.histogram(shifts, bins=10, range=(-1600, 1600))[0]
    sigma = math.sqrt(len(shifts) * 0.1 * 0.9)
    assert np.all(np.abs(counts - len(shifts) * 0.1) < 5 * sigma)


def test_zero_time_shift_draws_no_shift():
    assert {d.shift for d in _draws(100, False, time_shift_samples=0)} == {0}


def test_noise_is_added_to_80_percent_of_word_clips_at_volume_below_0_1():
    draws = _draws(10000, False)
    with_noise = np.array([d.volume > 0 for d in draws])
    n, p = len(draws), 0.8
    sigma = math.sqrt(n * p * (1 - p))  # binomial standard deviation of the count
    assert abs(with_noise.sum() - n * p) < 5 * sigma
    volumes = np.array([d.volume for d in draws if d.volume > 0])
    assert volumes.max() < 0.1
    assert abs(volumes.mean() - 0.05) < 5 * 0.1 / math.sqrt(12 * len(volumes))


def test_background_frequency_and_volume_are_parameters():
    draws = _draws(4000, False, background_frequency=0.3, background_volume=0.5)
    share = np.mean([d.volume > 0 for d in draws])
    assert abs(share - 0.3) < 5 * math.sqrt(0.3 * 0.7 / len(draws))
    assert max(d.volume for d in draws) > 0.1 and max(d.volume for d in draws) < 0.5


def test_silence_always_gets_noise_at_volume_uniform_0_to_1():
    volumes = np.array([d.volume for d in _draws(10000, True)])
    assert volumes.min() >= 0 and volumes.max() < 1
    assert abs(volumes.mean() - 0.5) < 5 / math.sqrt(12 * len(volumes))
    assert abs(np.mean(volumes < 0.1) - 0.1) < 5 * math.sqrt(0.09 / len(volumes))


def test_background_file_and_window_are_uniform_and_in_range():
    draws = _draws(6000, True)
    index = np.array([d.background_index for d in draws])
    assert set(index) == {0, 1, 2}
    for i, length in enumerate(LENGTHS):
        offsets = np.array([d.background_offset for d in draws if d.background_index == i])
        assert offsets.min() >= 0 and offsets.max() < length - N  # randint(0, len - n)
        assert abs(len(offsets) - 2000) < 5 * math.sqrt(6000 * (1 / 3) * (2 / 3))


def test_without_background_files_only_the_shift_is_drawn():
    draws = _draws(200, False, lengths=())
    assert all(d.background_index is None and d.volume == 0 for d in draws)
    assert len({d.shift for d in draws}) > 100


def test_draws_come_only_from_the_given_generator():
    assert _draws(50, False, seed=3) == _draws(50, False, seed=3)
    assert _draws(50, False, seed=3) != _draws(50, False, seed=4)


# -- evaluation draws -----------------------------------------------------


def test_evaluation_word_clips_are_untouched():
    assert augment.draw_evaluation("validation", 7, False, LENGTHS, N) == augment.NO_AUGMENTATION


def test_evaluation_silence_noise_is_fixed_by_split_and_position():
    a = [augment.draw_evaluation("validation", i, True, LENGTHS, N) for i in range(200)]
    b = [augment.draw_evaluation("validation", i, True, LENGTHS, N) for i in range(200)]
    c = [augment.draw_evaluation("testing", i, True, LENGTHS, N) for i in range(200)]
    assert a == b and a != c
    assert all(d.shift == 0 and 0 <= d.volume < 1 for d in a)
    assert len({d.volume for d in a}) == 200


# -- applying a draw ------------------------------------------------------


def test_apply_shifts_adds_scaled_noise_and_clips():
    rng = np.random.default_rng(5)
    foreground = rng.uniform(-0.9, 0.9, N).astype(np.float32)
    background = [rng.uniform(-1, 1, L).astype(np.float32) for L in LENGTHS]
    draw = augment.Draw(shift=-700, background_index=1, background_offset=1234, volume=0.6)
    y = augment.apply(foreground, draw, background)
    shifted = np.concatenate([foreground[700:], np.zeros(700)])
    expected = np.clip(shifted + 0.6 * background[1][1234:1234 + N].astype(np.float64), -1, 1)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-6)
    assert y.min() == -1.0 and y.max() == 1.0  # loud enough that clipping happened


def test_silence_is_noise_alone():
    background = [np.full(20000, 0.5, dtype=np.float32)]
    draw = augment.Draw(shift=300, background_index=0, background_offset=10, volume=0.25)
    y = augment.apply(np.zeros(N, dtype=np.float32), draw, background)
    np.testing.assert_array_equal(y, np.full(N, 0.125, dtype=np.float32))


def test_zero_volume_leaves_the_shifted_clip():
    x = np.linspace(-0.5, 0.5, N, dtype=np.float32)
    draw = augment.Draw(shift=5, background_index=0, background_offset=0, volume=0.0)
    np.testing.assert_array_equal(augment.apply(x, draw, [np.ones(N + 10, np.float32)]),
                                  augment.time_shift(x, 5))


# -- the batch kernel -----------------------------------------------------


def test_the_batch_kernel_gives_the_reference_samples_bit_for_bit():
    """kernels.augment_mix.mix_batch == to_int16(augment.apply(...)) clip by clip."""
    from kernels.augment_mix import mix_batch
    from tinykws.audio import to_int16

    rng = np.random.default_rng(5)
    background = tuple(rng.uniform(-1, 1, n).astype(np.float32) for n in LENGTHS)
    starts = np.concatenate([[0], np.cumsum(LENGTHS)[:-1]])
    clips = rng.integers(-32768, 32768, (64, N)).astype(np.int16)  # full scale: clipping happens
    clips[:, :10] = [-32768, 32767, 0, 1, -1, 16384, -16384, 32767, -32768, 2]
    settings = augment.Augmentation(gain_db=(-6.0, 6.0), background_volume=0.9)
    draws = [augment.draw_training(rng, i % 5 == 0, LENGTHS, N, settings) for i in range(64)]
    draws[1] = augment.NO_AUGMENTATION
    draws[2] = augment.Draw(shift=-N, background_index=None, background_offset=0, volume=0.0)
    draws[3] = augment.Draw(shift=N, background_index=0, background_offset=0, volume=0.0)
    noisy = [d.background_index is not None and d.volume != 0.0 for d in draws]
    got = np.empty_like(clips)
    mix_batch(clips, np.array([d.shift for d in draws], np.int64),
              np.array([d.gain for d in draws], np.float32), np.concatenate(background),
              np.array([starts[d.background_index] + d.background_offset if on else -1
                        for d, on in zip(draws, noisy)], np.int64),
              np.array([d.volume for d in draws], np.float32), got)
    for clip, draw, row in zip(clips, draws, got):
        foreground = clip.astype(np.float32) * np.float32(1.0 / 32768.0)
        np.testing.assert_array_equal(row, to_int16(augment.apply(foreground, draw, background)))
    assert (got == 32767).any() and (got == -32768).any()
