"""TensorFlow's ``audio_spectrogram`` op in NumPy: the first step of TF's ``mfcc`` and ``average`` modes.

Follows ``tensorflow/core/kernels/spectrogram.cc`` and ``spectrogram_op.cc``,
called as TF's ``speech_commands/input_data.py`` calls it:
``audio_spectrogram(audio, window_size=window_samples,
stride=stride_samples, magnitude_squared=True)``.

- Periodic Hann window, ``w[i] = 0.5 - 0.5 cos(2 pi i / window)``, in double
  (``GetPeriodicHann``).
- Frames start every ``stride`` samples; there is no padding, so
  ``frames = 1 + (n - window) // stride`` (0 if the clip is shorter than a
  window).
- Each windowed frame is zero-padded to ``fft = next_pow2(window)`` and
  transformed with a real FFT in double (Ooura's ``rdft``); the op keeps
  ``fft/2 + 1`` bins and, with ``magnitude_squared``, ``re^2 + im^2``.
- The input is float32 and so is the output (the double result is rounded
  to float32 when stored), which is why :func:`audio_spectrogram` returns
  float32: TF's ``mfcc`` op reads that float32 tensor.

Units: input in waveform units ([-1, 1]); output in squared waveform units,
not normalised by the window length.
"""

from __future__ import annotations

import numpy as np

from tinykws.features.spec import next_power_of_two


def periodic_hann(window: int) -> np.ndarray:
    """``0.5 - 0.5 cos(2 pi i / window)`` for ``i < window``, float64, shape ``(window,)``."""
    i = np.arange(window)
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * i / window)


def stft(samples: np.ndarray, window: int, stride: int) -> np.ndarray:
    """Frames every ``stride`` samples, periodic Hann, FFT zero-padded to ``next_pow2(window)``.

    The framing both ``audio_spectrogram`` and ``tf.signal.stft`` (with
    ``pad_end=False``, ``fft_length=None`` and ``tf.signal.hann_window``) use.
    Returns ``(frames, next_pow2(window) // 2 + 1)`` complex128. A batch of
    clips ``(N, n)`` gives ``(N, frames, bins)``: each clip's rows are the
    ones it gives alone (the FFT runs row by row).
    """
    x = np.asarray(samples, dtype=np.float32).astype(np.float64)  # (..., n)
    n = x.shape[-1]
    n_frames = 0 if n < window else 1 + (n - window) // stride
    starts = np.arange(n_frames) * stride  # (T,)
    frames = x[..., starts[:, None] + np.arange(window)[None, :]]  # (..., T, window)
    return np.fft.rfft(frames * periodic_hann(window), n=next_power_of_two(window), axis=-1)


def audio_spectrogram(samples: np.ndarray, window: int, stride: int) -> np.ndarray:
    """Squared-magnitude spectrogram of TF's ``audio_spectrogram`` op.

    Parameters
    ----------
    samples : (n,) float waveform (cast to float32 first, as the op's input),
        or a batch ``(N, n)``.
    window, stride : in samples (TF: ``window_size``, ``stride``).

    Returns
    -------
    (frames, next_pow2(window) // 2 + 1) float32, ``|FFT(frame * hann)|^2``
    (``(N, frames, bins)`` for a batch).
    """
    spectrum = stft(samples, window, stride)  # (..., T, fft/2+1) complex128
    power = spectrum.real ** 2 + spectrum.imag ** 2  # (..., T, fft/2+1) float64
    return power.astype(np.float32)
