"""``tinykws features WAV --out DIR``: plots and arrays of one clip's features."""

from __future__ import annotations

import argparse

# The plots are of one clip; a 10-minute recording took 1.7 GB and gave unreadable
# plots, so longer files are refused before decoding (use 'tinykws listen' for those).
MAX_SECONDS = 60


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "features",
        help="plot a clip's waveform, spectrum, spectrogram, mel, MFCC and micro features",
        description="Compute every feature of one WAV clip and write the plots "
        "(waveform, spectrum, spectrogram, mel, mfcc, micro .png) and the micro "
        "frontend arrays (micro_features.npy uint16, micro_features_int8.npy).",
    )
    p.add_argument("wav", help=f"a 16 kHz mono WAV of at most {MAX_SECONDS} s (other rates and "
                   "channel counts are resampled / downmixed with a warning)")
    p.add_argument("--out", required=True, help="output folder")
    p.set_defaults(func=run, writes="out")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tinykws.atomic import save_npy
    from tinykws.audio import load_wav
    from tinykws.features.clip import clip_features
    from tinykws.plots.features import save_feature_plots

    waveform = load_wav(args.wav, sample_rate=16000, max_seconds=MAX_SECONDS)
    features = clip_features(waveform, 16000)
    out = Path(args.out)
    written = save_feature_plots(features, out)
    written.append(save_npy(out / "micro_features.npy", features.micro))
    written.append(save_npy(out / "micro_features_int8.npy", features.micro_int8))
    for path in written:
        print(path)
    return 0
