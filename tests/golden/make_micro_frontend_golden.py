"""Regenerate ``micro_frontend_golden.npz`` with TensorFlow's ``audio_microfrontend`` op.

TensorFlow is used here and nowhere else in tinykws: the committed .npz lets
the test suite check the frontend against the op that TF's speech_commands
training runs, without TensorFlow installed. Run (any TF 2.x, CPU):

    /work/tfvenv/bin/python tests/golden/make_micro_frontend_golden.py [--speech CLIP.wav] [--out FILE]

The op is called as ``input_data.py`` calls it for ``--preprocess=micro``
(sample_rate 16000, window 30 ms, step 20 ms, 40 channels, out_scale 1), plus
non-default configurations that between them move every option of the C
frontend (window, stride, channels, band edges, noise reduction, PCAN on/off
and its parameters, log on/off, scale shift, sample rate). The signals: a
speech clip (a synthetic keyword from ../shared/speech_synth when present,
else a formant-like synthetic vowel), silence, a full-scale square wave,
white noise and a chirp; they are stored with the outputs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))  # for tinykws.atomic (NumPy only) without installing tinykws
SR = 16000

# (name, op keyword arguments); names are stored so the test rebuilds each config.
CONFIGS = [
    ("micro_speech", dict(window_size=30, window_step=20, num_channels=40)),
    ("w25_s10_c32_nopcan", dict(window_size=25, window_step=10, num_channels=32, enable_pcan=False)),
    ("w30_s20_c40_nolog", dict(window_size=30, window_step=20, num_channels=40, enable_log=False,
                              scale_shift=6)),
    # 40 ms: a 1024-point FFT, whose 512-point complex core ends in a radix-2 stage;
    # every other option moved off its default.
    ("w40_s20_c20_custom", dict(window_size=40, window_step=20, num_channels=20,
                                lower_band_limit=300.0, upper_band_limit=4000.0, smoothing_bits=8,
                                even_smoothing=0.04, odd_smoothing=0.1, min_signal_remaining=0.1,
                                pcan_strength=0.8, pcan_offset=40.0, gain_bits=20, scale_shift=5)),
    # The same samples read as 8 kHz audio: a 256-point FFT (radix 4, 4, 4, 2).
    ("sr8000_w30_s10_c32", dict(sample_rate=8000, window_size=30, window_step=10, num_channels=32,
                                upper_band_limit=3800.0)),
]


def signals(speech_path: str | None) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20261124)
    t = np.arange(SR) / SR
    if speech_path:
        import soundfile as sf

        speech, rate = sf.read(speech_path, dtype="int16")
        assert rate == SR and speech.ndim == 1
        speech = np.pad(speech, (0, max(0, SR - len(speech))))[:SR]
    else:  # a vowel: 120 Hz harmonics shaped by a 700 Hz formant, wavering in level
        f0 = 120 * (1 + 0.1 * np.sin(2 * np.pi * 3 * t))
        phase = np.cumsum(f0) / SR
        voice = sum(np.sin(2 * np.pi * f * t) / (1 + ((f - 700) / 200) ** 2)
                    for f in range(120, 4000, 120))
        tremolo = 1 + 0.3 * np.sin(2 * np.pi * phase)
        speech = (8000 * np.sin(np.pi * t) * voice / np.abs(voice).max() * tremolo).astype(np.int16)
    square = np.where((np.arange(SR) // 20) % 2 == 0, 32767, -32768).astype(np.int16)
    noise = np.clip(rng.normal(0, 6000, SR), -32768, 32767).astype(np.int16)
    chirp = (20000 * np.sin(2 * np.pi * (50 * t + (7950 / 2) * t ** 2))).astype(np.int16)
    return {"speech": speech.astype(np.int16), "silence": np.zeros(SR, np.int16),
            "square": square, "noise": noise, "chirp": chirp}


def main() -> None:
    import tensorflow as tf
    from tinykws.atomic import atomic_write
    from tensorflow.lite.experimental.microfrontend.python.ops import audio_microfrontend_op as op

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_speech = REPO.parent / "shared" / "speech_synth" / "yes"
    clips = sorted(default_speech.glob("*.wav")) if default_speech.is_dir() else []
    parser.add_argument("--speech", default=str(clips[0]) if clips else None)
    parser.add_argument("--out", type=Path, default=HERE / "micro_frontend_golden.npz")
    args = parser.parse_args()

    arrays: dict[str, np.ndarray] = {}
    for name, x in signals(args.speech).items():
        arrays[f"input/{name}"] = x
        for cfg_name, kwargs in CONFIGS:
            kwargs = {"sample_rate": SR, **kwargs}
            y = op.audio_microfrontend(tf.constant(x), out_scale=1, out_type=tf.uint16,
                                       **kwargs).numpy()
            arrays[f"output/{cfg_name}/{name}"] = y.astype(np.uint16)
    arrays["configs"] = np.array(json.dumps(dict(CONFIGS)))
    arrays["tensorflow_version"] = np.array(tf.__version__)
    # Compressed (the inputs are most of it) but still written atomically.
    atomic_write(args.out, lambda f: np.savez_compressed(f, **arrays))
    print(f"wrote {args.out} with TensorFlow {tf.__version__}")


if __name__ == "__main__":
    main()
