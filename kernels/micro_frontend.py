"""Numba kernel of the TFLite-Micro audio frontend; same numbers as the NumPy reference.

:mod:`tinykws.features.micro_frontend` is the readable reference; this file
computes the identical uint16 features fast enough for training, where every
step needs the features of a batch of freshly augmented clips. It imports
nothing from the library: the library builds a :class:`FrontendParams`
(every scalar, named as the C code names it, from the reference's named
constants) and a :class:`FrontendTables` (window, twiddles, filterbank, PCAN
gain curve, log table: the reference's own tables) and calls
:func:`frontend` with them (``tinykws.features.micro_frontend.fast``), so both
share one definition. Only the per-frame integer work is re-written here as
flat loops:

- the KISS FFT recursion becomes an input permutation followed by its
  butterfly stages bottom-up (every block of a stage is independent, so the
  order of blocks does not change a single bit);
- C's int16/uint32/uint64 stores become explicit masks on int64/uint64.

The work splits in two passes. Everything up to the filterbank's square
root depends on one frame alone, so pass 1
(:mod:`kernels.micro_frontend_filterbank`, with the FFT of
:mod:`kernels.micro_frontend_fft`) runs it on ``LANES`` frames at once
(frames of one clip or of many), the frame index innermost: every butterfly
then becomes a short loop over independent frames that the compiler turns
into SIMD instructions, and blocks of frames run in parallel (``prange``).
Pass 2, here, carries the noise estimate from frame to frame, so it runs
each clip's frames in order (clips in parallel); it is cheap.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit, prange

from kernels.micro_frontend_fft import i32, msb, w16
from kernels.micro_frontend_filterbank import filterbank_block, num_blocks


class FrontendParams(NamedTuple):
    """The scalars of one frontend configuration, named as in the C code."""

    window_size: int  # samples per window
    stride: int  # samples between frames
    fft_size: int
    num_channels: int
    smoothing_bits: int  # noise_reduction.c's smoothing_bits
    even_smoothing: int  # Q14: C truncates the float settings, (int)(x * 16384)
    odd_smoothing: int  # Q14
    min_signal_remaining: int  # Q14
    enable_pcan: int  # 0 or 1
    snr_shift: int  # PCAN: gain_bits - input_correction_bits - kPcanSnrBits
    enable_log: int  # 0 or 1
    scale_shift: int  # log_scale.c's scale_shift
    input_correction_bits: int  # msb32(fft_size) - 1 - kFilterbankBits / 2
    window_bits: int  # kFrontendWindowBits
    noise_reduction_bits: int  # kNoiseReductionBits
    pcan_snr_bits: int  # kPcanSnrBits
    pcan_output_bits: int  # kPcanOutputBits
    log_scale_log2: int  # kLogScaleLog2
    log_segments_log2: int  # kLogSegmentsLog2
    log_coeff: int  # kLogCoeff


class FrontendTables(NamedTuple):
    """The tables of one configuration, all int64 (``n = fft_size / 2``)."""

    window: np.ndarray  # (window_size,) Q12 Hann window
    fft_order: np.ndarray  # (n,) where the FFT recursion reads each input (micro_frontend_fft.fft_order)
    fft_factors: np.ndarray  # (stages, 2) KISS FFT's (radix, m) per stage
    twiddle_re: np.ndarray  # (n,) Q15
    twiddle_im: np.ndarray
    super_twiddle_re: np.ndarray  # (n / 2,) Q15, the real FFT's untangling
    super_twiddle_im: np.ndarray
    filter_starts: np.ndarray  # (channels + 1,) first FFT bin of each channel
    filter_offsets: np.ndarray  # (channels + 2,) where each channel's weights start
    filter_weights: np.ndarray  # (sum of widths,) Q12 rising slopes, channels concatenated
    filter_unweights: np.ndarray  # (sum of widths,) Q12 falling slopes
    gain_lut: np.ndarray  # PCAN's piecewise-quadratic gain table
    log_lut: np.ndarray  # (129,) log_lut.c's kLogLut


@njit(cache=True)
def _fixed_log(x, p, log_lut):
    """``Log`` of ``log_scale.c``: ``ln(x) * 2^scale_shift`` for ``x > 1``."""
    one = p.log_scale_log2  # the fraction's bits: Q16
    integer = msb(x) - 1
    frac = i32(x - (1 << integer))
    if integer < one:
        frac = i32(frac << (one - integer))
    else:
        frac = frac >> (integer - one)
    base_seg = (frac & 0xFFFFFFFF) >> (one - p.log_segments_log2)
    seg_unit = (1 << one) >> p.log_segments_log2
    c0 = log_lut[base_seg]
    c1 = log_lut[base_seg + 1]
    rel_pos = i32((c1 - c0) * (frac - seg_unit * base_seg)) >> one
    fraction = (frac + c0 + rel_pos) & 0xFFFFFFFF
    log2 = ((integer << one) + fraction) & 0xFFFFFFFF
    rnd = (1 << one) // 2
    loge = ((p.log_coeff * log2 + rnd) >> one) & 0xFFFFFFFF
    return ((((loge << p.scale_shift) & 0xFFFFFFFF) + rnd) & 0xFFFFFFFF) >> one


@njit(cache=True)
def _pcan_gain(noise, p, gain_lut):
    """``WideDynamicFunction`` of ``pcan_gain_control.c`` (its literal constants kept)."""
    if noise <= 2:
        return gain_lut[noise]
    interval = msb(noise)
    base = 4 * interval - 6
    if interval < 11:
        frac = (noise << (11 - interval)) & 0x3FF
    else:
        frac = (noise >> (interval - 11)) & 0x3FF
    r = (gain_lut[base + 2] * frac) >> 5
    r = i32(r + i32(gain_lut[base + 1] << 5))
    r = i32(r * frac)
    r = (r + 16384) >> 15
    return w16(r + gain_lut[base])


@njit(cache=True)
def _temporal_clip(energies, out, p, t):
    """Pass 2 on one clip: noise reduction, PCAN and log, frame after frame.

    ``energies`` (frames, channels) int64 from pass 1 -> ``out`` uint16.
    """
    one = 1 << p.noise_reduction_bits  # Q14
    nr_bits = np.uint64(p.noise_reduction_bits)
    snr_bits, out_bits = p.pcan_snr_bits, p.pcan_output_bits
    estimate = np.zeros(p.num_channels, np.int64)  # the noise estimate, uint32 values
    for frame in range(energies.shape[0]):
        for c in range(p.num_channels):
            s = energies[frame, c]
            # noise reduction (noise_reduction.c)
            smoothing = p.even_smoothing if c % 2 == 0 else p.odd_smoothing
            scaled = (s << p.smoothing_bits) & 0xFFFFFFFF
            est = ((np.uint64(scaled) * np.uint64(smoothing)
                    + np.uint64(estimate[c]) * np.uint64(one - smoothing)) >> nr_bits)
            est = np.int64(est & np.uint64(0xFFFFFFFF))
            estimate[c] = est
            if est > scaled:
                est = scaled
            floor = ((s * p.min_signal_remaining) >> p.noise_reduction_bits) & 0xFFFFFFFF
            sub = (scaled - est) >> p.smoothing_bits
            s = sub if sub > floor else floor
            if p.enable_pcan:  # pcan_gain_control.c
                gain = _pcan_gain(estimate[c], p, t.gain_lut) & 0xFFFFFFFF
                snr = np.int64((np.uint64(s) * np.uint64(gain)) >> np.uint64(p.snr_shift))
                snr &= 0xFFFFFFFF
                if snr < (2 << snr_bits):  # PcanShrink
                    s = (snr * snr) >> (2 + 2 * snr_bits - out_bits)
                else:
                    s = (snr >> (snr_bits - out_bits)) - (1 << out_bits)
            if p.enable_log:  # log_scale.c
                correction = p.input_correction_bits
                if correction >= 0:
                    s = (s << correction) & 0xFFFFFFFF
                else:
                    s = s >> (-correction)
                s = _fixed_log(s, p, t.log_lut) if s > 1 else 0
            out[frame, c] = s if s < 0xFFFF else 0xFFFF


@njit(cache=True)
def _both_passes(samples, energies, out, p, t):
    """Pass 1 over all frames block by block, then pass 2 clip by clip (one thread)."""
    for block in range(num_blocks(samples.shape[0], out.shape[1])):
        filterbank_block(samples, energies, block, p, t)
    for b in range(energies.shape[0]):
        _temporal_clip(energies[b], out[b], p, t)


@njit(cache=True, parallel=True)
def _both_passes_parallel(samples, energies, out, p, t):
    """The same with blocks, then clips, spread over threads."""
    for block in prange(num_blocks(samples.shape[0], out.shape[1])):
        filterbank_block(samples, energies, block, p, t)
    for b in prange(energies.shape[0]):
        _temporal_clip(energies[b], out[b], p, t)


def frontend(samples: np.ndarray, num_frames: int, params: FrontendParams, tables: FrontendTables,
             parallel: bool) -> np.ndarray:
    """Both passes over (N, n) int16 clips -> (N, num_frames, channels) uint16.

    One clip runs on one thread: a parallel region costs more than a 1 s
    clip's work when the cores are busy elsewhere.
    """
    shape = (samples.shape[0], num_frames, params.num_channels)
    energies = np.zeros(shape, np.int64)  # (N, frames, channels)
    out = np.zeros(shape, np.uint16)  # (N, frames, channels)
    if energies.size:
        both = _both_passes_parallel if parallel else _both_passes
        both(np.ascontiguousarray(samples), energies, out, params, tables)
    return out
