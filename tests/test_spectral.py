"""Spectral features agree with librosa where the conventions match.

librosa returns (bins, frames); ours are time-major (frames, bins), so the
comparisons transpose. Tolerance: 1e-4 relative, as the foundation issue asks.
"""

import librosa
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinykws.features import spectral

SR = 16000


def _clip(seed: int, n: int = SR) -> np.ndarray:
    """A 1 s test signal: two tones and noise, so every band has energy."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / SR
    x = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 3100 * t)
    return (x + 0.05 * rng.standard_normal(n)).astype(np.float64)


def test_hann_window_is_periodic_like_scipy():
    import scipy.signal

    np.testing.assert_allclose(spectral.hann_window(480), scipy.signal.get_window("hann", 480))


def test_magnitude_spectrum_peaks_at_the_tone_frequency():
    t = np.arange(SR) / SR
    freqs, mag = spectral.magnitude_spectrum(np.sin(2 * np.pi * 1000 * t), SR)
    assert freqs[np.argmax(mag)] == pytest.approx(1000.0)
    assert freqs[-1] == pytest.approx(SR / 2)


@pytest.mark.parametrize("n_fft,hop", [(512, 160), (480, 320), (256, 128)])
def test_stft_matches_librosa(n_fft, hop):
    x = _clip(0)
    ours = spectral.stft(x, n_fft=n_fft, hop_length=hop)
    ref = librosa.stft(x, n_fft=n_fft, hop_length=hop, window="hann", center=True,
                       pad_mode="constant")
    np.testing.assert_allclose(ours, ref.T, rtol=1e-4, atol=1e-8)


@pytest.mark.parametrize("htk", [False, True])
def test_mel_scale_matches_librosa_and_inverts(htk):
    f = np.linspace(0, 8000, 101)
    np.testing.assert_allclose(spectral.hz_to_mel(f, htk), librosa.hz_to_mel(f, htk=htk), rtol=1e-10)
    np.testing.assert_allclose(spectral.mel_to_hz(spectral.hz_to_mel(f, htk), htk), f, atol=1e-8)


@pytest.mark.parametrize("htk", [False, True])
@pytest.mark.parametrize("n_mels,fmin,fmax", [(40, 0.0, None), (40, 125.0, 7500.0), (64, 20.0, 4000.0)])
def test_mel_filterbank_matches_librosa(htk, n_mels, fmin, fmax):
    ours = spectral.mel_filterbank(SR, 512, n_mels, fmin, fmax, htk=htk)
    ref = librosa.filters.mel(sr=SR, n_fft=512, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk)
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-7)


def test_slaney_filters_have_unit_area_in_hz():
    filters = spectral.mel_filterbank(SR, 4096, 40, 0.0, None, htk=False)
    areas = filters.sum(axis=1) * (SR / 4096)  # Riemann sum over bins in Hz
    np.testing.assert_allclose(areas, 1.0, rtol=0.05)


def test_mel_spectrogram_matches_librosa():
    x = _clip(1)
    ours = spectral.mel_spectrogram(x, SR, n_fft=512, hop_length=160, n_mels=40)
    ref = librosa.feature.melspectrogram(y=x, sr=SR, n_fft=512, hop_length=160, n_mels=40,
                                         pad_mode="constant")
    np.testing.assert_allclose(ours, ref.T, rtol=1e-4, atol=1e-10)


def test_dct_matrix_is_orthonormal_and_matches_scipy():
    import scipy.fft

    c = spectral.dct_ii_matrix(40, 40)
    np.testing.assert_allclose(c @ c.T, np.eye(40), atol=1e-12)
    v = np.random.default_rng(2).standard_normal(40)
    np.testing.assert_allclose(c @ v, scipy.fft.dct(v, type=2, norm="ortho"), atol=1e-12)


@pytest.mark.parametrize("htk", [False, True])
def test_mfcc_matches_librosa(htk):
    x = _clip(3)
    ours = spectral.mfcc(x, SR, n_mfcc=13, n_fft=512, hop_length=160, n_mels=40, htk=htk)
    ref = librosa.feature.mfcc(y=x, sr=SR, n_mfcc=13, n_fft=512, hop_length=160, n_mels=40,
                               htk=htk, pad_mode="constant")
    np.testing.assert_allclose(ours, ref.T, rtol=1e-4, atol=1e-3)


@settings(max_examples=25)
@given(n=st.integers(600, 4000), hop=st.integers(50, 400), seed=st.integers(0, 2**16))
def test_mfcc_matches_librosa_on_random_signals(n, hop, seed):
    x = np.random.default_rng(seed).uniform(-1, 1, n)
    ours = spectral.mfcc(x, SR, n_mfcc=20, n_fft=512, hop_length=hop, n_mels=40)
    ref = librosa.feature.mfcc(y=x, sr=SR, n_mfcc=20, n_fft=512, hop_length=hop, n_mels=40,
                               pad_mode="constant")
    np.testing.assert_allclose(ours, ref.T, rtol=1e-4, atol=1e-3)


def test_frame_signal_counts_frames_like_the_micro_frontend():
    # 1 s at a 30 ms window and 20 ms stride is 49 frames, as micro_speech uses.
    frames = spectral.frame_signal(np.zeros(SR), 480, 320)
    assert frames.shape == (49, 480)


def test_frame_signal_rejects_a_signal_shorter_than_a_frame():
    with pytest.raises(ValueError, match="shorter than one frame"):
        spectral.frame_signal(np.zeros(100), 480, 320)
