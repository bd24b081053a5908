"""Classic audio features in NumPy: spectrum, spectrogram, mel and MFCC.

These are the features a student plots before meeting the TFLite-Micro
frontend. Conventions follow librosa (so results can be checked against it)
with one deliberate change: every time-frequency array here is **time-major**,
``(frames, bins)``, like the micro frontend's ``(frames, channels)`` and the
model input ``(49, 40)``; librosa returns ``(bins, frames)``.

Units: sample rates in Hz, times in seconds, frequencies in Hz, power in
squared amplitude of a waveform in [-1, 1], decibels relative to ``ref``.

References
----------
- STFT with a periodic Hann window, frames centred on ``t * hop`` (``center=True``
  pads ``n_fft // 2`` zeros each side), as librosa >= 0.10.
- Mel scales: HTK, ``mel = 2595 log10(1 + f / 700)`` (Young et al., *The HTK
  Book*); Slaney, linear below 1 kHz (``f / (200/3)``) and logarithmic above
  (``15 + 27 ln(f / 1000) / ln 6.4``) (Slaney, *Auditory Toolbox*, 1998).
- Slaney area normalisation: each triangle is scaled by ``2 / (f_hi - f_lo)``
  so every filter has unit area in Hz.
- MFCC: orthonormal DCT-II of the log-mel (dB) spectrum along the mel axis
  (Davis & Mermelstein, 1980).
"""

from __future__ import annotations

import numpy as np


def hann_window(n: int) -> np.ndarray:
    """Periodic Hann window ``0.5 - 0.5 cos(2 pi i / n)``, shape ``(n,)``.

    Periodic (not symmetric) because an STFT tiles the window: the periodic
    form makes overlapped windows at hop ``n/2`` or ``n/4`` sum to a constant.
    """
    i = np.arange(n)
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * i / n)).astype(np.float64)


