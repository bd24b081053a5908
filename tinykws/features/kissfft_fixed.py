"""The 16-bit fixed-point real FFT of KISS FFT v1.3.0, as the micro frontend runs it.

TFLite-Micro's audio frontend computes its spectrum with Mark Borgerding's
KISS FFT compiled with ``FIXED_POINT=16`` (``kiss_fft.c`` and
``tools/kiss_fftr.c``). Every value is an int16; to stay in range, every
butterfly stage first divides its inputs by its radix, so an ``N``-point FFT
comes out scaled by ``1/N`` (and the real-FFT post-processing halves again).
Matching the frontend bit for bit means matching this arithmetic exactly:

- ``sround(x) = (x + 2**14) >> 15``, stored into an int16 (wrapping);
- ``C_FIXDIV(c, d)``: ``c = sround(c * (32767 // d))`` for real and imaginary part;
- ``C_MUL(a, b)``: ``(sround(ar*br - ai*bi), sround(ar*bi + ai*br))``;
- additions and subtractions are done in int and stored into int16 (wrapping);
- twiddles ``floor(0.5 + 32767 * cos(phase))`` and likewise ``sin``.

A real FFT of ``n`` samples packs them as ``n/2`` complex numbers (even
samples real, odd imaginary), runs the complex FFT, then untangles the two
half-spectra with the "super twiddles" ``exp(-i pi ((k+1)/(n/2) + 1/2))``.

Arrays here are int64 holding int16 values (so products cannot overflow
before the explicit wrap). Shapes: a complex vector is a pair ``(re, im)``
of ``(n,)`` arrays.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

FRACBITS = 15
SAMP_MAX = 32767


def wrap16(x: np.ndarray) -> np.ndarray:
    """Keep the low 16 bits as a signed value: C's store into an int16."""
    return ((x + 32768) & 0xFFFF) - 32768


def sround(x: np.ndarray) -> np.ndarray:
    """KISS FFT's ``sround``: round a Q30 product back to Q15 (half up), as int16."""
    return wrap16((x + (1 << (FRACBITS - 1))) >> FRACBITS)


def fixdiv(re: np.ndarray, im: np.ndarray, div: int) -> tuple[np.ndarray, np.ndarray]:
    """``C_FIXDIV``: divide by the radix by multiplying with ``32767 // div``."""
    k = SAMP_MAX // div
    return sround(re * k), sround(im * k)


def cmul(ar, ai, br, bi) -> tuple[np.ndarray, np.ndarray]:
    """``C_MUL``: fixed-point complex product."""
    return sround(ar * br - ai * bi), sround(ar * bi + ai * br)


def factorize(n: int) -> list[tuple[int, int]]:
    """``kf_factor``: radices 4 first, then 2, then odd primes; pairs ``(p, n/p)``."""
    factors = []
    p = 4
    floor_sqrt = math.floor(math.sqrt(n))
    while True:
        while n % p:
            p = {4: 2, 2: 3}.get(p, p + 2)
            if p > floor_sqrt:
                p = n
        n //= p
        factors.append((p, n))
        if n <= 1:
            return factors


