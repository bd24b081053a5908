"""The whole frontend: a clip of int16 audio in, ``(frames, channels)`` uint16 features out.

:func:`micro_features` is the reference: the stages of
:mod:`~tinykws.features.micro_frontend.stages` in order, frame after frame,
the noise estimate carried from one frame to the next.
"""

from __future__ import annotations

import numpy as np

from tinykws.features.micro_frontend.config import MicroFrontendConfig, msb32
from tinykws.features.micro_frontend.stages import (
    apply_window, filterbank_energies, log_scale, noise_reduction, pcan, spectrum)
from tinykws.features.micro_frontend.tables import frontend_tables, pcan_shifts


def micro_features(samples: np.ndarray, config: MicroFrontendConfig = MicroFrontendConfig()) -> np.ndarray:
    """Run the frontend over a whole clip of int16 samples.

    Parameters
    ----------
    samples : (n,) int16 audio at ``config.sample_rate``.

    Returns
    -------
    (frames, num_channels) uint16, ``frames = config.num_frames(n)``.
    """
    samples = np.asarray(samples)
    if samples.dtype != np.int16:
        raise TypeError(f"samples must be int16, not {samples.dtype}")
    tables = frontend_tables(config)
    estimate = np.zeros(config.num_channels, np.uint64)  # noise estimate, carried across frames
    frames = []
    for t in range(config.num_frames(len(samples))):
        start = t * config.stride
        frame, estimate = frame_features(samples[start:start + config.window_size], estimate,
                                         tables, config)
        frames.append(frame)
    return np.array(frames, dtype=np.uint16).reshape(-1, config.num_channels)


def frame_features(window: np.ndarray, estimate: np.ndarray, tables, config: MicroFrontendConfig):
    """One frame: ``window_size`` int16 samples and the noise estimate in, features and the
    new estimate out.

    The only state the frontend keeps between frames is the noise estimate
    ``(num_channels,)`` uint64, so this step is all a device needs to run the
    frontend on audio as it arrives (:class:`tinykws.stream.device.StreamingFrontend`).
    ``tables`` is :func:`frontend_tables` of ``config``.
    """
    coeffs, fb, lut = tables
    snr_shift, _ = pcan_shifts(config)
    windowed, peak = apply_window(window, coeffs)
    # Scale each frame up so its peak fills int16: the fixed-point FFT
    # then loses as few bits as possible; the filterbank undoes it.
    input_shift = 15 - msb32(peak)
    re, im = spectrum(windowed, input_shift, config.fft_size)
    signal = filterbank_energies(re, im, fb, input_shift)
    signal, estimate = noise_reduction(signal, estimate, config)
    if config.enable_pcan:
        signal = pcan(signal, estimate, lut, snr_shift)
    return log_scale(signal, config), estimate
