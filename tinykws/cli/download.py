"""``tinykws download DIR``: fetch and unpack the Speech Commands v0.02 archive."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    from tinykws.data.download import DEFAULT_URL  # light: standard library only

    p = subparsers.add_parser(
        "download",
        help="download and extract Speech Commands v0.02 (2.4 GB)",
        description="Download the Speech Commands archive with a progress bar (resuming an "
        "interrupted download), check its size and SHA-256, and extract it safely into DIR.",
    )
    p.add_argument("dir", metavar="DIR", help="folder to download and extract into")
    p.add_argument("--url", default=DEFAULT_URL, help=f"archive URL (default: {DEFAULT_URL})")
    p.set_defaults(func=run, writes="dir")


def run(args: argparse.Namespace) -> int:
    from tinykws.data.download import download_speech_commands

    dest = download_speech_commands(args.dir, args.url)
    print(dest)
    print(f"next: tinykws data stats --data {dest}")
    return 0
