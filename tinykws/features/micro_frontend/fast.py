"""The frontend through its Numba kernel: the same uint16 features, fast enough for training.

``kernels/micro_frontend.py`` imports nothing from the library; this module
gives it what it needs, built from the reference's own definitions: a
:class:`~kernels.micro_frontend.FrontendParams` (every scalar of the
configuration and the C code's fixed-point constants, by name) and a
:class:`~kernels.micro_frontend.FrontendTables` (the reference's window,
filterbank, PCAN and log tables, and the FFT's twiddles and read order).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from kernels.micro_frontend import FrontendParams, FrontendTables, frontend
from kernels.micro_frontend_fft import fft_order
from tinykws.features import kissfft_fixed
from tinykws.features.micro_frontend import config as c
from tinykws.features.micro_frontend.config import MicroFrontendConfig
from tinykws.features.micro_frontend.tables import LOG_LUT, frontend_tables, pcan_shifts


def _q14(x: float) -> int:
    """``noise_reduction.c``'s Q14 setting: ``(int)(x * (1 << kNoiseReductionBits))``, truncated."""
    return int(np.float32(x) * (1 << c.NOISE_REDUCTION_BITS))


@lru_cache(maxsize=16)
def kernel_inputs(config: MicroFrontendConfig) -> tuple[FrontendParams, FrontendTables]:
    """The kernel's named parameters and tables for ``config`` (built once per config)."""
    window, fb, gain_lut = frontend_tables(config)
    snr_shift, _ = pcan_shifts(config)
    params = FrontendParams(
        window_size=config.window_size, stride=config.stride, fft_size=config.fft_size,
        num_channels=config.num_channels, smoothing_bits=config.smoothing_bits,
        even_smoothing=_q14(config.even_smoothing), odd_smoothing=_q14(config.odd_smoothing),
        min_signal_remaining=_q14(config.min_signal_remaining),
        enable_pcan=int(config.enable_pcan), snr_shift=snr_shift, enable_log=int(config.enable_log),
        scale_shift=config.scale_shift, input_correction_bits=config.input_correction_bits,
        window_bits=c.WINDOW_BITS, noise_reduction_bits=c.NOISE_REDUCTION_BITS,
        pcan_snr_bits=c.PCAN_SNR_BITS, pcan_output_bits=c.PCAN_OUTPUT_BITS,
        log_scale_log2=c.LOG_SCALE_LOG2, log_segments_log2=c.LOG_SEGMENTS_LOG2, log_coeff=c.LOG_COEFF)
    n = config.fft_size // 2  # complex FFT length inside the real FFT
    factors = kissfft_fixed.factorize(n)
    tw_re, tw_im = kissfft_fixed.twiddles(n)
    st_re, st_im = kissfft_fixed.super_twiddles(n)
    offsets = np.cumsum([0] + [len(w) for w in fb.weights]).astype(np.int64)  # (channels + 2,)

    def concatenated(per_channel) -> np.ndarray:
        return np.concatenate(per_channel).astype(np.int64) if offsets[-1] else np.zeros(0, np.int64)

    tables = FrontendTables(
        window=window.astype(np.int64), fft_order=fft_order(n, factors),
        fft_factors=np.array(factors, dtype=np.int64).reshape(-1, 2), twiddle_re=tw_re,
        twiddle_im=tw_im, super_twiddle_re=st_re, super_twiddle_im=st_im,
        filter_starts=np.array(fb.starts, np.int64), filter_offsets=offsets,
        filter_weights=concatenated(fb.weights), filter_unweights=concatenated(fb.unweights),
        gain_lut=gain_lut.astype(np.int64), log_lut=LOG_LUT)
    return params, tables


def micro_features_numba(samples: np.ndarray, config: MicroFrontendConfig = MicroFrontendConfig()) -> np.ndarray:
    """Frontend over one clip: (n,) int16 -> (frames, channels) uint16, on one thread."""
    samples = np.ascontiguousarray(samples)
    if samples.dtype != np.int16 or samples.ndim != 1:
        raise TypeError("samples must be a 1-D int16 array")
    return frontend(samples[None, :], config.num_frames(len(samples)), *kernel_inputs(config),
                    parallel=False)[0]


def micro_features_batch(samples: np.ndarray, config: MicroFrontendConfig = MicroFrontendConfig()) -> np.ndarray:
    """Frontend over clips in parallel: (N, n) int16 -> (N, frames, channels) uint16."""
    samples = np.ascontiguousarray(samples)
    if samples.dtype != np.int16 or samples.ndim != 2:
        raise TypeError("samples must be a 2-D (clips, samples) int16 array")
    return frontend(samples, config.num_frames(samples.shape[1]), *kernel_inputs(config), parallel=True)
