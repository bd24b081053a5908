"""MLPerf Tiny's keyword-spotting input: 49 x 10 MFCCs from ``tf.signal``.

Follows ``benchmark/training/keyword_spotting/get_dataset.py`` of
mlcommons/tiny (``get_preprocess_audio_func``, ``feature_type == 'mfcc'``)
with its defaults from ``kws_util.py``: 16 kHz, 1000 ms clips, 30 ms window
(480 samples), 20 ms stride (320), 10 coefficients. Per clip:

1. **peak normalisation**: ``wav = wav / reduce_max(wav)``, the *largest*
   sample (not the largest magnitude), then zero padding to the clip length.
   The ratio does not depend on whether the samples are int16 or scaled to
   [-1, 1]. (TF divides 0 by 0 for an all-zero clip and gets NaN; here such
   a clip stays zero.) Its fixed 2-sample time shift pads 2 zeros each side
   and slices from offset 2: the clip unchanged.
2. ``tf.signal.stft(frame_length=480, frame_step=320, fft_length=None,
   window_fn=tf.signal.hann_window)``: frames without padding at the end,
   a periodic Hann window, FFT length the enclosing power of two (512);
   ``tf.abs``: the **magnitude** (not its square).
3. ``tf.signal.linear_to_mel_weight_matrix(40, 257, 16000, 20.0, 4000.0)``
   (``mel_ops.py``): HTK mel ``1127 ln(1 + f / 700)``; the 257 bins at
   ``linspace(0, sr/2, 257)`` with the DC bin's row zeroed; 42 points
   equally spaced in mels from 20 to 4000 Hz give each of the 40 triangles
   its lower edge, centre and upper edge; weight
   ``max(0, min((m - lo)/(c - lo), (hi - m)/(hi - c)))`` in mels, peak 1,
   no area normalisation.
4. ``log(mel + 1e-6)``.
5. ``tf.signal.mfccs_from_log_mel_spectrograms``: ``dct(type=2)`` (unnormalised,
   ``2 sum x_n cos(pi k (2n + 1) / 2N)``) times ``rsqrt(2 N)``, i.e.
   ``sqrt(2/N) sum x_n cos(...)`` for every ``k`` (the scaling of TF's ``mfcc``
   op, :func:`tinykws.features.tf_mfcc.dct_matrix`); the first 10 kept.

TensorFlow computes all of this in float32; we compute in float64 and round
once at the end (the difference is float32 rounding noise, ~1e-6 relative).
Output ``(frames, coefficients)`` float32, 49 x 10 at the defaults.
"""

from __future__ import annotations

import numpy as np

from tinykws.features.tf_mfcc import dct_matrix
from tinykws.features.tf_spectrogram import stft

LOWER_HZ, UPPER_HZ, MEL_BINS = 20.0, 4000.0, 40  # get_dataset.py
LOG_OFFSET = 1e-6  # tf.math.log(mel_spectrograms + 1e-6)


def hz_to_mel(f):
    """HTK mel as ``mel_ops._hertz_to_mel``: ``1127 ln(1 + f / 700)``."""
    return 1127.0 * np.log1p(np.asarray(f, dtype=np.float64) / 700.0)


def linear_to_mel_weight_matrix(num_mel_bins: int, num_spectrogram_bins: int, sample_rate: float,
                                lower_hz: float, upper_hz: float) -> np.ndarray:
    """``tf.signal.linear_to_mel_weight_matrix``: shape ``(num_spectrogram_bins, num_mel_bins)``."""
    freqs = np.linspace(0.0, sample_rate / 2.0, num_spectrogram_bins)[1:]  # (K-1,) DC dropped
    bins_mel = hz_to_mel(freqs)[:, None]  # (K-1, 1)
    edges = np.linspace(hz_to_mel(lower_hz), hz_to_mel(upper_hz), num_mel_bins + 2)  # (M+2,)
    lo, centre, hi = edges[None, :-2], edges[None, 1:-1], edges[None, 2:]  # (1, M) each
    rising = (bins_mel - lo) / (centre - lo)  # (K-1, M)
    falling = (hi - bins_mel) / (hi - centre)  # (K-1, M)
    weights = np.maximum(0.0, np.minimum(rising, falling))  # (K-1, M)
    return np.pad(weights, ((1, 0), (0, 0)))  # (K, M): the DC row is zero


def normalise_peak(samples: np.ndarray, desired_samples: int) -> np.ndarray:
    """``wav / reduce_max(wav)`` then zero padding to ``desired_samples``, float64 ``(desired,)``.

    A batch ``(N, n)`` is normalised clip by clip: ``(N, desired)``.
    """
    x = np.asarray(samples, dtype=np.float32).astype(np.float64)[..., :desired_samples]
    if x.shape[-1]:
        peak = x.max(axis=-1, keepdims=True)  # (..., 1)
        x = x / np.where(peak != 0, peak, 1.0)  # an all-zero clip stays zero
    pad = [(0, 0)] * (x.ndim - 1) + [(0, desired_samples - x.shape[-1])]
    return np.pad(x, pad)


def mlperf_mfcc(samples: np.ndarray, sample_rate: int = 16000, desired_samples: int = 16000,
                window: int = 480, stride: int = 320, coefficients: int = 10) -> np.ndarray:
    """MLPerf Tiny's MFCCs of one clip, ``(frames, coefficients)`` float32 (49 x 10 by default).

    A batch of clips ``(N, n)`` gives ``(N, frames, coefficients)``, each clip as alone.
    """
    x = normalise_peak(samples, desired_samples)  # (..., desired)
    magnitude = np.abs(stft(x, window, stride))  # (..., T, fft/2+1): tf.abs, not squared
    mel_matrix = linear_to_mel_weight_matrix(MEL_BINS, magnitude.shape[-1], sample_rate,
                                             LOWER_HZ, UPPER_HZ)  # (fft/2+1, 40)
    log_mel = np.log(magnitude @ mel_matrix + LOG_OFFSET)  # (..., T, 40)
    # The same DCT-II scaling as TF's mfcc op, sqrt(2/N) for every k.
    return (log_mel @ dct_matrix(coefficients, MEL_BINS).T).astype(np.float32)  # (..., T, coefficients)
