"""``tinykws report``: regenerate the assignment's figures and tables in one go."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "report", help="run every stage and write DIR/index.md and DIR/index.html",
        description="Run every stage of the assignment (audio features, model size, training, "
        "int8 conversion, CPU time per clip, the MCU estimate, the quantization study, the "
        "pruning study, an in-field streaming test and, with --real, evaluation on real speech) "
        "and write DIR/index.md, DIR/index.html and DIR/manifest.json. Stages are cached by their "
        "inputs: a second run reuses them and an interrupted run resumes. Without --data it uses "
        "a Speech Commands copy in the cache folder, the download (with --download, or if you "
        "say yes when asked on a terminal), or renders a synthetic set with eSpeak NG.")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--data", metavar="DIR", help="a Speech Commands folder")
    p.add_argument("--words", default="yes,no")
    p.add_argument("--quick", action="store_true", help="short schedules (minutes, not hours)")
    p.add_argument("--download", action="store_true",
                   help="download Speech Commands v0.02 (2.4 GB) if no copy is cached")
    p.add_argument("--real", metavar="DIR",
                   help="a canonical test-set folder of real speech to evaluate on")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run, writes="out")


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from tinykws.report.build import ReportSettings, build_report

    words = tuple(w.strip() for w in args.words.split(",") if w.strip())
    ask = _ask_yes_no if sys.stdin.isatty() and sys.stdout.isatty() else None
    path = build_report(ReportSettings(Path(args.out), args.data, words, args.quick, args.download,
                                       args.real, args.seed), ask=ask)
    print(path)
    return 0


def _ask_yes_no(question: str) -> bool:
    try:
        return input(question).strip().lower() in ("y", "yes")
    except EOFError:
        return False
