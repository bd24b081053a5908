"""Regenerate ``tests/golden/feature_modes_golden.npz`` with TensorFlow.

TensorFlow is imported here and nowhere else in tinykws: the committed .npz
lets ``tests/test_feature_modes.py`` check every feature mode of
:class:`tinykws.features.spec.FeatureSpec` against the TF code it follows,
without TensorFlow installed. Run it with a TF venv outside the repository:

    python -m venv /work/tfvenv
    /work/tfvenv/bin/pip install tensorflow-cpu==2.21.0 numpy soundfile
    /work/tfvenv/bin/python scripts/make_feature_goldens.py [--speech DIR] [--out FILE]

Each mode is computed the way its training script computes it:

- ``mfcc`` / ``average``: TF ``speech_commands/input_data.py``:
  ``audio_ops.audio_spectrogram(audio, window_size, stride,
  magnitude_squared=True)`` then ``audio_ops.mfcc(spectrogram, sample_rate,
  dct_coefficient_count=bins)`` or ``tf.nn.pool(..., pooling_type='AVG',
  padding='SAME')`` with the window ``prepare_model_settings`` gives;
- ``mlperf-mfcc``: mlcommons/tiny ``keyword_spotting/get_dataset.py``
  (``feature_type='mfcc'``, not training): peak normalisation, padding,
  ``tf.signal.stft``, ``linear_to_mel_weight_matrix(40, ..., 20, 4000)``,
  ``log(x + 1e-6)``, ``mfccs_from_log_mel_spectrograms``;
- ``micro`` (if this TF build has the ``audio_microfrontend`` op):
  ``input_data.py``'s ``tf.cast(audio * 32768, tf.int16)``, the op, ``* 10/256``.

The clips (stored as int16 with the outputs): three real clips of Speech
Commands v0.02 (``yes``, ``no``, recorded ``_silence_``) when ``--speech`` is
found, and a 0.7 s synthetic chirp in noise (shorter than a clip, so the
padding to ``desired_samples`` is exercised).
"""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO = Path(__file__).resolve().parents[1]
SPEECH = REPO.parent / "shared" / "speech_commands_test_v0.02"
CLIPS = ["yes/022cd682_nohash_0.wav", "no/03401e93_nohash_0.wav", "_silence_/1024.wav"]

# (mode, sample_rate, clip_ms, window_ms, stride_ms, bins): defaults first, then
# other window/FFT sizes, strides, bin counts and an 8 kHz reading of the samples.
CONFIGS = [
    ("mfcc", 16000, 1000, 30, 20, 40),
    ("mfcc", 16000, 1000, 30, 10, 13),
    ("mfcc", 16000, 1000, 25, 10, 20),
    ("mfcc", 8000, 1000, 40, 20, 10),
    ("average", 16000, 1000, 30, 20, 40),
    ("average", 16000, 1000, 30, 10, 20),
    ("average", 16000, 1000, 64, 32, 40),
    ("average", 16000, 1000, 20, 10, 100),
    ("mlperf-mfcc", 16000, 1000, 30, 20, 10),
    ("mlperf-mfcc", 16000, 1000, 40, 20, 13),
    ("mlperf-mfcc", 16000, 1000, 30, 10, 40),
    ("micro", 16000, 1000, 30, 20, 40),
    ("micro", 16000, 1000, 25, 10, 32),
]


def settings(sample_rate, clip_ms, window_ms, stride_ms, bins):
    """The sizes of TF's ``prepare_model_settings`` (models.py)."""
    desired = int(sample_rate * clip_ms / 1000)
    window = int(sample_rate * window_ms / 1000)
    stride = int(sample_rate * stride_ms / 1000)
    fft_bins = 1 + (2 ** (window - 1).bit_length()) / 2
    return desired, window, stride, int(math.floor(fft_bins / bins))


