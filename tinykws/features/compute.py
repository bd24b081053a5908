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
:func:`features_batch` does the same for a batch of int16 clips (training),
:func:`int8_features` is the int8 input of a quantized model and
:func:`quantize_features` its last step, for features already computed.
"""

from __future__ import annotations

import numpy as np

from tinykws.audio import fit_length
from tinykws.features.spec import MICRO_DEFAULT, FeatureSpec


def compute_features(waveform: np.ndarray, spec: FeatureSpec = MICRO_DEFAULT) -> np.ndarray:
    """Features of a float waveform in [-1, 1] at ``spec.sample_rate``: ``spec.shape`` float32."""
    x = fit_length(np.asarray(waveform, np.float32), spec.desired_samples)  # (desired,)
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


def features_batch(samples: np.ndarray, spec: FeatureSpec = MICRO_DEFAULT) -> np.ndarray:
    """Features of int16 clips ``(N, spec.desired_samples)``: ``(N, frames, width)`` float32.

    Each clip's features are :func:`compute_features` of ``samples / 32768``
    (what :func:`tinykws.audio.load_wav` makes of a 16-bit file), bit for
    bit: the micro frontend runs its batch kernel, the other modes go
    through the same NumPy code with a batch axis in front (every FFT,
    product and sum is done row by row, as for one clip).
    """
    samples = np.asarray(samples, np.int16)  # (N, desired)
    if samples.ndim != 2 or samples.shape[1] != spec.desired_samples:
        raise ValueError(f"need clips (N, {spec.desired_samples}), got {samples.shape}")
    if spec.mode == "micro":
        from tinykws.features.micro_frontend import micro_features_batch
        from tinykws.features.model_input import to_float_model_input

        return to_float_model_input(micro_features_batch(samples, spec.micro_config()))
    x = samples.astype(np.float32) / np.float32(32768)  # (N, desired), exact
    if spec.mode == "mlperf-mfcc":
        from tinykws.features.mlperf_mfcc import mlperf_mfcc

        return mlperf_mfcc(x, spec.sample_rate, spec.desired_samples, spec.window_samples,
                           spec.stride_samples, spec.bins)
    from tinykws.features.tf_spectrogram import audio_spectrogram

    power = audio_spectrogram(x, spec.window_samples, spec.stride_samples)  # (N, T, fft_bins)
    if spec.mode == "mfcc":
        from tinykws.features.tf_mfcc import mfcc

        return mfcc(power, spec.sample_rate, spec.bins)
    from tinykws.features.average import average_bins

    return average_bins(power, spec.average_width)


def int8_features(waveform: np.ndarray, spec: FeatureSpec, scale: float, zero_point: int) -> np.ndarray:
    """The int8 input ``spec.shape`` of a model whose input tensor has ``scale``, ``zero_point``.

    Micro features go the device's way, straight from uint16
    (:func:`tinykws.features.model_input.to_int8_model_input`): micro_speech's
    ``micro_features_generator.cc`` hard-codes that mapping (scale 26/256,
    zero point -128) whatever the model's input tensor says, and a model
    made for it is quantized to match. The other modes are quantized with the
    input tensor's parameters, as TFLite's QUANTIZE op does:
    ``clamp(round(x / scale) + zero_point)``, ``round`` half away from zero
    (``TfLiteRound`` in the reference ``AffineQuantize``), of ``x / scale``
    in float32.
    """
    return quantize_features(compute_features(waveform, spec), spec, scale, zero_point)


def quantize_features(x: np.ndarray, spec: FeatureSpec, scale: float, zero_point: int) -> np.ndarray:
    """Float features of ``spec`` (any shape) -> the int8 input :func:`int8_features` gives.

    For features computed already (a pipeline's evaluation arrays), so that
    a batch is quantized by the same rule as one clip.
    """
    from tinykws.features.model_input import float_to_int8_input

    x = np.asarray(x, np.float32)
    if spec.mode == "micro":
        return float_to_int8_input(x)
    q = (x / np.float32(scale)).astype(np.float64)  # float32 division, as the kernel's
    q = np.sign(q) * np.floor(np.abs(q) + 0.5) + zero_point
    return np.clip(q, -128, 127).astype(np.int8)
