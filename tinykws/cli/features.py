"""``tinykws features WAV --out DIR``: plots and arrays of one clip's features.

Without feature options it writes every plot and the micro frontend arrays at
micro_speech's settings. ``--features MODE`` and TF's size flags
(``--window-ms``, ``--stride-ms``, ``--bins``, ``--sample-rate``,
``--clip-ms``, and ``--tables`` for the micro frontend) choose a
:class:`~tinykws.features.spec.FeatureSpec`; then the model input of that
spec is written too: ``features_<mode>.npy`` (frames, width) float32,
``features_<mode>.png`` and ``features.json`` (the spec and its shape).
"""

from __future__ import annotations

import argparse

from tinykws.features.spec import MODES

# The plots are of one clip; a 10-minute recording took 1.7 GB and gave unreadable
# plots, so longer files are refused before decoding (use 'tinykws listen' for those).
MAX_SECONDS = 60
SIZE_FLAGS = ("window_ms", "stride_ms", "bins", "sample_rate", "clip_ms", "tables")


def add_feature_arguments(p: argparse.ArgumentParser) -> None:
    """``--features`` and TF's size flags (defaults: each mode's own, see FeatureSpec)."""
    g = p.add_argument_group("feature settings (TF speech_commands' flags)")
    g.add_argument("--features", choices=MODES, default=None,
                   help="micro: TFLite-Micro frontend (default); mfcc: TF's audio_spectrogram + "
                   "mfcc op; average: the spectrogram averaged over bins; mlperf-mfcc: MLPerf "
                   "Tiny's tf.signal MFCCs (49 x 10)")
    g.add_argument("--window-ms", type=float, help="analysis window (default 30)")
    g.add_argument("--stride-ms", type=float, help="hop between windows (default 20)")
    g.add_argument("--bins", type=int, help="feature_bin_count: micro channels, MFCC count, or "
                   "the bins 'average' aims at (default 40; 10 for mlperf-mfcc)")
    g.add_argument("--sample-rate", type=int, help="Hz (default 16000); the WAV is resampled")
    g.add_argument("--clip-ms", type=float, help="clip length the features cover (default 1000)")
    g.add_argument("--tables", choices=("tflm", "tensorflow"),
                   help="micro frontend float tables: tflite-micro's (default) or TF's op's")


def feature_spec_from_args(args: argparse.Namespace):
    """The FeatureSpec the flags ask for, or None when no feature flag was given."""
    from tinykws.features.spec import FeatureSpec

    sizes = {name: getattr(args, name) for name in SIZE_FLAGS}
    if args.features is None and all(v is None for v in sizes.values()):
        return None
    return FeatureSpec.for_mode(args.features or "micro", **sizes)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "features",
        help="plot a clip's waveform, spectrum, spectrogram, mel, MFCC and micro features",
        description="Compute every feature of one WAV clip and write the plots "
        "(waveform, spectrum, spectrogram, mel, mfcc, micro .png) and the micro "
        "frontend arrays (micro_features.npy uint16, micro_features_int8.npy). With "
        "--features or a size flag, also the model input of those settings "
        "(features_MODE.npy/.png, features.json).",
    )
    p.add_argument("wav", help=f"a 16 kHz mono WAV of at most {MAX_SECONDS} s (other rates and "
                   "channel counts are resampled / downmixed with a warning)")
    p.add_argument("--out", required=True, help="output folder")
    add_feature_arguments(p)
    p.set_defaults(func=run, writes="out")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tinykws.atomic import save_figure, save_npy, write_json
    from tinykws.audio import load_wav
    from tinykws.features.clip import clip_features
    from tinykws.features.compute import compute_features
    from tinykws.plots.features import model_input_figure, save_feature_plots

    spec = feature_spec_from_args(args)  # bad settings fail here, before any file is read
    sample_rate = spec.sample_rate if spec else 16000
    waveform = load_wav(args.wav, sample_rate=sample_rate, max_seconds=MAX_SECONDS)
    micro_config = spec.micro_config() if spec and spec.mode == "micro" else None
    features = clip_features(waveform, sample_rate, micro_config)
    out = Path(args.out)
    written = save_feature_plots(features, out)
    written.append(save_npy(out / "micro_features.npy", features.micro))
    written.append(save_npy(out / "micro_features_int8.npy", features.micro_int8))
    if spec is not None:
        values = compute_features(waveform, spec)  # (frames, width) float32
        written.append(save_npy(out / f"features_{spec.mode}.npy", values))
        written.append(save_figure(out / f"features_{spec.mode}.png",
                                   model_input_figure(values, spec)))
        written.append(write_json(out / "features.json",
                                  {**spec.to_dict(), "shape": list(spec.shape)}))
    for path in written:
        print(path)
    return 0
