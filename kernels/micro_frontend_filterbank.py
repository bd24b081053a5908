"""Pass 1 of the micro frontend kernel: window, FFT and filterbank of ``LANES`` frames at once.

Everything up to the filterbank's square root depends on one frame alone, so
this pass runs on blocks of ``LANES`` frames (of one clip or of many), and
blocks run in parallel (``prange`` in :mod:`kernels.micro_frontend`, which
runs both passes).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from kernels.micro_frontend_fft import fft_lanes, fftr_post_lanes, i32, msb, w16

LANES = 16  # frames processed side by side in pass 1


@njit(cache=True)
def sqrt64(num):
    """``Sqrt64``/``Sqrt32`` of ``filterbank.c``: bit-by-bit root, rounded, capped (uint64)."""
    if num == 0:
        return np.uint64(0)
    if (num >> np.uint64(32)) == 0:
        bits = 32
        limit = np.uint64(0xFFFF)
    else:
        bits = 64
        limit = np.uint64(0xFFFFFFFF)
    nb = 0
    t = num
    while t > 0:
        t >>= np.uint64(1)
        nb += 1
    max_bit_number = (bits - nb) | 1
    bit = np.uint64(1) << np.uint64(bits - 1 - max_bit_number)
    res = np.uint64(0)
    for _ in range((bits - 1 - max_bit_number) // 2 + 1):
        if num >= res + bit:
            num -= res + bit
            res = (res >> np.uint64(1)) + bit
        else:
            res >>= np.uint64(1)
        bit >>= np.uint64(2)
    if num > res and res != limit:
        res += np.uint64(1)
    return res


@njit(cache=True)
def isqrt_rounded(num):
    """Same as :func:`sqrt64` (``Sqrt32``/``Sqrt64``) via a float first guess.

    The integer root is exact after the fix-ups; then, as C's bit-by-bit
    loop does, round to nearest unless at the 16-bit (32-bit) cap. Inputs
    of 2^52 and more (only from C's int32 wrap of energy 2^31) take the
    bit-by-bit path, where float guesses could overflow the fix-ups.
    """
    if num >= np.uint64(1) << np.uint64(52):
        return sqrt64(num)
    r = np.uint64(np.sqrt(np.float64(num)))
    while r * r > num:
        r -= np.uint64(1)
    while (r + np.uint64(1)) * (r + np.uint64(1)) <= num:
        r += np.uint64(1)
    limit = np.uint64(0xFFFF) if num < np.uint64(1) << np.uint64(32) else np.uint64(0xFFFFFFFF)
    if num - r * r > r and r != limit:
        r += np.uint64(1)
    return r


@njit(cache=True)
def filterbank_block(samples, out, block, p, t):
    """Pass 1 on frames ``block * LANES`` onwards (frames numbered clip-major).

    ``samples`` (N, n) int16 -> rows of ``out`` (N, frames, channels) int64:
    the filterbank's square-rooted energies of those frames. ``p`` and ``t``
    are a :class:`FrontendParams` and a :class:`FrontendTables`.
    """
    size, channels = p.window_size, p.num_channels
    num_frames = out.shape[1]
    total = samples.shape[0] * num_frames
    n = p.fft_size // 2
    first = block * LANES
    lanes = min(LANES, total - first)
    y = np.zeros((size, LANES), np.int64)  # windowed frames, one per column
    z_re = np.zeros((n, LANES), np.int64)
    z_im = np.zeros((n, LANES), np.int64)
    re = np.zeros((n + 1, LANES), np.int64)
    im = np.zeros((n + 1, LANES), np.int64)
    wsum = np.zeros((channels + 1, LANES), np.int64)  # int64 bits == C's uint64 sums
    usum = np.zeros((channels + 1, LANES), np.int64)
    shift = np.zeros(LANES, np.int64)
    for f in range(lanes):  # window, and the peak that sets the input shift
        clip = (first + f) // num_frames
        start = ((first + f) % num_frames) * p.stride
        peak = 0
        for i in range(size):
            v = (np.int64(samples[clip, start + i]) * t.window[i]) >> p.window_bits
            y[i, f] = v
            if v != -32768 and abs(v) > peak:  # C's int16 abs keeps -32768 negative
                peak = abs(v)
        shift[f] = 15 - msb(peak)  # scale the peak up to fill int16's 15 magnitude bits
    for j in range(n):  # pack even/odd samples in the FFT recursion's read order
        a = 2 * t.fft_order[j]
        for f in range(lanes):
            z_re[j, f] = w16(y[a, f] << shift[f]) if a < size else 0
            z_im[j, f] = w16(y[a + 1, f] << shift[f]) if a + 1 < size else 0
    fft_lanes(z_re, z_im, t.fft_factors, t.twiddle_re, t.twiddle_im, lanes)
    fftr_post_lanes(z_re, z_im, t.super_twiddle_re, t.super_twiddle_im, re, im, lanes)
    offsets = t.filter_offsets
    for c in range(channels + 1):
        for j in range(offsets[c + 1] - offsets[c]):
            w = t.filter_weights[offsets[c] + j]
            u = t.filter_unweights[offsets[c] + j]
            b = t.filter_starts[c] + j
            for f in range(lanes):
                # re^2 + im^2 stored in an int32 (2^31 wraps negative),
                # then widened to uint64: int64 arithmetic has the same bits.
                e = i32(re[b, f] * re[b, f] + im[b, f] * im[b, f])
                wsum[c, f] += w * e
                usum[c, f] += u * e
    for f in range(lanes):
        clip = (first + f) // num_frames
        frame = (first + f) % num_frames
        for c in range(channels):
            work = np.uint64(wsum[c + 1, f]) + np.uint64(usum[c, f])
            out[clip, frame, c] = np.int64(isqrt_rounded(work) >> np.uint64(shift[f]))


@njit(cache=True)
def num_blocks(num_clips, num_frames):
    """How many blocks of ``LANES`` frames cover every frame of every clip."""
    return (num_clips * num_frames + LANES - 1) // LANES
