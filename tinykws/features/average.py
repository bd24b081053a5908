"""TF ``speech_commands --preprocess=average``: the spectrogram averaged over adjacent bins.

``input_data.py`` shrinks the squared-magnitude spectrogram of
:func:`tinykws.features.tf_spectrogram.audio_spectrogram` along frequency with
``tf.nn.pool(spectrogram[..., None], window_shape=[1, width],
strides=[1, width], pooling_type='AVG', padding='SAME')``, where
``width = floor(fft_bins / feature_bin_count)`` (``models.py``,
``prepare_model_settings``). With 'SAME' padding and stride = window:

- the output has ``out = ceil(fft_bins / width)`` columns;
- TF pads ``pad = out * width - fft_bins`` bins, ``pad // 2`` before and the
  rest after, so the groups do *not* start at bin 0 unless ``pad < 2``: with
  30 ms windows and 20 bins (257 bins, groups of 12, pad 7) the first group
  is bins 0..8 and the second starts at bin 9;
- TF's average pooling divides by the number of *real* bins in the window,
  not by ``width``, so the short first and last groups are the means of
  what they hold.

Values stay in squared waveform units (no log): TF trains on them as they are.
"""

from __future__ import annotations

import numpy as np


def average_bins(spectrogram: np.ndarray, width: int) -> np.ndarray:
    """Mean of every ``width`` adjacent bins, placed as TF's 'SAME' pooling places them.

    Parameters
    ----------
    spectrogram : (frames, K) power spectrogram, or a batch ``(N, frames, K)``.
    width : bins per group (``FeatureSpec.average_width``).

    Returns
    -------
    (frames, ceil(K / width)) float32 (``(N, frames, ...)`` for a batch).
    """
    power = np.asarray(spectrogram, dtype=np.float64)  # (..., T, K)
    k = power.shape[-1]
    out = -(-k // width)  # ceil(K / width)
    before = (out * width - k) // 2  # 'SAME' padding in front
    # Group i covers padded positions [i w, (i + 1) w): real bins cut to [0, K).
    starts = np.maximum(np.arange(out) * width - before, 0)  # (out,)
    ends = np.minimum(np.arange(1, out + 1) * width - before, k)  # (out,) exclusive
    sums = np.add.reduceat(power, starts, axis=-1)  # (..., T, out)
    return (sums / (ends - starts)).astype(np.float32)
