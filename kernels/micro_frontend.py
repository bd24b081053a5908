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

``micro_features_batch`` runs clips in parallel (``prange``).
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
    one = 1 << 14
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
    return ((x + 32768) & 0xFFFF) - 32768


@njit(cache=True, inline="always")
def _i32(x):
    return ((x + 2147483648) & 0xFFFFFFFF) - 2147483648


@njit(cache=True, inline="always")
def _sround(x):
    return _w16((x + 16384) >> 15)


@njit(cache=True, inline="always")
def _msb(x):
    n = 0
    while x > 0:
        x >>= 1
        n += 1
    return n


@njit(cache=True)
def _kiss_fftr(x, order, factors, tw_re, tw_im, st_re, st_im, out_re, out_im, z_re, z_im):
    """Fixed-point real FFT of ``x`` (fft_size,) into ``out`` (fft_size//2+1,)."""
    n = order.shape[0]
    for j in range(n):  # pack even/odd samples, in the recursion's read order
        z_re[j] = x[2 * order[j]]
        z_im[j] = x[2 * order[j] + 1]
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
                    a0r = _sround(z_re[i0] * 8191)
                    a0i = _sround(z_im[i0] * 8191)
                    a1r = _sround(z_re[i1] * 8191)
                    a1i = _sround(z_im[i1] * 8191)
                    a2r = _sround(z_re[i2] * 8191)
                    a2i = _sround(z_im[i2] * 8191)
                    a3r = _sround(z_re[i3] * 8191)
                    a3i = _sround(z_im[i3] * 8191)
                    t1 = k * fstride
                    t2 = 2 * t1
                    t3 = 3 * t1
                    s0r = _sround(a1r * tw_re[t1] - a1i * tw_im[t1])
                    s0i = _sround(a1r * tw_im[t1] + a1i * tw_re[t1])
                    s1r = _sround(a2r * tw_re[t2] - a2i * tw_im[t2])
                    s1i = _sround(a2r * tw_im[t2] + a2i * tw_re[t2])
                    s2r = _sround(a3r * tw_re[t3] - a3i * tw_im[t3])
                    s2i = _sround(a3r * tw_im[t3] + a3i * tw_re[t3])
                    s5r = _w16(a0r - s1r)
                    s5i = _w16(a0i - s1i)
                    f0r = _w16(a0r + s1r)
                    f0i = _w16(a0i + s1i)
                    s3r = _w16(s0r + s2r)
                    s3i = _w16(s0i + s2i)
                    s4r = _w16(s0r - s2r)
                    s4i = _w16(s0i - s2i)
                    z_re[i0] = _w16(f0r + s3r)
                    z_im[i0] = _w16(f0i + s3i)
                    z_re[i2] = _w16(f0r - s3r)
                    z_im[i2] = _w16(f0i - s3i)
                    z_re[i1] = _w16(s5r + s4i)
                    z_im[i1] = _w16(s5i - s4r)
                    z_re[i3] = _w16(s5r - s4i)
                    z_im[i3] = _w16(s5i + s4r)
                else:  # radix 2
                    i0 = base + k
                    i1 = i0 + m
                    ar = _sround(z_re[i0] * 16383)
                    ai = _sround(z_im[i0] * 16383)
                    br = _sround(z_re[i1] * 16383)
                    bi = _sround(z_im[i1] * 16383)
                    t = k * fstride
                    tr = _sround(br * tw_re[t] - bi * tw_im[t])
                    ti = _sround(br * tw_im[t] + bi * tw_re[t])
                    z_re[i1] = _w16(ar - tr)
                    z_im[i1] = _w16(ai - ti)
                    z_re[i0] = _w16(ar + tr)
                    z_im[i0] = _w16(ai + ti)
    dcr = _sround(z_re[0] * 16383)
    dci = _sround(z_im[0] * 16383)
    out_re[0] = _w16(dcr + dci)
    out_im[0] = 0
    out_re[n] = _w16(dcr - dci)
    out_im[n] = 0
    for k in range(1, n // 2 + 1):
        pkr = _sround(z_re[k] * 16383)
        pki = _sround(z_im[k] * 16383)
        pnr = _sround(z_re[n - k] * 16383)
        pni = _sround(_w16(-z_im[n - k]) * 16383)
        f1r = _w16(pkr + pnr)
        f1i = _w16(pki + pni)
        f2r = _w16(pkr - pnr)
        f2i = _w16(pki - pni)
        twr = _sround(f2r * st_re[k - 1] - f2i * st_im[k - 1])
        twi = _sround(f2r * st_im[k - 1] + f2i * st_re[k - 1])
        out_re[k] = _w16((f1r + twr) >> 1)
        out_im[k] = _w16((f1i + twi) >> 1)
        out_re[n - k] = _w16((f1r - twr) >> 1)
        out_im[n - k] = _w16((twi - f1i) >> 1)


@njit(cache=True)
def _sqrt64(num):
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


@njit(cache=True)
def _clip(samples, out, params, window, order, factors, tw_re, tw_im, st_re, st_im,
          starts, offsets, weights, unweights, gain_lut, log_lut):
    """Frontend over one clip: ``samples`` (n,) int16 -> ``out`` (frames, channels) uint16."""
    size, stride, fft_size, channels = params[0], params[1], params[2], params[3]
    smoothing_bits, even, odd, min_remaining = params[4], params[5], params[6], params[7]
    enable_pcan, snr_shift, enable_log, scale_shift, correction = (
        params[8], params[9], params[10], params[11], params[12])
    half = fft_size // 2
    x = np.zeros(fft_size, np.int64)
    y = np.zeros(size, np.int64)
    re = np.zeros(half + 1, np.int64)
    im = np.zeros(half + 1, np.int64)
    z_re = np.zeros(half, np.int64)
    z_im = np.zeros(half, np.int64)
    energy = np.zeros(half + 1, np.uint64)
    estimate = np.zeros(channels, np.int64)
    signal = np.zeros(channels, np.int64)
    wsum = np.zeros(channels + 1, np.uint64)
    usum = np.zeros(channels + 1, np.uint64)
    one = 1 << 14
    for t in range(out.shape[0]):
        start = t * stride
        peak = 0
        for i in range(size):
            v = (np.int64(samples[start + i]) * window[i]) >> 12
            y[i] = v
            if v != -32768 and abs(v) > peak:
                peak = abs(v)
        shift = 15 - _msb(peak)
        for i in range(size):
            x[i] = _w16(y[i] << shift)
        _kiss_fftr(x, order, factors, tw_re, tw_im, st_re, st_im, re, im, z_re, z_im)
        for i in range(half + 1):
            e = (re[i] * re[i] + im[i] * im[i]) & 0xFFFFFFFF
            if e >= 2147483648:  # an int32 holding it, then widened to uint64
                energy[i] = np.uint64(e) + np.uint64(0xFFFFFFFF00000000)
            else:
                energy[i] = np.uint64(e)
        for c in range(channels + 1):
            w = np.uint64(0)
            u = np.uint64(0)
            for j in range(offsets[c + 1] - offsets[c]):
                w += np.uint64(weights[offsets[c] + j]) * energy[starts[c] + j]
                u += np.uint64(unweights[offsets[c] + j]) * energy[starts[c] + j]
            wsum[c] = w
            usum[c] = u
        for c in range(channels):
            signal[c] = np.int64(_sqrt64(wsum[c + 1] + usum[c]) >> np.uint64(shift))
        for c in range(channels):  # noise reduction
            smoothing = even if c % 2 == 0 else odd
            s = signal[c]
            scaled = (s << smoothing_bits) & 0xFFFFFFFF
            est = ((np.uint64(scaled) * np.uint64(smoothing)
                    + np.uint64(estimate[c]) * np.uint64(one - smoothing)) >> np.uint64(14))
            est = np.int64(est & np.uint64(0xFFFFFFFF))
            estimate[c] = est
            if est > scaled:
                est = scaled
            floor = ((s * min_remaining) >> 14) & 0xFFFFFFFF
            sub = (scaled - est) >> smoothing_bits
            signal[c] = sub if sub > floor else floor
        if enable_pcan:
            for c in range(channels):
                noise = estimate[c]
                if noise <= 2:
                    gain = gain_lut[noise]
                else:
                    interval = _msb(noise)
                    b = 4 * interval - 6
                    if interval < 11:
                        frac = (noise << (11 - interval)) & 0x3FF
                    else:
                        frac = (noise >> (interval - 11)) & 0x3FF
                    r = (gain_lut[b + 2] * frac) >> 5
                    r = _i32(r + _i32(gain_lut[b + 1] << 5))
                    r = _i32(r * frac)
                    r = (r + 16384) >> 15
                    gain = _w16(r + gain_lut[b])
                gain = gain & 0xFFFFFFFF
                snr = np.int64((np.uint64(signal[c]) * np.uint64(gain)) >> np.uint64(snr_shift))
                snr &= 0xFFFFFFFF
                if snr < (2 << 12):
                    signal[c] = (snr * snr) >> 20
                else:
                    signal[c] = (snr >> 6) - 64
        for c in range(channels):
            v = signal[c]
            if enable_log:
                if correction >= 0:
                    v = (v << correction) & 0xFFFFFFFF
                else:
                    v = v >> (-correction)
                v = _fixed_log(v, scale_shift, log_lut) if v > 1 else 0
            out[t, c] = v if v < 0xFFFF else 0xFFFF


@njit(cache=True, parallel=True)
def _batch(samples, out, params, window, order, factors, tw_re, tw_im, st_re, st_im,
           starts, offsets, weights, unweights, gain_lut, log_lut):
    for b in prange(samples.shape[0]):
        _clip(samples[b], out[b], params, window, order, factors, tw_re, tw_im, st_re, st_im,
              starts, offsets, weights, unweights, gain_lut, log_lut)


def micro_features_numba(samples: np.ndarray, config: MicroFrontendConfig = MicroFrontendConfig()) -> np.ndarray:
    """Frontend over one clip: (n,) int16 -> (frames, channels) uint16."""
    samples = np.ascontiguousarray(samples)
    if samples.dtype != np.int16 or samples.ndim != 1:
        raise TypeError("samples must be a 1-D int16 array")
    out = np.zeros((config.num_frames(len(samples)), config.num_channels), np.uint16)
    _clip(samples, out, *_tables(config))
    return out


def micro_features_batch(samples: np.ndarray, config: MicroFrontendConfig = MicroFrontendConfig()) -> np.ndarray:
    """Frontend over clips in parallel: (N, n) int16 -> (N, frames, channels) uint16."""
    samples = np.ascontiguousarray(samples)
    if samples.dtype != np.int16 or samples.ndim != 2:
        raise TypeError("samples must be a 2-D (clips, samples) int16 array")
    out = np.zeros((samples.shape[0], config.num_frames(samples.shape[1]), config.num_channels),
                   np.uint16)
    _batch(samples, out, *_tables(config))
    return out
