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
:func:`int8_features` is the int8 input of a quantized model.
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
    from tinykws.features.model_input import float_to_int8_input

    x = compute_features(waveform, spec)  # (frames, width) float32
    if spec.mode == "micro":
        return float_to_int8_input(x)
    q = (x / np.float32(scale)).astype(np.float64)  # float32 division, as the kernel's
    q = np.sign(q) * np.floor(np.abs(q) + 0.5) + zero_point
    return np.clip(q, -128, 127).astype(np.int8)