def tf_features(tf, audio_ops, frontend_op, int16, mode, sample_rate, clip_ms, window_ms,
                stride_ms, bins):
    desired, window, stride, average_width = settings(sample_rate, clip_ms, window_ms,
                                                      stride_ms, bins)
    if mode == "mlperf-mfcc":
        wav = tf.cast(tf.constant(int16[:desired]), tf.float32)
        wav = wav / tf.reduce_max(wav)
        wav = tf.pad(wav, [[0, desired - tf.shape(wav)[-1]]])
        wav = tf.slice(tf.pad(wav, tf.constant([[2, 2]])), tf.constant([2]), [desired])
        stfts = tf.signal.stft(wav, frame_length=window, frame_step=stride, fft_length=None,
                               window_fn=tf.signal.hann_window)
        spectrograms = tf.abs(stfts)
        matrix = tf.signal.linear_to_mel_weight_matrix(40, stfts.shape[-1], sample_rate,
                                                       20.0, 4000.0)
        mel = tf.tensordot(spectrograms, matrix, 1)
        mfccs = tf.signal.mfccs_from_log_mel_spectrograms(tf.math.log(mel + 1e-6))[..., :bins]
        return mfccs.numpy()
    # decode_wav(desired_samples=...): int16 / 32768, cut or zero-padded, shape (desired, 1)
    audio = np.zeros((desired, 1), np.float32)
    clip = int16[:desired].astype(np.float32) / 32768.0
    audio[:len(clip), 0] = clip
    audio = tf.constant(audio)
    if mode == "micro":
        samples = tf.cast(tf.multiply(audio, 32768), tf.int16)
        features = frontend_op.audio_microfrontend(
            samples[:, 0], sample_rate=sample_rate, window_size=window * 1000 // sample_rate,
            window_step=stride * 1000 // sample_rate, num_channels=bins, out_scale=1,
            out_type=tf.float32)
        return tf.multiply(features, 10.0 / 256.0).numpy()
    spectrogram = audio_ops.audio_spectrogram(audio, window_size=window, stride=stride,
                                              magnitude_squared=True)
    if mode == "average":
        pooled = tf.nn.pool(input=tf.expand_dims(spectrogram, -1),
                            window_shape=[1, average_width], strides=[1, average_width],
                            pooling_type="AVG", padding="SAME")
        return pooled.numpy()[0, :, :, 0]
    return audio_ops.mfcc(spectrogram, sample_rate, dct_coefficient_count=bins).numpy()[0]


def clips(speech: Path) -> dict[str, np.ndarray]:
    import soundfile as sf

    out = {}
    for rel in CLIPS:
        path = speech / rel
        if path.exists():
            samples, sr = sf.read(path, dtype="int16")
            assert sr == 16000, path
            out[rel.split("/")[0].strip("_")] = samples
    rng = np.random.default_rng(17)
    t = np.arange(11200) / 16000
    chirp = 0.4 * np.sin(2 * np.pi * (200 * t + 2500 * t ** 2)) + rng.normal(0, 0.02, t.size)
    out["chirp"] = np.round(np.clip(chirp, -1, 1) * 32767).astype(np.int16)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speech", type=Path, default=SPEECH)
    parser.add_argument("--out", type=Path, default=REPO / "tests" / "golden" / "feature_modes_golden.npz")
    args = parser.parse_args()

    import tensorflow as tf
    from tensorflow.python.ops import gen_audio_ops as audio_ops
    try:
        from tensorflow.lite.experimental.microfrontend.python.ops import (
            audio_microfrontend_op as frontend_op)
    except ImportError:  # not every TF wheel ships the op
        frontend_op = None

    waves = clips(args.speech)
    arrays, index = {}, []
    for name, samples in waves.items():
        arrays[f"clip/{name}"] = samples
    for config in CONFIGS:
        if config[0] == "micro" and frontend_op is None:
            print("skipping micro: this TensorFlow has no audio_microfrontend op")
            continue
        key = "_".join(str(v) for v in config)
        for name, samples in waves.items():
            arrays[f"{key}/{name}"] = tf_features(tf, audio_ops, frontend_op, samples, *config)
        index.append(dict(zip(["mode", "sample_rate", "clip_ms", "window_ms", "stride_ms", "bins"],
                              config), key=key))
    arrays["index"] = np.array(json.dumps({"configs": index, "clips": list(waves),
                                           "tensorflow": tf.__version__}))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes, {len(index)} configs x "
          f"{len(waves)} clips, TensorFlow {tf.__version__})")


if __name__ == "__main__":
    main()
