"""MFCC throughput: seconds of audio per second, ours vs librosa, on a 1 s clip.

Both compute the same features with the same parameters (16 kHz, 13
coefficients, 512-point FFT = 32 ms periodic Hann window, 10 ms hop,
centred frames zero-padded, 40 Slaney-normalised Slaney-scale mel filters
from 0 Hz to Nyquist, power to dB with an 80 dB floor, orthonormal DCT-II);
:func:`tinykws.features.spectral.mfcc` is plain NumPy (float64 inside),
``librosa.feature.mfcc`` keeps the clip's float32. Each call builds its mel
filter bank and DCT basis afresh, in both. The row records the largest
difference between the two results, as a check that the work is the same.

    python -m benchmarks.mfcc [--quick]
"""

from __future__ import annotations

import numpy as np

from benchmarks.timing import compare, row

SR = 16000
PARAMS = dict(n_mfcc=13, n_fft=512, hop_length=160, n_mels=40, htk=False)


def run(quick: bool) -> list[dict]:
    try:
        import librosa
    except ImportError:
        return []
    from tinykws.features.spectral import mfcc

    rng = np.random.default_rng(0)
    clip = (0.1 * rng.normal(size=SR)).astype(np.float32)  # (16000,) 1 s of noise
    ours = mfcc(clip, SR, **PARAMS)  # (101, 13)
    theirs = librosa.feature.mfcc(y=clip, sr=SR, pad_mode="constant", **PARAMS).T  # (101, 13)
    t = compare({"ours": lambda: mfcc(clip, SR, **PARAMS),
                 "librosa": lambda: librosa.feature.mfcc(y=clip, sr=SR, pad_mode="constant",
                                                         **PARAMS)},
                repeats=5 if quick else 25)
    return [row("MFCC, 1 s clip, 13 x 101 frames", "tinykws (numpy)",
                f"librosa {librosa.__version__}", 1.0 / t["ours"], 1.0 / t["librosa"],
                "audio s / s", True, max_abs_diff=float(np.max(np.abs(ours - theirs))))]


if __name__ == "__main__":
    import argparse

    from benchmarks.__main__ import markdown_table

    parser = argparse.ArgumentParser(description="MFCC throughput, ours vs librosa")
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    print(markdown_table(run(quick=parser.parse_args().quick)))
