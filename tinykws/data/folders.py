"""Which clips a Speech Commands folder holds, and which of them can be read.

One level down, like TF's glob ``*/*.wav``: ``root/<word>/<clip>.wav``, the
suffix in any case, ``_background_noise_/`` left to its own reader. A clip
is judged by its RIFF header alone when it is in Speech Commands' own format
(16 kHz mono 16-bit PCM; the header also catches truncation); any other
format is decoded once, so a clip the pipeline would fail on later is
skipped now, with its reason.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from tinykws.audio import load_wav, read_wav_header
from tinykws.errors import TinyKWSError

BACKGROUND_NOISE_DIR = "_background_noise_"


def clip_folders(root: Path) -> dict[str, list[str]]:
    """``{folder name in lower case: sorted .wav paths}`` for every sub-folder but the noise one.

    Like TF's glob ``*/*.wav`` one level down; the suffix is matched in any case.
    """
    folders: dict[str, list[str]] = {}
    for sub in sorted(root.iterdir()):
        if not sub.is_dir() or sub.name.lower() == BACKGROUND_NOISE_DIR:
            continue
        folders.setdefault(sub.name.lower(), []).extend(wav_files(sub))
    return {word: sorted(paths) for word, paths in folders.items()}


def wav_files(folder: Path) -> list[str]:
    return [str(p) for p in folder.iterdir() if p.suffix.lower() == ".wav" and p.is_file()]


def clip_problem(path: str) -> str | None:
    """None if the clip can be loaded, else the one-line reason it cannot.

    Speech Commands clips (16 kHz mono 16-bit PCM) are judged by their header
    alone, which also catches truncation; any other format is decoded once.
    """
    try:
        if read_wav_header(path).is_speech_commands_format:
            return None
        with warnings.catch_warnings():  # resampling/downmix warnings come again at load time
            warnings.simplefilter("ignore")
            load_wav(path)
    except TinyKWSError as exc:
        return str(exc)
    return None


def check_clips(folders: dict[str, list[str]]) -> tuple[dict[str, list[str]], list[tuple[str, str]]]:
    from tqdm import tqdm

    total = sum(len(paths) for paths in folders.values())
    valid: dict[str, list[str]] = {}
    skipped: list[tuple[str, str]] = []  # (path, problem)
    with tqdm(total=total, desc="checking clips", unit="clip", leave=False, disable=None) as bar:
        for word, paths in folders.items():
            valid[word] = []
            for path in paths:
                problem = clip_problem(path)
                if problem is None:
                    valid[word].append(path)
                else:
                    skipped.append((path, problem))
                bar.update()
    return valid, skipped
