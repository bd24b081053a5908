"""``tinykws data stats --data DIR``: what the data pipeline sees in a Speech Commands folder."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "data",
        help="inspect a Speech Commands folder (labels, split counts, layout)",
        description="Inspect a Speech Commands folder as the training pipeline indexes it.",
    )
    actions = p.add_subparsers(title="actions", dest="action", metavar="ACTION",
                               parser_class=type(p))
    actions.required = True
    stats = actions.add_parser(
        "stats",
        help="labels and example counts per split and class",
        description="Index a Speech Commands folder (training-archive layout or canonical "
        "test-set layout) with TensorFlow's input_data.py rules and print the labels, the "
        "number of examples per split and class, the layout, the skipped broken clips and "
        "the background noise files.",
    )
    stats.add_argument("--data", required=True, metavar="DIR", help="the data folder")
    stats.add_argument("--words", default="yes,no",
                       help="comma-separated wanted words (default: yes,no)")
    stats.add_argument("--json", action="store_true", help="print JSON instead of a table")
    stats.add_argument("--resplit-salt", metavar="S", default=None,
                       help="test-set layout: split it by speaker with this salt "
                       "(default: everything is testing)")
    stats.add_argument("--silence-percentage", type=float, default=25.0, metavar="P",
                       help="silence examples per split, %% of the wanted-word count (default 25)")
    stats.add_argument("--unknown-percentage", type=float, default=25.0, metavar="P",
                       help="unknown examples per split, %% of the wanted-word count (default 25)")
    stats.add_argument("--validation-percentage", type=float, default=10.0, metavar="P")
    stats.add_argument("--testing-percentage", type=float, default=10.0, metavar="P")
    stats.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from tinykws.data.speech_commands import index_speech_commands

    index = index_speech_commands(
        args.data, args.words.split(","),
        silence_percentage=args.silence_percentage,
        unknown_percentage=args.unknown_percentage,
        validation_percentage=args.validation_percentage,
        testing_percentage=args.testing_percentage,
        resplit_salt=args.resplit_salt,
    )
    summary = summarise(index)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(format_table(summary))
    return 0


def summarise(index) -> dict:
    """Plain data for the table and the JSON output."""
    from tinykws.audio import SAMPLE_RATE

    return {
        "data": index.root,
        "layout": index.layout,
        "labels": list(index.labels),
        "counts": index.counts(),
        "skipped_broken_clips": index.skipped,
        "background_files": [
            {"file": path, "seconds": round(len(noise) / SAMPLE_RATE, 3)}
            for path, noise in zip(index.background_files, index.background)
        ],
    }


def format_table(summary: dict) -> str:
    import os

    from tinykws.data.speech_commands import SPLITS

    counts = summary["counts"]
    width = max(len("label"), len("total"), *(len(label) for label in summary["labels"]))
    header = f"{'label':<{width}}" + "".join(f"{s:>12}" for s in (*SPLITS, "total"))
    lines = [
        f"data:        {summary['data']}",
        f"layout:      {summary['layout']}",
        f"labels:      {', '.join(summary['labels'])}",
        f"skipped:     {summary['skipped_broken_clips']} broken clip(s)",
        f"background:  {len(summary['background_files'])} file(s)"
        + "".join(f"\n             {os.path.basename(b['file'])} ({b['seconds']:.1f} s)"
                  for b in summary["background_files"]),
        "",
        header,
        "-" * len(header),
    ]
    for label in (*summary["labels"], None):
        row = [sum(counts[s].values()) if label is None else counts[s][label] for s in SPLITS]
        name = "total" if label is None else label
        lines.append(f"{name:<{width}}" + "".join(f"{n:>12}" for n in (*row, sum(row))))
    return "\n".join(lines)
