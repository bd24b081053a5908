"""``tinykws synth-data DIR``: render an offline keyword set with eSpeak NG."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "synth-data",
        help="render a synthetic Speech Commands set (eSpeak NG voices + noise)",
        description="Render synthetic keyword clips in the Speech Commands training layout "
        "(DIR/<word>/<speaker>_nohash_0.wav and DIR/_background_noise_/), one eSpeak NG "
        "voice per speaker. Resumes if interrupted. Synthetic speech is easier than real "
        "speech: also evaluate on real speakers.",
    )
    p.add_argument("out", metavar="DIR", help="output folder")
    p.add_argument("--speakers", type=int, default=160, help="number of voices (default 160)")
    p.add_argument("--words", default="yes,no", help="keywords every voice says (default yes,no)")
    p.add_argument("--others", type=int, default=7,
                   help="other vocabulary words per voice, the unknown class (default 7)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.set_defaults(func=run, writes="out")


def run(args: argparse.Namespace) -> int:
    from tinykws.data.synth import SPEECH_COMMANDS_WORDS, render_dataset
    from tinykws.errors import TinyKWSError

    words = tuple(w.strip().lower() for w in args.words.split(",") if w.strip())
    unknown = [w for w in words if w not in SPEECH_COMMANDS_WORDS]
    if not words or unknown:
        raise TinyKWSError(f"--words must be Speech Commands words; unknown: {', '.join(unknown) or '(empty)'}")
    if args.speakers < 1:
        raise TinyKWSError("--speakers must be at least 1")
    if not 0 <= args.others <= len(SPEECH_COMMANDS_WORDS) - len(words):
        raise TinyKWSError(f"--others must be between 0 and {len(SPEECH_COMMANDS_WORDS) - len(words)}")
    out = render_dataset(args.out, args.speakers, words, args.others, args.seed)
    print(out)
    return 0
