"""The KISS FFT of the micro frontend as Numba loops over lanes of frames, and C's integer stores.

Part of the Numba kernel of :mod:`kernels.micro_frontend`. KISS FFT's 16-bit
fixed-point real FFT (``tinykws.features.kissfft_fixed`` is the reference)
runs its recursion bottom-up: :func:`fft_order` permutes the input once,
then every stage's butterflies run over independent blocks, each butterfly
a short loop over ``lanes`` frames side by side (the frame index innermost,
so the compiler vectorises it). C's int16/int32 stores are explicit masks.
"""

from __future__ import annotations

import numpy as np
from numba import njit


def fft_order(n: int, factors: list[tuple[int, int]]) -> np.ndarray:
    """Where ``kf_work``'s recursion reads each input: the bottom-up permutation."""
    def order(idx, fs):
        p, m = fs[0]
        if m == 1:
            return idx
        return np.concatenate([order(idx[q::p], fs[1:]) for q in range(p)])
    return order(np.arange(n), factors)


@njit(cache=True, inline="always")
def w16(x):
    """Store into an int16: keep the low 16 bits, signed."""
    return ((x + 32768) & 0xFFFF) - 32768


@njit(cache=True, inline="always")
def i32(x):
    """Store into an int32: keep the low 32 bits, signed."""
    return ((x + 2147483648) & 0xFFFFFFFF) - 2147483648


@njit(cache=True, inline="always")
def sround(x):
    """KISS FFT's ``sround``: Q30 product back to Q15, half up, as int16."""
    return w16((x + 16384) >> 15)


@njit(cache=True, inline="always")
def msb(x):
    """``MostSignificantBit32``: 1-based index of the top set bit, 0 for 0."""
    n = 0
    while x > 0:
        x >>= 1
        n += 1
    return n


@njit(cache=True)
def fft_lanes(z_re, z_im, factors, tw_re, tw_im, lanes):
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
                        a0r = sround(z_re[i0, f] * 8191)  # C_FIXDIV(x, 4): 32767 // 4
                        a0i = sround(z_im[i0, f] * 8191)
                        a1r = sround(z_re[i1, f] * 8191)
                        a1i = sround(z_im[i1, f] * 8191)
                        a2r = sround(z_re[i2, f] * 8191)
                        a2i = sround(z_im[i2, f] * 8191)
                        a3r = sround(z_re[i3, f] * 8191)
                        a3i = sround(z_im[i3, f] * 8191)
                        s0r = sround(a1r * w1r - a1i * w1i)
                        s0i = sround(a1r * w1i + a1i * w1r)
                        s1r = sround(a2r * w2r - a2i * w2i)
                        s1i = sround(a2r * w2i + a2i * w2r)
                        s2r = sround(a3r * w3r - a3i * w3i)
                        s2i = sround(a3r * w3i + a3i * w3r)
                        s5r = w16(a0r - s1r)
                        s5i = w16(a0i - s1i)
                        f0r = w16(a0r + s1r)
                        f0i = w16(a0i + s1i)
                        s3r = w16(s0r + s2r)
                        s3i = w16(s0i + s2i)
                        s4r = w16(s0r - s2r)
                        s4i = w16(s0i - s2i)
                        z_re[i0, f] = w16(f0r + s3r)
                        z_im[i0, f] = w16(f0i + s3i)
                        z_re[i2, f] = w16(f0r - s3r)
                        z_im[i2, f] = w16(f0i - s3i)
                        z_re[i1, f] = w16(s5r + s4i)
                        z_im[i1, f] = w16(s5i - s4r)
                        z_re[i3, f] = w16(s5r - s4i)
                        z_im[i3, f] = w16(s5i + s4r)
                else:  # radix 2
                    i0 = base + k
                    i1 = i0 + m
                    wr = tw_re[k * fstride]
                    wi = tw_im[k * fstride]
                    for f in range(lanes):
                        ar = sround(z_re[i0, f] * 16383)  # C_FIXDIV(x, 2)
                        ai = sround(z_im[i0, f] * 16383)
                        br = sround(z_re[i1, f] * 16383)
                        bi = sround(z_im[i1, f] * 16383)
                        tr = sround(br * wr - bi * wi)
                        ti = sround(br * wi + bi * wr)
                        z_re[i1, f] = w16(ar - tr)
                        z_im[i1, f] = w16(ai - ti)
                        z_re[i0, f] = w16(ar + tr)
                        z_im[i0, f] = w16(ai + ti)


@njit(cache=True)
def fftr_post_lanes(z_re, z_im, st_re, st_im, re, im, lanes):
    """``kiss_fftr``'s untangling of the packed FFT into (n+1, LANES) bins."""
    n = z_re.shape[0]
    for f in range(lanes):
        dcr = sround(z_re[0, f] * 16383)
        dci = sround(z_im[0, f] * 16383)
        re[0, f] = w16(dcr + dci)
        im[0, f] = 0
        re[n, f] = w16(dcr - dci)
        im[n, f] = 0
    for k in range(1, n // 2 + 1):
        wr = st_re[k - 1]
        wi = st_im[k - 1]
        for f in range(lanes):
            pkr = sround(z_re[k, f] * 16383)
            pki = sround(z_im[k, f] * 16383)
            pnr = sround(z_re[n - k, f] * 16383)
            pni = sround(w16(-z_im[n - k, f]) * 16383)
            f1r = w16(pkr + pnr)
            f1i = w16(pki + pni)
            f2r = w16(pkr - pnr)
            f2i = w16(pki - pni)
            twr = sround(f2r * wr - f2i * wi)
            twi = sround(f2r * wi + f2i * wr)
            re[k, f] = w16((f1r + twr) >> 1)
            im[k, f] = w16((f1i + twi) >> 1)
            re[n - k, f] = w16((f1r - twr) >> 1)
            im[n - k, f] = w16((twi - f1i) >> 1)
