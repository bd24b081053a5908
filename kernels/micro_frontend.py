"""Numba kernel of the TFLite-Micro audio frontend; same numbers as the NumPy reference.

:mod:`tinykws.features.micro_frontend` is the readable reference; this file
computes the identical uint16 features fast enough for training, where every
step needs the features of a batch of freshly augmented clips. The tables
(window, twiddles, filterbank, PCAN gain curve) come from the reference
module, so both share one definition; only the per-frame integer work is
re-written here as flat loops:

- the KISS FFT recursion becomes an input permutation followed by its
  butterfly stages bottom-up (every block of a stage is independent, so the
  order of blocks does not change a single bit);
- C's int16/uint32/uint64 stores become explicit masks on int64/uint64.

The work splits in two passes. Everything up to the filterbank's square
root depends on one frame alone, so pass 1 runs it on ``LANES`` frames at
once (frames of one clip or of many), the frame index innermost: every
butterfly then becomes a short loop over independent frames that the
compiler turns into SIMD instructions, and blocks of frames run in parallel
(``prange``). Pass 2 carries the noise estimate from frame to frame, so it
runs each clip's frames in order (clips in parallel); it is cheap.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numba import njit, prange

from tinykws.features import kissfft_fixed
from tinykws.features.micro_frontend import (
    LOG_LUT, MicroFrontendConfig, frontend_tables, msb32, pcan_shifts)


def _fft_order(n: int, factors: list[tuple[int, int]]) -> np.ndarray:
    """Where ``kf_work``'s recursion reads each input: the bottom-up permutation."""
    def order(idx, fs):
        p, m = fs[0]
        if m == 1:
            return idx
        return np.concatenate([order(idx[q::p], fs[1:]) for q in range(p)])
    return order(np.arange(n), factors)


@lru_cache(maxsize=16)
def _tables(config: MicroFrontendConfig):
    """Flat int64 arrays of every table the kernel needs (built once per config)."""
    window, fb, lut = frontend_tables(config)
    n = config.fft_size // 2  # complex FFT length inside the real FFT
    factors = kissfft_fixed.factorize(n)
    tw_re, tw_im = kissfft_fixed.twiddles(n)
    st_re, st_im = kissfft_fixed.super_twiddles(n)
    offsets = np.cumsum([0] + [len(w) for w in fb.weights]).astype(np.int64)
    weights = np.concatenate(fb.weights) if offsets[-1] else np.zeros(0, np.int64)
    unweights = np.concatenate(fb.unweights) if offsets[-1] else np.zeros(0, np.int64)
    snr_shift, _ = pcan_shifts(config)
    correction_bits = msb32(config.fft_size) - 1 - 6
    one = 1 << 14  # Q14 of noise_reduction.c; C truncates the float settings
    # params: the scalars, in the order _filterbank_block/_temporal_clip unpack them.
    params = np.array([
        config.window_size, config.stride, config.fft_size, config.num_channels,
        config.smoothing_bits, int(np.float32(config.even_smoothing) * one),
        int(np.float32(config.odd_smoothing) * one),
        int(np.float32(config.min_signal_remaining) * one), int(config.enable_pcan), snr_shift,
        int(config.enable_log), config.scale_shift, correction_bits], dtype=np.int64)
    return (params, window.astype(np.int64), _fft_order(n, factors),
            np.array(factors, dtype=np.int64).reshape(-1, 2), tw_re, tw_im, st_re, st_im,
            np.array(fb.starts, np.int64), offsets, weights, unweights, lut.astype(np.int64),
            LOG_LUT)


@njit(cache=True, inline="always")
def _w16(x):
    """Store into an int16: keep the low 16 bits, signed."""
    return ((x + 32768) & 0xFFFF) - 32768


@njit(cache=True, inline="always")
def _i32(x):
    """Store into an int32: keep the low 32 bits, signed."""
    return ((x + 2147483648) & 0xFFFFFFFF) - 2147483648


