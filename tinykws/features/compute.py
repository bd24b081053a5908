"""One clip's model input for any :class:`~tinykws.features.spec.FeatureSpec`.

:func:`compute_features` is the single place that turns a waveform into what
a model of that spec was trained on, as TF's ``input_data.py`` (or MLPerf
Tiny's ``get_dataset.py``) feeds it:

- the clip is first cut or zero-padded to ``spec.desired_samples``
  (``decode_wav(desired_samples=...)`` does the same);
- ``micro``: ``tf.cast(wav * 32768, tf.int16)`` (:func:`tinykws.audio.to_int16`),
  the micro frontend, then ``* 10/256``;
- ``mfcc``: ``audio_spectrogram`` then TF's ``mfcc`` op with
  ``dct_coefficient_count = bins``;
- ``average``: ``audio_spectrogram`` averaged in groups of ``average_width`` bins;
- ``mlperf-mfcc``: MLPerf Tiny's ``tf.signal`` MFCCs.

The result is ``spec.shape`` = ``(frames, width)`` float32 in every mode.
"""

from __future__ import annotations

import numpy as np

from tinykws.features.spec import FeatureSpec


def fit_length(samples: np.ndarray, n: int) -> np.ndarray:
    """The first ``n`` samples, zero-padded at the end if the clip is shorter; float32 ``(n,)``."""
    x = np.asarray(samples, dtype=np.float32)[:n]
    return np.pad(x, (0, n - len(x)))


def compute_features(waveform: np.ndarray, spec: FeatureSpec = FeatureSpec()) -> np.ndarray:
    """Features of a float waveform in [-1, 1] at ``spec.sample_rate``: ``spec.shape`` float32."""
    x = fit_length(waveform, spec.desired_samples)  # (desired,)
    if spec.mode == "micro":
        from tinykws.audio import to_int16
        from tinykws.features.micro_frontend import micro_features_numba
        from tinykws.features.model_input import to_float_model_input

        return to_float_model_input(micro_features_numba(to_int16(x), spec.micro_config()))
    if spec.mode == "mlperf-mfcc":
        from tinykws.features.mlperf_mfcc import mlperf_mfcc

        return mlperf_mfcc(x, spec.sample_rate, spec.desired_samples, spec.window_samples,
                           spec.stride_samples, spec.bins)
    from tinykws.features.tf_spectrogram import audio_spectrogram

    power = audio_spectrogram(x, spec.window_samples, spec.stride_samples)  # (T, fft_bins) float32
    if spec.mode == "mfcc":
        from tinykws.features.tf_mfcc import mfcc

        return mfcc(power, spec.sample_rate, spec.bins)
    from tinykws.features.average import average_bins

    return average_bins(power, spec.average_width)
