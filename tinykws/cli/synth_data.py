"""``tinykws synth-data DIR``: render an offline keyword set with eSpeak NG."""

from __future__ import annotations

import argparse
import dataclasses


def register(subparsers) -> None:
    # The defaults are SynthSettings' (tinykws.data.synth); None means "the default",
    # so that building the parser does not import NumPy.
    p = subparsers.add_parser(
        "synth-data",
        help="render a synthetic Speech Commands set (eSpeak NG voices + noise)",
        description="Render synthetic keyword clips in the Speech Commands training layout "
        "(DIR/<word>/<speaker>_nohash_<k>.wav and DIR/_background_noise_/), one eSpeak NG "
        "voice per speaker, every clip over a noise bed (coloured noise, hum or babble). "
        "Resumes if interrupted; refuses a folder holding another set. Synthetic speech is "
        "easier than real speech: also evaluate on real speakers.",
    )
    p.add_argument("out", metavar="DIR", help="output folder")
    p.add_argument("--speakers", type=int, help="number of voices (default 400)")
    p.add_argument("--words", help="keywords every voice says (default yes,no)")
    p.add_argument("--repeats", type=int, help="takes of every keyword per voice (default 4)")
    p.add_argument("--others", type=int,
                   help="other vocabulary words per voice, the unknown class (default 10)")
    p.add_argument("--seed", type=int, help="random seed (default 0)")
    p.add_argument("--workers", type=int, default=None,
                   help="processes rendering clips (default: one per CPU core)")
    p.set_defaults(func=run, writes="out")


def run(args: argparse.Namespace) -> int:
    from tinykws.data.synth import SPEECH_COMMANDS_WORDS, SynthSettings, render_dataset
    from tinykws.errors import TinyKWSError

    given = {"speakers": args.speakers, "repeats": args.repeats, "others": args.others,
             "seed": args.seed}
    settings = SynthSettings(**{k: v for k, v in given.items() if v is not None})
    if args.words is not None:
        settings = dataclasses.replace(settings, keywords=tuple(
            w.strip().lower() for w in args.words.split(",") if w.strip()))
    words = settings.keywords
    unknown = [w for w in words if w not in SPEECH_COMMANDS_WORDS]
    if not words or unknown:
        raise TinyKWSError(f"--words must be Speech Commands words; unknown: {', '.join(unknown) or '(empty)'}")
    if settings.speakers < 1:
        raise TinyKWSError("--speakers must be at least 1")
    if settings.repeats < 1:
        raise TinyKWSError("--repeats must be at least 1")
    if not 0 <= settings.others <= len(SPEECH_COMMANDS_WORDS) - len(words):
        raise TinyKWSError(f"--others must be between 0 and {len(SPEECH_COMMANDS_WORDS) - len(words)}")
    if args.workers is not None and args.workers < 1:
        raise TinyKWSError("--workers must be at least 1")
    print(render_dataset(args.out, settings, workers=args.workers))
    return 0