@njit(cache=True, inline="always")
def _sround(x):
    """KISS FFT's ``sround``: Q30 product back to Q15, half up, as int16."""
    return _w16((x + 16384) >> 15)


@njit(cache=True, inline="always")
def _msb(x):
    """``MostSignificantBit32``: 1-based index of the top set bit, 0 for 0."""
    n = 0
    while x > 0:
        x >>= 1
        n += 1
    return n


@njit(cache=True)
def _sqrt64(num):
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
def _fixed_log(x, scale_shift, log_lut):
    """``Log`` of ``log_scale.c``: ``ln(x) * 2^scale_shift`` for ``x > 1``."""
    integer = _msb(x) - 1
    frac = _i32(x - (1 << integer))
    if integer < 16:
        frac = _i32(frac << (16 - integer))
    else:
        frac = frac >> (integer - 16)
    base_seg = (frac & 0xFFFFFFFF) >> 9
    c0 = log_lut[base_seg]
    c1 = log_lut[base_seg + 1]
    rel_pos = _i32((c1 - c0) * (frac - 512 * base_seg)) >> 16
    fraction = (frac + c0 + rel_pos) & 0xFFFFFFFF
    log2 = ((integer << 16) + fraction) & 0xFFFFFFFF
    loge = ((45426 * log2 + 32768) >> 16) & 0xFFFFFFFF
    return ((((loge << scale_shift) & 0xFFFFFFFF) + 32768) & 0xFFFFFFFF) >> 16


LANES = 16  # frames processed side by side in pass 1


@njit(cache=True)
def _fft_lanes(z_re, z_im, factors, tw_re, tw_im, lanes):
    """KISS FFT butterfly stages, bottom-up, on ``lanes`` frames at once.

    ``z_re``/``z_im``: (n, LANES) int64, the packed complex input already in
    the recursion's read order; transformed in place.
    """
    n = z_re.shape[0]
    for s in range(factors.shape[0] - 1, -1, -1):
        p = factors[s, 0]
        m = factors[s, 1]
        fstride = n // (p * m)
        for base in range(0, n, p * m):
            for k in range(m):
                if p == 4:
                    i0 = base + k
                    i1 = i0 + m
                    i2 = i1 + m
                    i3 = i2 + m
                    w1r = tw_re[k * fstride]
                    w1i = tw_im[k * fstride]
                    w2r = tw_re[2 * k * fstride]
                    w2i = tw_im[2 * k * fstride]
                    w3r = tw_re[3 * k * fstride]
                    w3i = tw_im[3 * k * fstride]
                    for f in range(lanes):
                        a0r = _sround(z_re[i0, f] * 8191)  # C_FIXDIV(x, 4): 32767 // 4
                        a0i = _sround(z_im[i0, f] * 8191)
                        a1r = _sround(z_re[i1, f] * 8191)
                        a1i = _sround(z_im[i1, f] * 8191)
                        a2r = _sround(z_re[i2, f] * 8191)
                        a2i = _sround(z_im[i2, f] * 8191)
                        a3r = _sround(z_re[i3, f] * 8191)
                        a3i = _sround(z_im[i3, f] * 8191)
                        s0r = _sround(a1r * w1r - a1i * w1i)
                        s0i = _sround(a1r * w1i + a1i * w1r)
                        s1r = _sround(a2r * w2r - a2i * w2i)
                        s1i = _sround(a2r * w2i + a2i * w2r)
                        s2r = _sround(a3r * w3r - a3i * w3i)
                        s2i = _sround(a3r * w3i + a3i * w3r)
                        s5r = _w16(a0r - s1r)
                        s5i = _w16(a0i - s1i)
                        f0r = _w16(a0r + s1r)
                        f0i = _w16(a0i + s1i)
                        s3r = _w16(s0r + s2r)
                        s3i = _w16(s0i + s2i)
                        s4r = _w16(s0r - s2r)
                        s4i = _w16(s0i - s2i)
                        z_re[i0, f] = _w16(f0r + s3r)
                        z_im[i0, f] = _w16(f0i + s3i)
                        z_re[i2, f] = _w16(f0r - s3r)
                        z_im[i2, f] = _w16(f0i - s3i)
                        z_re[i1, f] = _w16(s5r + s4i)
                        z_im[i1, f] = _w16(s5i - s4r)
                        z_re[i3, f] = _w16(s5r - s4i)
                        z_im[i3, f] = _w16(s5i + s4r)
                else:  # radix 2
                    i0 = base + k
                    i1 = i0 + m
                    wr = tw_re[k * fstride]
                    wi = tw_im[k * fstride]
                    for f in range(lanes):
                        ar = _sround(z_re[i0, f] * 16383)  # C_FIXDIV(x, 2)
                        ai = _sround(z_im[i0, f] * 16383)
                        br = _sround(z_re[i1, f] * 16383)
                        bi = _sround(z_im[i1, f] * 16383)
                        tr = _sround(br * wr - bi * wi)
                        ti = _sround(br * wi + bi * wr)
                        z_re[i1, f] = _w16(ar - tr)
                        z_im[i1, f] = _w16(ai - ti)
                        z_re[i0, f] = _w16(ar + tr)
                        z_im[i0, f] = _w16(ai + ti)


