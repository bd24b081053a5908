"""Numba kernel of the training augmentation's arithmetic: a batch of clips shifted, mixed and clipped.

:func:`tinykws.data.augment.apply` (then :func:`tinykws.audio.to_int16`) is
the readable reference, one clip at a time in NumPy; this kernel computes
the identical int16 samples for a whole batch in one call, on one thread
(it is cheap, and a parallel region waits for busy cores). The random
draws are not made here: the caller draws them in TF's order and passes
them in as arrays. Per clip ``i`` and sample ``t``, in
float32 as the reference (no fused multiply-add, so every rounding lands the
same way):

    fg   = float32(clips[i, t - shift]) * 2^-15 * gain   (0 where t - shift is outside)
    mix  = noise[noise_start + t] * volume + fg          (only if noise_start >= 0)
    out  = int16(trunc(clip(mix, -1, 1) * 32768)), saturated to [-32768, 32767]

``noise`` is every background file concatenated (``noise_start`` points into
it), so the kernel takes plain arrays.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def mix_batch(clips, shifts, gains, noise, noise_starts, volumes, out):
    """clips : (N, n) int16; shifts, noise_starts : (N,) int64 (-1: no noise);
    gains, volumes : (N,) float32; noise : (total,) float32 -> out : (N, n) int16."""
    batches, n = clips.shape
    to_float = np.float32(1.0 / 32768.0)
    one = np.float32(1.0)
    full_scale = np.float32(32768.0)
    for i in range(batches):
        shift, gain, start, volume = shifts[i], gains[i], noise_starts[i], volumes[i]
        for t in range(n):
            source = t - shift
            x = np.float32(0.0)
            if 0 <= source < n:
                x = (np.float32(clips[i, source]) * to_float) * gain
            if start >= 0:
                x = noise[start + t] * volume + x
            if x > one:
                x = one
            elif x < -one:
                x = -one
            scaled = int(x * full_scale)  # truncates toward zero
            out[i, t] = 32767 if scaled > 32767 else scaled
