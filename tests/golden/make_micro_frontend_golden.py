"""Regenerate ``micro_frontend_golden.npz`` with TensorFlow's ``audio_microfrontend`` op.

TensorFlow is used here and nowhere else in tinykws: the committed .npz lets
the test suite check the frontend against the op that TF's speech_commands
training runs, without TensorFlow installed. Run (any TF 2.x, CPU):

    python tests/golden/make_micro_frontend_golden.py [--speech CLIP.wav]

The op is called as ``input_data.py`` calls it for ``--preprocess=micro``
(sample_rate 16000, window 30 ms, step 20 ms, 40 channels, out_scale 1), plus
two non-default configurations. The signals: a speech clip (a synthetic
keyword from ../shared/speech_synth when present, else a formant-like
synthetic vowel), silence, a full-scale square wave, white noise and a chirp.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

HERE = Path(__file__).resolve().parent
SR = 16000

# (name, op keyword arguments); names are stored so the test rebuilds each config.
CONFIGS = [
    ("micro_speech", dict(window_size=30, window_step=20, num_channels=40)),
    ("w25_s10_c32_nopcan", dict(window_size=25, window_step=10, num_channels=32, enable_pcan=False)),
    ("w30_s20_c40_nolog", dict(window_size=30, window_step=20, num_channels=40, enable_log=False,
                              scale_shift=6)),
]


def signals(speech_path: str | None) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20261124)
    t = np.arange(SR) / SR
    if speech_path:
        import soundfile as sf

        speech, rate = sf.read(speech_path, dtype="int16")
        assert rate == SR and speech.ndim == 1
        speech = np.pad(speech, (0, max(0, SR - len(speech))))[:SR]
    else:  # a vowel: 120 Hz pulse train through three formant resonances
        f0 = 120 * (1 + 0.1 * np.sin(2 * np.pi * 3 * t))
        phase = np.cumsum(f0) / SR
        voice = sum(np.sin(2 * np.pi * f * t) / (1 + ((f - 700) / 200) ** 2) for f in range(120, 4000, 120))
        speech = (8000 * np.sin(np.pi * t) * voice / np.abs(voice).max() * (1 + 0.3 * np.sin(2 * np.pi * phase))).astype(np.int16)
    square = np.where((np.arange(SR) // 20) % 2 == 0, 32767, -32768).astype(np.int16)
    noise = np.clip(rng.normal(0, 6000, SR), -32768, 32767).astype(np.int16)
    chirp = (20000 * np.sin(2 * np.pi * (50 * t + (7950 / 2) * t ** 2))).astype(np.int16)
    return {"speech": speech.astype(np.int16), "silence": np.zeros(SR, np.int16),
            "square": square, "noise": noise, "chirp": chirp}


def main() -> None:
    import tensorflow as tf
    from tensorflow.lite.experimental.microfrontend.python.ops import audio_microfrontend_op as op

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_speech = HERE.parents[2] / "shared" / "speech_synth" / "yes"
    clips = sorted(default_speech.glob("*.wav")) if default_speech.is_dir() else []
    parser.add_argument("--speech", default=str(clips[0]) if clips else None)
    args = parser.parse_args()

    arrays: dict[str, np.ndarray] = {}
    for name, x in signals(args.speech).items():
        arrays[f"input/{name}"] = x
        for cfg_name, kwargs in CONFIGS:
            y = op.audio_microfrontend(tf.constant(x), sample_rate=SR, out_scale=1,
                                       out_type=tf.uint16, **kwargs).numpy()
            arrays[f"output/{cfg_name}/{name}"] = y.astype(np.uint16)
    arrays["configs"] = np.array(json.dumps(dict(CONFIGS)))
    arrays["tensorflow_version"] = np.array(tf.__version__)
    np.savez_compressed(HERE / "micro_frontend_golden.npz", **arrays)
    print(f"wrote {HERE / 'micro_frontend_golden.npz'} with TensorFlow {tf.__version__}")


if __name__ == "__main__":
    main()