def _cexp(phase: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``kf_cexp`` in fixed point: ``floor(0.5 + 32767 * cos/sin(phase))``."""
    return (np.floor(0.5 + SAMP_MAX * np.cos(phase)).astype(np.int64),
            np.floor(0.5 + SAMP_MAX * np.sin(phase)).astype(np.int64))


@lru_cache(maxsize=8)
def twiddles(nfft: int) -> tuple[np.ndarray, np.ndarray]:
    """Forward twiddles ``exp(-2 pi i k / nfft)``, k = 0..nfft-1, in Q15."""
    return _cexp(-2.0 * math.pi * np.arange(nfft) / nfft)


@lru_cache(maxsize=8)
def super_twiddles(ncfft: int) -> tuple[np.ndarray, np.ndarray]:
    """``kiss_fftr``'s ``exp(-i pi ((k+1)/ncfft + 1/2))``, k = 0..ncfft/2-1, in Q15."""
    k = np.arange(ncfft // 2)
    return _cexp(-math.pi * ((k + 1) / ncfft + 0.5))


def _butterfly2(re, im, m, fstride, tw):
    """``kf_bfly2``: combine two length-``m`` DFTs (rows of ``re``/``im``)."""
    k = np.arange(m) * fstride
    a_re, a_im = fixdiv(re[0], im[0], 2)
    b_re, b_im = fixdiv(re[1], im[1], 2)
    t_re, t_im = cmul(b_re, b_im, tw[0][k], tw[1][k])
    return (np.concatenate([wrap16(a_re + t_re), wrap16(a_re - t_re)]),
            np.concatenate([wrap16(a_im + t_im), wrap16(a_im - t_im)]))


def _butterfly4(re, im, m, fstride, tw):
    """``kf_bfly4``: combine four length-``m`` DFTs (forward transform)."""
    k = np.arange(m) * fstride
    f = [fixdiv(re[q], im[q], 4) for q in range(4)]
    s0 = cmul(*f[1], tw[0][k], tw[1][k])
    s1 = cmul(*f[2], tw[0][2 * k], tw[1][2 * k])
    s2 = cmul(*f[3], tw[0][3 * k], tw[1][3 * k])
    s5 = (wrap16(f[0][0] - s1[0]), wrap16(f[0][1] - s1[1]))
    f0 = (wrap16(f[0][0] + s1[0]), wrap16(f[0][1] + s1[1]))
    s3 = (wrap16(s0[0] + s2[0]), wrap16(s0[1] + s2[1]))
    s4 = (wrap16(s0[0] - s2[0]), wrap16(s0[1] - s2[1]))
    out = [
        (wrap16(f0[0] + s3[0]), wrap16(f0[1] + s3[1])),
        (wrap16(s5[0] + s4[1]), wrap16(s5[1] - s4[0])),
        (wrap16(f0[0] - s3[0]), wrap16(f0[1] - s3[1])),
        (wrap16(s5[0] - s4[1]), wrap16(s5[1] + s4[0])),
    ]
    return np.concatenate([o[0] for o in out]), np.concatenate([o[1] for o in out])


def _work(re, im, factors, fstride, tw):
    """``kf_work``: decimation in time, recursively, radix by radix.

    ``re``/``im`` are the (already decimated) inputs of this sub-DFT, length
    ``p*m``. The ``p`` sub-sequences ``x[q::p]`` are transformed recursively,
    then recombined by the radix-``p`` butterfly using every
    ``fstride``-th twiddle of the full-size table.
    """
    (p, m), rest = factors[0], factors[1:]
    if m == 1:
        subs_re, subs_im = re.reshape(p, 1), im.reshape(p, 1)
    else:
        subs = [_work(re[q::p], im[q::p], rest, fstride * p, tw) for q in range(p)]
        subs_re = np.stack([s[0] for s in subs])  # (p, m)
        subs_im = np.stack([s[1] for s in subs])
    if p == 4:
        return _butterfly4(subs_re, subs_im, m, fstride, tw)
    if p == 2:
        return _butterfly2(subs_re, subs_im, m, fstride, tw)
    raise ValueError(f"radix {p} not supported: the frontend's FFT sizes are powers of two")


def kiss_fft(re: np.ndarray, im: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forward fixed-point complex FFT of length ``n`` (a power of two), scaled by 1/n."""
    n = len(re)
    return _work(np.asarray(re, np.int64), np.asarray(im, np.int64), factorize(n), 1, twiddles(n))


def kiss_fftr(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forward fixed-point real FFT of ``nfft`` int16 samples.

    Returns ``(re, im)``, each ``(nfft // 2 + 1,)`` int16 values in int64:
    the spectrum scaled by ``1 / nfft``.
    """
    x = np.asarray(x, np.int64)  # (nfft,)
    ncfft = len(x) // 2
    z_re, z_im = kiss_fft(x[0::2], x[1::2])  # (ncfft,) the packed complex FFT
    out_re = np.zeros(ncfft + 1, np.int64)
    out_im = np.zeros(ncfft + 1, np.int64)
    # DC and Nyquist: sums of the even and of the odd samples.
    dc_re, dc_im = fixdiv(z_re[0], z_im[0], 2)
    out_re[0] = wrap16(dc_re + dc_im)
    out_re[ncfft] = wrap16(dc_re - dc_im)
    # The other bins, k = 1..ncfft/2, and their mirror images ncfft - k.
    k = np.arange(1, ncfft // 2 + 1)
    fpk = fixdiv(z_re[k], z_im[k], 2)
    fpnk = fixdiv(z_re[ncfft - k], wrap16(-z_im[ncfft - k]), 2)
    f1k = (wrap16(fpk[0] + fpnk[0]), wrap16(fpk[1] + fpnk[1]))
    f2k = (wrap16(fpk[0] - fpnk[0]), wrap16(fpk[1] - fpnk[1]))
    st_re, st_im = super_twiddles(ncfft)
    tw = cmul(*f2k, st_re[k - 1], st_im[k - 1])
    out_re[k] = wrap16((f1k[0] + tw[0]) >> 1)
    out_im[k] = wrap16((f1k[1] + tw[1]) >> 1)
    out_re[ncfft - k] = wrap16((f1k[0] - tw[0]) >> 1)
    out_im[ncfft - k] = wrap16((tw[1] - f1k[1]) >> 1)
    return out_re, out_im
