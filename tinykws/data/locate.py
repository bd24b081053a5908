"""Where the data comes from when the user names no folder.

``tinykws report`` (and anything else run with no ``--data``) looks, in order:

1. a Speech Commands copy in the cache folder (``$TINYKWS_CACHE``, default
   ``~/.cache/tinykws``), as ``tinykws download`` leaves it;
2. the official download, when the user asked for it (``--download``) or
   answered yes when asked on a terminal — it is 2.4 GB, so never without asking;
3. a synthetic keyword set rendered by :mod:`tinykws.data.synth` into the cache
   folder (offline, under a minute on two cores), in a folder named for the
   fingerprint of its plan (``speech_synth_espeak_<fingerprint>``), so a set
   cached by another tinykws version or with other settings is never reused
   (an old folder is left alone; delete it to free the space);
4. otherwise an error that lists the three ways to get data.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from tinykws.errors import TinyKWSError

if TYPE_CHECKING:
    from tinykws.data.synth import SynthSettings

SPEECH_COMMANDS_DIR = "speech_commands_v0.02"
SYNTH_DIR = "speech_synth_espeak"


def cache_dir() -> Path:
    """``$TINYKWS_CACHE`` or ``~/.cache/tinykws``."""
    return Path(os.environ.get("TINYKWS_CACHE", Path.home() / ".cache" / "tinykws"))


def synthetic_dir(fingerprint: str) -> Path:
    """The cache folder of the synthetic set whose plan has this fingerprint."""
    return cache_dir() / f"{SYNTH_DIR}_{fingerprint}"


@dataclass(frozen=True)
class DataSource:
    path: Path
    kind: str  # "given", "cache", "download" or "synthetic"

    @property
    def synthetic(self) -> bool:
        return self.kind == "synthetic"


def _looks_like_speech_commands(folder: Path) -> bool:
    return (folder / "_background_noise_").is_dir() and (folder / "yes").is_dir()


def resolve_data(data: str | os.PathLike | None = None, *, download: bool = False,
                 synth_settings: SynthSettings | None = None, progress: bool = True,
                 ask: Callable[[str], bool] | None = None) -> DataSource:
    """The data folder to use, following the order in the module docstring.

    ``ask(question) -> bool``, when given, is asked before downloading if no
    copy is cached and ``download`` is not set (the CLI asks on a terminal;
    a script or CI never waits for an answer). ``synth_settings`` (a
    :class:`tinykws.data.synth.SynthSettings`, default its defaults) is the
    synthetic set to render when it comes to that.
    """
    if data is not None:
        path = Path(data)
        if not path.is_dir():
            raise TinyKWSError(f"data folder {path} does not exist")
        return DataSource(path, "given")
    cached = cache_dir() / SPEECH_COMMANDS_DIR
    if _looks_like_speech_commands(cached):
        return DataSource(cached, "cache")
    if not download and ask is not None:
        download = ask(f"No Speech Commands copy in {cached}. Download the official archive "
                       "(2.4 GB) now? Otherwise a synthetic set is rendered. [y/N] ")
    if download:
        from tinykws.data.download import download_speech_commands

        return DataSource(download_speech_commands(cached, progress=progress), "download")
    from tinykws.data import synth, synth_voice

    if synth_voice.synthesizer_available():
        settings = synth_settings or synth.SynthSettings()
        out = synthetic_dir(synth.make_plan(settings).fingerprint)
        synth.render_dataset(out, settings, progress=progress)
        return DataSource(out, "synthetic")
    raise TinyKWSError(
        "no data: pass --data DIR (a Speech Commands copy), or --download to fetch the "
        f"official archive into {cached}, or install eSpeak NG (pip install espeakng-loader) "
        "to render a synthetic set")
