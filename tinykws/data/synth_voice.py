"""eSpeak NG voices for the synthetic set: who speaks, and one word rendered by one voice.

A :class:`Voice` is one synthetic speaker: an English accent with a voice
variant, a base pitch, pitch range and rate; its id is the first 8 hex digits
of the sha1 of that description, so TF's ``which_set`` keeps it in one split.
The synthesizer is the eSpeak NG C library from the ``espeakng-loader`` wheel,
through ctypes, or else a system ``espeak-ng`` program.
"""

from __future__ import annotations

import ctypes
import hashlib
import io
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

from tinykws.errors import TinyKWSError

SAMPLE_RATE = 16000
CLIP_SAMPLES = 16000

# The 35 words of Speech Commands v0.02.
SPEECH_COMMANDS_WORDS = (
    "backward", "bed", "bird", "cat", "dog", "down", "eight", "five", "follow", "forward",
    "four", "go", "happy", "house", "learn", "left", "marvin", "nine", "no", "off", "on", "one",
    "right", "seven", "sheila", "six", "stop", "three", "tree", "two", "up", "visual", "wow",
    "yes", "zero",
)

ACCENTS = ("en-us", "en", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-gb-x-gbclan",
           "en-gb-x-gbcwmd", "en-us-nyc")

# eSpeak NG parameter ids (speak_lib.h: espeak_PARAMETER) and output mode.
_RATE, _VOLUME, _PITCH, _RANGE = 1, 2, 3, 4
_AUDIO_OUTPUT_SYNCHRONOUS = 2


@dataclass(frozen=True)
class Voice:
    """One synthetic speaker: accent, variant, pitch (0-99), range (0-99), rate (words/min)."""

    accent: str
    variant: str
    pitch: int
    pitch_range: int
    rate: int

    @property
    def name(self) -> str:
        return f"{self.accent}+{self.variant}"

    @property
    def speaker_id(self) -> str:
        text = f"{self.name}/{self.pitch}/{self.pitch_range}/{self.rate}"
        return hashlib.sha1(text.encode()).hexdigest()[:8]


class _LibraryEngine:
    """eSpeak NG through ctypes; synthesizes into memory via a callback."""

    _CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                                 ctypes.c_void_p)

    def __init__(self, library_path: str, data_path: str):
        self._lib = ctypes.CDLL(library_path)
        self._chunks: list[np.ndarray] = []
        self.sample_rate = self._lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path.encode(), 0)
        if self.sample_rate <= 0:
            raise TinyKWSError(f"eSpeak NG failed to initialise with data at {data_path}")
        self._callback = self._CALLBACK(self._collect)  # keep a reference alive
        self._lib.espeak_SetSynthCallback(self._callback)
        self._lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint,
                                           ctypes.c_int, ctypes.c_uint, ctypes.c_uint,
                                           ctypes.c_void_p, ctypes.c_void_p]

    def _collect(self, wav, n, events) -> int:
        if n > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        return 0  # 0 = continue synthesis

    def variants(self, data_path: str) -> list[str]:
        return sorted(p.name for p in (Path(data_path) / "voices" / "!v").iterdir())

    def say(self, text: str, voice: Voice) -> np.ndarray:
        if self._lib.espeak_SetVoiceByName(voice.name.encode()) != 0:
            raise TinyKWSError(f"eSpeak NG has no voice {voice.name!r}")
        for param, value in ((_RATE, voice.rate), (_PITCH, voice.pitch),
                             (_RANGE, voice.pitch_range), (_VOLUME, 100)):
            self._lib.espeak_SetParameter(param, value, 0)
        self._chunks = []
        data = text.encode() + b"\0"
        self._lib.espeak_Synth(data, len(data), 0, 0, 0, 0, None, None)
        self._lib.espeak_Synchronize()
        return np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)


class _ProgramEngine:
    """A system ``espeak-ng`` program, writing WAV to stdout."""

    def __init__(self, program: str):
        self._program = program
        self.sample_rate = 22050

    def variants(self, data_path: str | None = None) -> list[str]:
        out = subprocess.run([self._program, "--voices=variant"], capture_output=True, text=True,
                             check=True).stdout.splitlines()[1:]
        return sorted({line.split()[-1].split("/")[-1] for line in out if line.strip()})

    def say(self, text: str, voice: Voice) -> np.ndarray:
        import soundfile as sf

        wav = subprocess.run(
            [self._program, "-v", voice.name, "-s", str(voice.rate), "-p", str(voice.pitch),
             "-a", "100", "--stdout", text], capture_output=True, check=True).stdout
        samples, self.sample_rate = sf.read(io.BytesIO(wav), dtype="int16")
        return samples


@lru_cache(maxsize=1)
def _engine():
    """The eSpeak NG engine: the library wheel if installed, else the program.

    Cached because the C library keeps global state and is initialised once
    per process.
    """
    try:
        import espeakng_loader
    except ImportError:
        espeakng_loader = None
    if espeakng_loader is not None:
        data = espeakng_loader.get_data_path()
        engine = _LibraryEngine(espeakng_loader.get_library_path(), data)
        return engine, engine.variants(data)
    program = shutil.which("espeak-ng")
    if program:
        engine = _ProgramEngine(program)
        return engine, engine.variants()
    raise TinyKWSError(
        "no speech synthesizer: install the Python package 'espeakng-loader' "
        "(pip install espeakng-loader) or the Debian package 'espeak-ng'")


def synthesizer_available() -> bool:
    """True when :func:`render_word` can run on this machine."""
    try:
        _engine()
    except TinyKWSError:
        return False
    return True


def make_voices(n: int, rng: np.random.Generator) -> list[Voice]:
    """``n`` distinct random voices over accents, variants, pitch and rate."""
    _, variants = _engine()
    voices: dict[str, Voice] = {}
    while len(voices) < n:
        v = Voice(accent=str(rng.choice(ACCENTS)), variant=str(rng.choice(variants)),
                  pitch=int(rng.integers(20, 80)), pitch_range=int(rng.integers(20, 90)),
                  rate=int(rng.integers(120, 220)))
        voices.setdefault(v.speaker_id, v)
    return list(voices.values())


def render_word(word: str, voice: Voice) -> np.ndarray:
    """The word spoken by ``voice``: float32 at 16 kHz, peak-normalised to 1."""
    engine, _ = _engine()
    raw = engine.say(word, voice).astype(np.float32) / 32768.0  # (n,) at engine rate
    if engine.sample_rate != SAMPLE_RATE:
        g = np.gcd(SAMPLE_RATE, engine.sample_rate)
        raw = resample_poly(raw, SAMPLE_RATE // g, engine.sample_rate // g).astype(np.float32)
    # Trim the synthesizer's leading and trailing silence.
    loud = np.flatnonzero(np.abs(raw) > 0.01)
    if loud.size == 0:
        raise TinyKWSError(f"eSpeak NG produced silence for {word!r} in voice {voice.name}")
    raw = raw[loud[0]:loud[-1] + 1]
    return raw / np.abs(raw).max()


# -- noise ----------------------------------------------------------------