@njit(cache=True)
def _fftr_post_lanes(z_re, z_im, st_re, st_im, re, im, lanes):
    """``kiss_fftr``'s untangling of the packed FFT into (n+1, LANES) bins."""
    n = z_re.shape[0]
    for f in range(lanes):
        dcr = _sround(z_re[0, f] * 16383)
        dci = _sround(z_im[0, f] * 16383)
        re[0, f] = _w16(dcr + dci)
        im[0, f] = 0
        re[n, f] = _w16(dcr - dci)
        im[n, f] = 0
    for k in range(1, n // 2 + 1):
        wr = st_re[k - 1]
        wi = st_im[k - 1]
        for f in range(lanes):
            pkr = _sround(z_re[k, f] * 16383)
            pki = _sround(z_im[k, f] * 16383)
            pnr = _sround(z_re[n - k, f] * 16383)
            pni = _sround(_w16(-z_im[n - k, f]) * 16383)
            f1r = _w16(pkr + pnr)
            f1i = _w16(pki + pni)
            f2r = _w16(pkr - pnr)
            f2i = _w16(pki - pni)
            twr = _sround(f2r * wr - f2i * wi)
            twi = _sround(f2r * wi + f2i * wr)
            re[k, f] = _w16((f1r + twr) >> 1)
            im[k, f] = _w16((f1i + twi) >> 1)
            re[n - k, f] = _w16((f1r - twr) >> 1)
            im[n - k, f] = _w16((twi - f1i) >> 1)


@njit(cache=True)
def _isqrt_rounded(num):
    """Same as :func:`_sqrt64` (``Sqrt32``/``Sqrt64``) via a float first guess.

    The integer root is exact after the fix-ups; then, as C's bit-by-bit
    loop does, round to nearest unless at the 16-bit (32-bit) cap. Inputs
    of 2^52 and more (only from C's int32 wrap of energy 2^31) take the
    bit-by-bit path, where float guesses could overflow the fix-ups.
    """
    if num >= np.uint64(1) << np.uint64(52):
        return _sqrt64(num)
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
def _filterbank_block(samples, out, block, params, window, order, factors, tw_re, tw_im, st_re,
                      st_im, starts, offsets, weights, unweights):
    """Pass 1 on frames ``block * LANES`` onwards (frames numbered clip-major).

    ``samples`` (N, n) int16 -> rows of ``out`` (N, frames, channels) int64:
    the filterbank's square-rooted energies of those frames.
    """
    size, stride, fft_size, channels = params[0], params[1], params[2], params[3]
    num_frames = out.shape[1]
    total = samples.shape[0] * num_frames
    n = fft_size // 2
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
        start = ((first + f) % num_frames) * stride
        peak = 0
        for i in range(size):
            v = (np.int64(samples[clip, start + i]) * window[i]) >> 12
            y[i, f] = v
            if v != -32768 and abs(v) > peak:  # C's int16 abs keeps -32768 negative
                peak = abs(v)
        shift[f] = 15 - _msb(peak)
    for j in range(n):  # pack even/odd samples in the FFT recursion's read order
        a = 2 * order[j]
        for f in range(lanes):
            z_re[j, f] = _w16(y[a, f] << shift[f]) if a < size else 0
            z_im[j, f] = _w16(y[a + 1, f] << shift[f]) if a + 1 < size else 0
    _fft_lanes(z_re, z_im, factors, tw_re, tw_im, lanes)
    _fftr_post_lanes(z_re, z_im, st_re, st_im, re, im, lanes)
    for c in range(channels + 1):
        for j in range(offsets[c + 1] - offsets[c]):
            w = weights[offsets[c] + j]
            u = unweights[offsets[c] + j]
            b = starts[c] + j
            for f in range(lanes):
                # re^2 + im^2 stored in an int32 (2^31 wraps negative),
                # then widened to uint64: int64 arithmetic has the same bits.
                e = _i32(re[b, f] * re[b, f] + im[b, f] * im[b, f])
                wsum[c, f] += w * e
                usum[c, f] += u * e
    for f in range(lanes):
        clip = (first + f) // num_frames
        t = (first + f) % num_frames
        for c in range(channels):
            work = np.uint64(wsum[c + 1, f]) + np.uint64(usum[c, f])
            out[clip, t, c] = np.int64(_isqrt_rounded(work) >> np.uint64(shift[f]))


@njit(cache=True)
def _filterbank_pass(samples, out, params, window, order, factors, tw_re, tw_im, st_re, st_im,
                     starts, offsets, weights, unweights):
    """Pass 1 over all frames, one block after another (one thread)."""
    for block in range((samples.shape[0] * out.shape[1] + LANES - 1) // LANES):
        _filterbank_block(samples, out, block, params, window, order, factors, tw_re, tw_im,
                          st_re, st_im, starts, offsets, weights, unweights)


@njit(cache=True, parallel=True)
def _filterbank_pass_parallel(samples, out, params, window, order, factors, tw_re, tw_im, st_re,
                              st_im, starts, offsets, weights, unweights):
    """Pass 1 over all frames, blocks spread over threads."""
    for block in prange((samples.shape[0] * out.shape[1] + LANES - 1) // LANES):
        _filterbank_block(samples, out, block, params, window, order, factors, tw_re, tw_im,
                          st_re, st_im, starts, offsets, weights, unweights)


@njit(cache=True)
def _temporal_clip(energies, out, params, gain_lut, log_lut):
    """Pass 2 on one clip: noise reduction, PCAN and log, frame after frame.

    ``energies`` (frames, channels) int64 from pass 1 -> ``out`` uint16.
    """
    channels = params[3]
    smoothing_bits, even, odd, min_remaining = params[4], params[5], params[6], params[7]
    enable_pcan, snr_shift, enable_log, scale_shift, correction = (
        params[8], params[9], params[10], params[11], params[12])
    one = 1 << 14
    estimate = np.zeros(channels, np.int64)  # the noise estimate, uint32 values
    for t in range(energies.shape[0]):
        for c in range(channels):
            s = energies[t, c]
            # noise reduction (noise_reduction.c)
            smoothing = even if c % 2 == 0 else odd
            scaled = (s << smoothing_bits) & 0xFFFFFFFF
            est = ((np.uint64(scaled) * np.uint64(smoothing)
                    + np.uint64(estimate[c]) * np.uint64(one - smoothing)) >> np.uint64(14))
            est = np.int64(est & np.uint64(0xFFFFFFFF))
            estimate[c] = est
            if est > scaled:
                est = scaled
            floor = ((s * min_remaining) >> 14) & 0xFFFFFFFF
            sub = (scaled - est) >> smoothing_bits
            s = sub if sub > floor else floor
            if enable_pcan:  # pcan_gain_control.c
                noise = estimate[c]
                if noise <= 2:
                    gain = gain_lut[noise]
                else:
                    interval = _msb(noise)
                    base = 4 * interval - 6
                    if interval < 11:
                        frac = (noise << (11 - interval)) & 0x3FF
                    else:
                        frac = (noise >> (interval - 11)) & 0x3FF
                    r = (gain_lut[base + 2] * frac) >> 5
                    r = _i32(r + _i32(gain_lut[base + 1] << 5))
                    r = _i32(r * frac)
                    r = (r + 16384) >> 15
                    gain = _w16(r + gain_lut[base])
                gain = gain & 0xFFFFFFFF
                snr = np.int64((np.uint64(s) * np.uint64(gain)) >> np.uint64(snr_shift))
                snr &= 0xFFFFFFFF
                if snr < (2 << 12):
                    s = (snr * snr) >> 20
                else:
                    s = (snr >> 6) - 64
            if enable_log:  # log_scale.c
                if correction >= 0:
                    s = (s << correction) & 0xFFFFFFFF
                else:
                    s = s >> (-correction)
                s = _fixed_log(s, scale_shift, log_lut) if s > 1 else 0
            out[t, c] = s if s < 0xFFFF else 0xFFFF


@njit(cache=True)
def _temporal_pass(energies, out, params, gain_lut, log_lut):
    """Pass 2 over (N, frames, channels) clips, one after another."""
    for b in range(energies.shape[0]):
        _temporal_clip(energies[b], out[b], params, gain_lut, log_lut)


@njit(cache=True, parallel=True)
def _temporal_pass_parallel(energies, out, params, gain_lut, log_lut):
    """Pass 2 with clips spread over threads."""
    for b in prange(energies.shape[0]):
        _temporal_clip(energies[b], out[b], params, gain_lut, log_lut)


def _run(samples: np.ndarray, config: MicroFrontendConfig, parallel: bool) -> np.ndarray:
    """Both passes over (N, n) int16 clips -> (N, frames, channels) uint16.

    One clip runs on one thread: a parallel region costs more than a 1 s
    clip's work when the cores are busy elsewhere.
    """
    (params, window, order, factors, tw_re, tw_im, st_re, st_im, starts, offsets, weights,
     unweights, gain_lut, log_lut) = _tables(config)
    shape = (samples.shape[0], config.num_frames(samples.shape[1]), config.num_channels)
    energies = np.zeros(shape, np.int64)  # (N, frames, channels)
    out = np.zeros(shape, np.uint16)  # (N, frames, channels)
    if energies.size:
        filterbank_pass = _filterbank_pass_parallel if parallel else _filterbank_pass
        temporal_pass = _temporal_pass_parallel if parallel else _temporal_pass
        filterbank_pass(samples, energies, params, window, order, factors, tw_re, tw_im,
                         st_re, st_im, starts, offsets, weights, unweights)
        temporal_pass(energies, out, params, gain_lut, log_lut)
    return out


def micro_features_numba(samples: np.ndarray, config: MicroFrontendConfig = MicroFrontendConfig()) -> np.ndarray:
    """Frontend over one clip: (n,) int16 -> (frames, channels) uint16."""
    samples = np.ascontiguousarray(samples)
    if samples.dtype != np.int16 or samples.ndim != 1:
        raise TypeError("samples must be a 1-D int16 array")
    return _run(samples[None, :], config, parallel=False)[0]


def micro_features_batch(samples: np.ndarray, config: MicroFrontendConfig = MicroFrontendConfig()) -> np.ndarray:
    """Frontend over clips in parallel: (N, n) int16 -> (N, frames, channels) uint16."""
    samples = np.ascontiguousarray(samples)
    if samples.dtype != np.int16 or samples.ndim != 2:
        raise TypeError("samples must be a 2-D (clips, samples) int16 array")
    return _run(samples, config, parallel=True)
