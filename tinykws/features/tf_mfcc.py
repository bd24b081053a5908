"""TensorFlow's ``mfcc`` op in NumPy (TF ``speech_commands --preprocess=mfcc``).

Follows ``tensorflow/core/kernels/mfcc.cc``, ``mfcc_mel_filterbank.cc``,
``mfcc_dct.cc`` and ``mfcc_op.cc``. The op takes the *squared* magnitude
spectrogram of :func:`tinykws.features.tf_spectrogram.audio_spectrogram`
(float32, ``(frames, K)`` with ``K = fft/2 + 1``) and, per frame, in double:

1. **mel filterbank** (``MfccMelFilterbank``) on the *magnitude*: it takes
   ``sqrt`` of each power bin first. 40 channels between 20 Hz and 4000 Hz on
   the mel scale ``mel = 1127 ln(1 + f / 700)``. Its conventions differ from
   librosa's and from ``tf.signal``'s:

   - ``channels + 1`` centre frequencies ``mel_low + spacing * (i + 1)``
     with ``spacing = (mel_hi - mel_low) / (channels + 1)``: the last one is
     only the upper edge of the top triangle, and the lower edge of the first
     triangle is ``mel_low`` itself;
   - bin ``i`` sits at ``i * hz_per_bin`` with
     ``hz_per_bin = sample_rate / 2 / (K - 1)``; only bins
     ``start = int(1.5 + 20 / hz_per_bin)`` (DC is always excluded, "emulate
     HTK") to ``end = int(4000 / hz_per_bin)`` take part;
   - each bin belongs to the channel whose centre is the last one below it
     (``band_mapper``; -1 below the first centre) and splits its magnitude
     between that channel (weight ``w``, the falling side of its triangle)
     and the next (``1 - w``, the rising side), ``w`` linear in mels. The
     triangles peak at 1 and are not area-normalised.

2. **log** with a floor: ``ln(max(x, 1e-12))`` (``kFilterbankFloor``).
3. **DCT-II** (``MfccDct``): ``c_k = sqrt(2 / N) sum_n x_n cos(pi k (n + 1/2) / N)``
   over the ``N = 40`` log energies, the first ``dct_coefficient_count``
   coefficients. Note the scaling: ``sqrt(2/N)`` for every ``k``, so the
   basis is *not* orthonormal (coefficient 0 is ``sqrt(2)`` times the
   orthonormal one).

Output ``(frames, dct_coefficient_count)`` float32, as the op stores it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LOWER_HZ = 20.0  # kDefaultLowerFrequencyLimit
UPPER_HZ = 4000.0  # kDefaultUpperFrequencyLimit
CHANNELS = 40  # kDefaultFilterbankChannelCount
FLOOR = 1e-12  # kFilterbankFloor


def freq_to_mel(f):
    """``1127 ln(1 + f / 700)`` (``MfccMelFilterbank::FreqToMel``)."""
    return 1127.0 * np.log1p(np.asarray(f, dtype=np.float64) / 700.0)


@dataclass(frozen=True)
class MelFilterbank:
    """The tables ``MfccMelFilterbank::Initialize`` builds for ``K`` spectrogram bins."""

    start: int  # first bin used
    end: int  # last bin used (inclusive)
    band_mapper: np.ndarray  # (K,) int: channel of the falling side, -1 below the first, -2 unused
    weights: np.ndarray  # (K,) float64: share of the bin given to band_mapper's channel
    channels: int

    def matrix(self) -> np.ndarray:
        """The same filterbank as a dense ``(channels, K)`` matrix (for reading and plots)."""
        m = np.zeros((self.channels, len(self.weights)))  # (channels, K)
        i = np.arange(self.start, self.end + 1)  # the bins Compute loops over
        c, w = self.band_mapper[i], self.weights[i]
        falling = c >= 0  # (the bins below the first centre have no falling side)
        m[c[falling], i[falling]] = w[falling]
        rising = c + 1 < self.channels  # (nor those above the last centre a rising one)
        m[c[rising] + 1, i[rising]] = 1.0 - w[rising]
        return m


def mel_filterbank(num_bins: int, sample_rate: float, channels: int = CHANNELS,
                   lower_hz: float = LOWER_HZ, upper_hz: float = UPPER_HZ) -> MelFilterbank:
    """Build the filterbank for ``num_bins`` spectrogram bins, as ``Initialize`` does."""
    mel_low, mel_hi = freq_to_mel(lower_hz), freq_to_mel(upper_hz)
    spacing = (mel_hi - mel_low) / (channels + 1)
    centres = mel_low + spacing * (np.arange(channels + 1) + 1)  # (channels+1,) mels
    hz_per_bin = 0.5 * sample_rate / (num_bins - 1)
    start = int(1.5 + lower_hz / hz_per_bin)
    end = int(upper_hz / hz_per_bin)
    mel = freq_to_mel(np.arange(num_bins) * hz_per_bin)  # (K,)
    used = (np.arange(num_bins) >= start) & (np.arange(num_bins) <= end)
    # The C loop advances `channel` while centres[channel] < mel, capped at
    # `channels`: the count of the first `channels` centres below the bin.
    band = np.searchsorted(centres[:channels], mel, side="left") - 1  # (K,)
    upper = centres[np.minimum(band + 1, channels)]  # centre the falling side ends at
    lower = np.where(band >= 0, centres[np.maximum(band, 0)], mel_low)
    weights = np.where(used, (upper - mel) / (upper - lower), 0.0)
    return MelFilterbank(start=start, end=end, band_mapper=np.where(used, band, -2),
                         weights=weights, channels=channels)


def dct_matrix(coefficients: int, n: int = CHANNELS) -> np.ndarray:
    """``MfccDct``'s cosines: ``sqrt(2/n) cos(k pi / n (j + 0.5))``, shape ``(coefficients, n)``."""
    k = np.arange(coefficients)[:, None]
    j = np.arange(n)[None, :]
    return np.sqrt(2.0 / n) * np.cos(k * (np.pi / n) * (j + 0.5))


def mfcc(spectrogram: np.ndarray, sample_rate: int, dct_coefficient_count: int = 13) -> np.ndarray:
    """TF's ``mfcc`` op over a squared-magnitude spectrogram.

    Parameters
    ----------
    spectrogram : (frames, K) float32 from ``audio_spectrogram(..., magnitude_squared=True)``,
        or a batch ``(N, frames, K)`` (frame by frame, the same values).
    sample_rate : Hz, of the audio the spectrogram came from.
    dct_coefficient_count : at most the 40 filterbank channels.

    Returns
    -------
    (frames, dct_coefficient_count) float32 (``(N, frames, ...)`` for a batch).
    """
    power = np.asarray(spectrogram, dtype=np.float32).astype(np.float64)  # (..., T, K)
    bank = mel_filterbank(power.shape[-1], sample_rate)
    mel = np.sqrt(power) @ bank.matrix().T  # (..., T, 40): the op sums magnitudes
    log_mel = np.log(np.maximum(mel, FLOOR))  # (..., T, 40)
    return (log_mel @ dct_matrix(dct_coefficient_count).T).astype(np.float32)  # (..., T, n_mfcc)