def magnitude_spectrum(x: np.ndarray, sample_rate: int, n_fft: int | None = None,
                       window: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """One-sided FFT magnitude of a whole clip.

    Parameters
    ----------
    x : (n,) float waveform.
    sample_rate : Hz.
    n_fft : FFT length (zero-padded or truncated); defaults to ``len(x)``.
    window : multiply by a Hann window first, to reduce leakage.

    Returns
    -------
    freqs : (n_fft // 2 + 1,) bin centre frequencies in Hz, ``k * sr / n_fft``.
    magnitude : (n_fft // 2 + 1,) ``|X[k]|``, in waveform units (not normalised).
    """
    x = np.asarray(x, dtype=np.float64)
    n_fft = len(x) if n_fft is None else n_fft
    if window:
        x = x * hann_window(len(x))
    spectrum = np.fft.rfft(x, n=n_fft)  # (n_fft//2+1,) complex
    freqs = np.arange(n_fft // 2 + 1) * sample_rate / n_fft
    return freqs, np.abs(spectrum)


def frame_signal(x: np.ndarray, frame_length: int, hop_length: int) -> np.ndarray:
    """Cut ``x`` into overlapping frames: shape ``(frames, frame_length)``.

    ``frames = 1 + (len(x) - frame_length) // hop_length``; a view, no copy.
    """
    if len(x) < frame_length:
        raise ValueError(f"signal of {len(x)} samples is shorter than one frame ({frame_length})")
    n_frames = 1 + (len(x) - frame_length) // hop_length
    return np.lib.stride_tricks.as_strided(
        x, shape=(n_frames, frame_length), strides=(x.strides[0] * hop_length, x.strides[0]),
        writeable=False,
    )


def stft(x: np.ndarray, n_fft: int = 512, hop_length: int = 160, center: bool = True) -> np.ndarray:
    """Short-time Fourier transform with a periodic Hann window of ``n_fft``.

    Frame ``t`` covers samples ``[t*hop - n_fft/2, t*hop + n_fft/2)`` when
    ``center`` (zero padding at both ends), else ``[t*hop, t*hop + n_fft)``.

    Returns
    -------
    (frames, n_fft // 2 + 1) complex128. At 16 kHz the defaults are a 32 ms
    window and a 10 ms hop.
    """
    x = np.asarray(x, dtype=np.float64)
    if center:
        x = np.pad(x, n_fft // 2)
    frames = frame_signal(x, n_fft, hop_length)  # (T, n_fft)
    return np.fft.rfft(frames * hann_window(n_fft), axis=1)  # (T, n_fft//2+1)


def power_spectrogram(x: np.ndarray, n_fft: int = 512, hop_length: int = 160,
                      center: bool = True) -> np.ndarray:
    """``|STFT|^2``, shape ``(frames, n_fft // 2 + 1)``."""
    return np.abs(stft(x, n_fft, hop_length, center)) ** 2


def hz_to_mel(f: np.ndarray | float, htk: bool = False) -> np.ndarray:
    """Frequency in Hz to mels, HTK or Slaney (see module docstring)."""
    f = np.asarray(f, dtype=np.float64)
    if htk:
        return 2595.0 * np.log10(1.0 + f / 700.0)
    f_sp = 200.0 / 3  # Hz per mel in the linear part
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp  # = 15 mels
    logstep = np.log(6.4) / 27.0
    linear = f / f_sp
    log = min_log_mel + np.log(np.maximum(f, min_log_hz) / min_log_hz) / logstep
    return np.where(f >= min_log_hz, log, linear)


def mel_to_hz(m: np.ndarray | float, htk: bool = False) -> np.ndarray:
    """Mels to frequency in Hz: the inverse of :func:`hz_to_mel`."""
    m = np.asarray(m, dtype=np.float64)
    if htk:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int = 40, fmin: float = 0.0,
                   fmax: float | None = None, htk: bool = False,
                   slaney_norm: bool = True) -> np.ndarray:
    """Triangular mel filters, shape ``(n_mels, n_fft // 2 + 1)``.

    ``n_mels + 2`` points equally spaced in mels between ``fmin`` and ``fmax``
    (default Nyquist) give each filter its lower edge, peak and upper edge.
    A filter's weight at FFT bin frequency ``f`` is the triangle
    ``max(0, min((f - lo) / (mid - lo), (hi - f) / (hi - mid)))``.
    With ``slaney_norm`` every triangle is divided by its half-width in Hz,
    ``(hi - lo) / 2``, so wide high-frequency filters do not dominate.
    """
    fmax = sample_rate / 2.0 if fmax is None else fmax
    fft_freqs = np.arange(n_fft // 2 + 1) * sample_rate / n_fft  # (K,)
    edges_mel = np.linspace(hz_to_mel(fmin, htk), hz_to_mel(fmax, htk), n_mels + 2)
    edges_hz = mel_to_hz(edges_mel, htk)  # (M+2,)
    lo, mid, hi = edges_hz[:-2, None], edges_hz[1:-1, None], edges_hz[2:, None]  # (M, 1) each
    rising = (fft_freqs[None, :] - lo) / (mid - lo)  # (M, K)
    falling = (hi - fft_freqs[None, :]) / (hi - mid)  # (M, K)
    weights = np.maximum(0.0, np.minimum(rising, falling))  # (M, K)
    if slaney_norm:
        weights *= 2.0 / (hi - lo)
    return weights


def power_to_db(power: np.ndarray, ref: float = 1.0, amin: float = 1e-10,
                top_db: float | None = 80.0) -> np.ndarray:
    """``10 log10(max(power, amin) / ref)``, floored at ``max - top_db``."""
    db = 10.0 * np.log10(np.maximum(power, amin)) - 10.0 * np.log10(max(amin, ref))
    if top_db is not None:
        db = np.maximum(db, db.max() - top_db)
    return db


def mel_spectrogram(x: np.ndarray, sample_rate: int = 16000, n_fft: int = 512,
                    hop_length: int = 160, n_mels: int = 40, fmin: float = 0.0,
                    fmax: float | None = None, htk: bool = False) -> np.ndarray:
    """Mel power spectrogram, shape ``(frames, n_mels)``: ``|STFT|^2 @ filters.T``."""
    power = power_spectrogram(x, n_fft, hop_length)  # (T, K)
    filters = mel_filterbank(sample_rate, n_fft, n_mels, fmin, fmax, htk)  # (M, K)
    return power @ filters.T  # (T, M)


def dct_ii_matrix(n_out: int, n_in: int) -> np.ndarray:
    """Orthonormal DCT-II basis, shape ``(n_out, n_in)``.

    ``C[k, n] = s_k cos(pi k (2n + 1) / (2 N))`` with ``s_0 = sqrt(1/N)`` and
    ``s_k = sqrt(2/N)`` otherwise, so that the full square matrix is orthogonal.
    """
    k = np.arange(n_out)[:, None]
    n = np.arange(n_in)[None, :]
    basis = np.cos(np.pi * k * (2 * n + 1) / (2 * n_in))
    scale = np.full((n_out, 1), np.sqrt(2.0 / n_in))
    scale[0] = np.sqrt(1.0 / n_in)
    return basis * scale


def mfcc(x: np.ndarray, sample_rate: int = 16000, n_mfcc: int = 13, n_fft: int = 512,
         hop_length: int = 160, n_mels: int = 40, fmin: float = 0.0,
         fmax: float | None = None, htk: bool = False, top_db: float | None = 80.0) -> np.ndarray:
    """Mel-frequency cepstral coefficients, shape ``(frames, n_mfcc)``.

    ``mfcc = DCT-II_ortho(power_to_db(mel_spectrogram))`` along the mel axis;
    coefficient 0 is proportional to the frame's mean log energy.
    """
    log_mel = power_to_db(mel_spectrogram(x, sample_rate, n_fft, hop_length, n_mels, fmin,
                                          fmax, htk), top_db=top_db)  # (T, M)
    return log_mel @ dct_ii_matrix(n_mfcc, n_mels).T  # (T, n_mfcc)


__all__ = [
    "dct_ii_matrix", "frame_signal", "hann_window", "hz_to_mel", "magnitude_spectrum",
    "mel_filterbank", "mel_spectrogram", "mel_to_hz", "mfcc", "power_spectrogram",
    "power_to_db", "stft",
]

