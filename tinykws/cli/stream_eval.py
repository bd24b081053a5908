"""``tinykws stream-eval MODEL --out DIR``: miss rate against false alarms per hour, on the device path."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "stream-eval", help="streaming evaluation: misses vs false alarms per hour, DET, calibration",
        description="Build long recordings of speakers the model never heard (its test split; its "
        "validation split for --calibrate) over recorded background noise, score every 20 ms "
        "window with the int8 model through the micro frontend as the device runs it, and "
        "report hits, misses and false alarms per hour, TF's streaming accuracy, the DET curve "
        "(det.png) and, with --calibrate, RecognizeCommands settings chosen on validation "
        "speakers for a false-alarm target, scored on the test speakers. Writes stream.json.")
    p.add_argument("model", metavar="MODEL", help="training run folder, 'tinykws cv' folder (each "
                   "fold streams its own held-out speakers), or an int8 .tflite (with --data)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for stream.json and det.png")
    p.add_argument("--data", metavar="DIR", help="data folder (default: the one the run used)")
    p.add_argument("--labels", help="a .tflite's output labels, comma-separated "
                   "(default _silence_,_unknown_,yes,no)")
    p.add_argument("--keywords", help="keywords to spot, comma-separated (default: every word label)")
    p.add_argument("--minutes", type=float, default=30.0,
                   help="minutes of test audio in all (shared among folds; default 30)")
    p.add_argument("--style", choices=("tinykws", "tf"), default="tinykws",
                   help="stream recipe: tinykws (SNR-controlled underlay) or tf "
                   "(generate_streaming_test_wav.py's)")
    p.add_argument("--snr-db", default="20,10,5", help="SNRs drawn per utterance (default 20,10,5)")
    p.add_argument("--unknown-percentage", type=float, default=30.0,
                   help="share of other words among the utterances (default 30, TF's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--window-ms", type=int, default=1000, help="averaging window (default 1000)")
    p.add_argument("--threshold", type=int, default=200, help="detection threshold 0-255 (default 200)")
    p.add_argument("--suppression-ms", type=int, default=1500, help="default 1500")
    p.add_argument("--min-count", type=int, default=3, help="default 3")
    p.add_argument("--calibrate", action="store_true",
                   help="choose the four settings on validation speakers for --target-fa-per-hour")
    p.add_argument("--target-fa-per-hour", type=float, default=1.0, help="default 1")
    p.add_argument("--save-audio", action="store_true",
                   help="also write each test stream as a WAV with TF's label file beside it")
    p.add_argument("--resplit-salt", metavar="S", help="test-set layout: speaker re-split salt")
    p.add_argument("--json", action="store_true", help="print stream.json instead of the summary")
    p.set_defaults(func=run, writes="out")


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from tinykws.atomic import write_json, write_text
    from tinykws.audio import write_wav
    from tinykws.errors import TinyKWSError
    from tinykws.plots.stream import save_det
    from tinykws.stream.evaluate import models_of, scores_summary, stream_eval
    from tinykws.stream.recognize import RecognizerSettings
    from tinykws.stream.recording import StreamSpec

    settings = RecognizerSettings(args.window_ms, args.threshold, args.suppression_ms, args.min_count)
    settings.check()
    if args.target_fa_per_hour <= 0:
        raise TinyKWSError(f"--target-fa-per-hour must be positive, not {args.target_fa_per_hour}")
    try:
        snrs = tuple(float(v) for v in args.snr_db.split(","))
    except ValueError:
        raise TinyKWSError(f"--snr-db takes numbers separated by commas, not {args.snr_db!r}") from None
    if not 0 <= args.unknown_percentage < 100:
        raise TinyKWSError("--unknown-percentage must be in [0, 100)")
    spec = StreamSpec(minutes=args.minutes, seed=args.seed, style=args.style, snrs_db=snrs,
                      unknown_share=args.unknown_percentage / 100)
    spec.check()
    labels = [w.strip() for w in args.labels.split(",")] if args.labels else None
    keywords = [w.strip() for w in args.keywords.split(",")] if args.keywords else None
    models = models_of(args.model, args.data, args.resplit_salt, labels)
    result = stream_eval(models, keywords, spec, settings, args.calibrate, args.target_fa_per_hour,
                         progress=not args.json, keep_audio=args.save_audio)
    audio = result.pop("_audio", {})
    out = Path(args.out)
    write_json(out / "stream.json", result)
    save_det(result, out / "det.png")
    for name, stream in audio.items():
        write_wav(out / f"stream-{name}.wav", stream.samples)
        write_text(out / f"stream-{name}-labels.txt", stream.labels_csv())
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print("\n".join(scores_summary(result)))
        print(f"wrote {out / 'stream.json'} and {out / 'det.png'}")
    return 0

