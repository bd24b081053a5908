"""Every feature of one clip, computed once, for plots and files.

:func:`clip_features` is what ``tinykws features`` and the report call: it
turns a waveform into the arrays a student hands in, from the raw samples to
the int8 tensor the model sees. Plots (``tinykws.plots.features``) only draw
these arrays; they never recompute them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinykws.features import spectral

# The classic features use a 32 ms FFT (512 samples at 16 kHz) and a 10 ms hop;
# the micro frontend has its own 30 ms / 20 ms framing.
N_FFT = 512
HOP = 160
N_MELS = 40
N_MFCC = 13


@dataclass(frozen=True)
class ClipFeatures:
    """All features of one clip. Time-major: ``(frames, bins)``."""

    sample_rate: int
    waveform: np.ndarray  # (n,) float32 in [-1, 1]
    spectrum_hz: np.ndarray  # (n // 2 + 1,) bin frequencies
    spectrum: np.ndarray  # (n // 2 + 1,) |X[k]|
    spectrogram_db: np.ndarray  # (T, N_FFT // 2 + 1) dB
    mel_db: np.ndarray  # (T, N_MELS) dB
    mfcc: np.ndarray  # (T, N_MFCC)
    micro: np.ndarray  # (frames, channels) uint16: (49, 40) for a 1 s clip by default
    micro_int8: np.ndarray  # same shape, int8, the micro_speech model input
    hop_seconds: float  # frame hop of the classic features
    micro_stride_seconds: float  # frame hop of the micro features


def clip_features(waveform: np.ndarray, sample_rate: int = 16000,
                  micro_config=None) -> ClipFeatures:
    """Compute every feature of a float waveform in [-1, 1] at ``sample_rate`` Hz.

    ``micro_config`` (a :class:`MicroFrontendConfig`) sets the micro
    frontend's window, stride, channels and tables; default: micro_speech's.
    """
    from tinykws.audio import to_int16
    from tinykws.features.micro_frontend import MicroFrontendConfig, micro_features_numba
    from tinykws.features.model_input import to_int8_model_input

    x = np.asarray(waveform, dtype=np.float32)  # (n,)
    freqs, mag = spectral.magnitude_spectrum(x, sample_rate)
    power = spectral.power_spectrogram(x, N_FFT, HOP)  # (T, 257)
    mel = spectral.mel_spectrogram(x, sample_rate, N_FFT, HOP, N_MELS)  # (T, 40)
    config = micro_config or MicroFrontendConfig(sample_rate=sample_rate)
    micro = micro_features_numba(to_int16(x), config)  # (frames, 40) uint16
    return ClipFeatures(
        sample_rate=sample_rate,
        waveform=x,
        spectrum_hz=freqs,
        spectrum=mag,
        spectrogram_db=spectral.power_to_db(power),
        mel_db=spectral.power_to_db(mel),
        mfcc=spectral.mfcc(x, sample_rate, N_MFCC, N_FFT, HOP, N_MELS),
        micro=micro,
        micro_int8=to_int8_model_input(micro),
        hop_seconds=HOP / sample_rate,
        micro_stride_seconds=config.stride_ms / 1000.0,
    )
