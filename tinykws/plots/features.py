"""Feature plots a student hands in: one PNG per representation.

Each function takes a :class:`tinykws.features.clip.ClipFeatures` and returns
a Matplotlib figure with labelled axes and units; :func:`save_feature_plots`
writes them all atomically.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from tinykws.atomic import save_figure
from tinykws.features.clip import ClipFeatures


def _image(ax, data_tf: np.ndarray, hop_s: float, ylabel: str, cbar_label: str, fig,
           extent_y: tuple[float, float] | None = None) -> None:
    """Draw a time-major ``(frames, bins)`` array with time on x, bins on y."""
    frames, bins = data_tf.shape
    y0, y1 = extent_y if extent_y else (0, bins)
    im = ax.imshow(data_tf.T, origin="lower", aspect="auto", cmap="magma",
                   extent=(0, frames * hop_s, y0, y1))
    ax.set_xlabel("time (s)")
    ax.set_ylabel(ylabel)
    fig.colorbar(im, ax=ax, label=cbar_label)


def waveform_figure(f: ClipFeatures):
    fig, ax = plt.subplots(figsize=(8, 3))
    t = np.arange(len(f.waveform)) / f.sample_rate
    ax.plot(t, f.waveform, lw=0.6)
    ax.set(xlabel="time (s)", ylabel="amplitude (full scale = 1)", title="Waveform")
    ax.set_ylim(-1.05, 1.05)
    return fig


def spectrum_figure(f: ClipFeatures):
    fig, ax = plt.subplots(figsize=(8, 3))
    db = 20 * np.log10(np.maximum(f.spectrum, 1e-10))
    ax.plot(f.spectrum_hz, db, lw=0.6)
    ax.set(xlabel="frequency (Hz)", ylabel="magnitude (dB)", title="FFT magnitude spectrum (Hann)")
    ax.set_ylim(max(db.max() - 100, db.min()), db.max() + 5)
    return fig


def spectrogram_figure(f: ClipFeatures):
    fig, ax = plt.subplots(figsize=(8, 4))
    _image(ax, f.spectrogram_db, f.hop_seconds, "frequency (Hz)", "power (dB)", fig,
           extent_y=(0, f.sample_rate / 2))
    ax.set_title("STFT power spectrogram (32 ms Hann, 10 ms hop)")
    return fig


def mel_figure(f: ClipFeatures):
    fig, ax = plt.subplots(figsize=(8, 4))
    _image(ax, f.mel_db, f.hop_seconds, "mel band", "power (dB)", fig)
    ax.set_title(f"Log-mel spectrogram ({f.mel_db.shape[1]} Slaney mel bands)")
    return fig


def mfcc_figure(f: ClipFeatures):
    fig, ax = plt.subplots(figsize=(8, 4))
    _image(ax, f.mfcc, f.hop_seconds, "MFCC coefficient", "value (dB-scaled)", fig)
    ax.set_title(f"MFCC ({f.mfcc.shape[1]} coefficients, orthonormal DCT-II)")
    return fig


def micro_figure(f: ClipFeatures):
    fig, ax = plt.subplots(figsize=(8, 4))
    _image(ax, f.micro.astype(np.float32), f.micro_stride_seconds, "filterbank channel",
           "frontend output (uint16)", fig)
    ax.set_title(f"TFLite-Micro frontend features ({f.micro.shape[0]} frames x "
                 f"{f.micro.shape[1]} channels, 30 ms / 20 ms)")
    return fig


def model_input_figure(values: np.ndarray, spec):
    """The ``(frames, width)`` model input of a :class:`~tinykws.features.spec.FeatureSpec`."""
    fig, ax = plt.subplots(figsize=(8, 4))
    ylabel = {"micro": "filterbank channel", "average": "averaged spectrogram bin"}.get(
        spec.mode, "MFCC coefficient")
    _image(ax, values, spec.stride_samples / spec.sample_rate, ylabel, "model input", fig)
    ax.set_title(f"Model input, {spec.describe()} ({values.shape[0]} x {values.shape[1]})")
    return fig


FIGURES = {
    "waveform.png": waveform_figure,
    "spectrum.png": spectrum_figure,
    "spectrogram.png": spectrogram_figure,
    "mel.png": mel_figure,
    "mfcc.png": mfcc_figure,
    "micro.png": micro_figure,
}


def save_feature_plots(f: ClipFeatures, out_dir: str | Path) -> list[Path]:
    """Write every feature figure into ``out_dir``; returns the paths."""
    out_dir = Path(out_dir)
    return [save_figure(out_dir / name, make(f)) for name, make in FIGURES.items()]
