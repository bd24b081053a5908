"""A synthetic Speech Commands set rendered offline with eSpeak NG.

A fresh clone has no data and maybe no network; this module renders a keyword
set in the official training layout so that every stage of tinykws can run:

    DIR/<word>/<speaker>_nohash_<k>.wav     1 s, 16 kHz, mono, 16-bit PCM
    DIR/_background_noise_/<noise>.wav      60 s of white, pink, brown noise and hum

A "speaker" is one eSpeak NG voice: an English accent (``en-us``,
``en-gb-scotland``, ...) with a voice variant (``f3``, ``klatt2``,
``Annie``, ...), a base pitch, pitch range and speaking rate. Its id is the
first 8 hex digits of the sha1 of that description, so TF's ``which_set``
keeps every voice in one split, as it keeps a real speaker. Each clip
places the word at a random position with a random level.

Synthetic speech is far easier than real speech: use it to exercise the
pipeline, and always score the model on real speakers too.

The synthesizer is the eSpeak NG C library, from the ``espeakng-loader``
wheel (it ships ``libespeak-ng.so`` and its voice data) called through
ctypes, or else a system ``espeak-ng`` program (Debian package ``espeak-ng``).
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


def place_in_clip(speech: np.ndarray, rng: np.random.Generator, level: float) -> np.ndarray:
    """Put ``speech`` at a random position of a 1 s clip at peak ``level``.

    Words longer than 1 s are cut at 1 s (a fast rate makes that rare).
    """
    speech = speech[:CLIP_SAMPLES]
    clip = np.zeros(CLIP_SAMPLES, np.float32)  # (16000,)
    start = int(rng.integers(0, CLIP_SAMPLES - len(speech) + 1))
    clip[start:start + len(speech)] = level * speech
    return clip


def make_noise(kind: str, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Background noise at 16 kHz, peak 0.5: white, pink (1/f), brown (1/f^2) or hum.

    Coloured noise is white noise shaped in the frequency domain by
    ``1/f^(alpha/2)`` in amplitude (alpha 1 pink, 2 brown); hum is 50 Hz mains
    with odd harmonics and a little white noise.
    """
    n = int(seconds * SAMPLE_RATE)
    if kind == "hum":
        t = np.arange(n) / SAMPLE_RATE
        x = sum(np.sin(2 * np.pi * 50 * h * t) / h for h in (1, 3, 5, 7))
        x = x + 0.05 * rng.standard_normal(n)
    else:
        alpha = {"white": 0.0, "pink": 1.0, "brown": 2.0}[kind]
        spectrum = np.fft.rfft(rng.standard_normal(n))
        f = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
        f[0] = f[1]
        x = np.fft.irfft(spectrum / f ** (alpha / 2), n)
    return (0.5 * x / np.abs(x).max()).astype(np.float32)


def render_dataset(out_dir: str | Path, n_speakers: int = 160,
                   keywords: tuple[str, ...] = ("yes", "no"), others_per_speaker: int = 7,
                   seed: int = 0, noise_seconds: float = 60.0, progress: bool = True) -> Path:
    """Render a synthetic Speech Commands set into ``out_dir``.

    Every speaker says each keyword once and ``others_per_speaker`` other
    words of the vocabulary (the future ``_unknown_`` class). Clips are written
    atomically; an existing clip is kept, so an interrupted render resumes.
    A seed fixes the plan (voices, words, levels, positions); eSpeak NG
    itself varies each waveform by a few samples from run to run.
    """
    from tqdm import tqdm

    from tinykws.audio import write_wav

    out = Path(out_dir)
    rng = np.random.default_rng(seed)
    voices = make_voices(n_speakers, rng)
    others = [w for w in SPEECH_COMMANDS_WORDS if w not in keywords]
    plan = []  # (word, voice, level, position seed)
    for voice in voices:
        chosen = list(keywords) + list(rng.choice(others, size=others_per_speaker, replace=False))
        for word in chosen:
            plan.append((word, voice, float(np.exp(rng.uniform(np.log(0.1), np.log(0.9)))),
                         int(rng.integers(2**31))))
    for word, voice, level, clip_seed in tqdm(plan, desc="rendering clips", unit="clip",
                                              disable=not progress):
        path = out / word / f"{voice.speaker_id}_nohash_0.wav"
        if path.exists():
            continue
        clip = place_in_clip(render_word(word, voice), np.random.default_rng(clip_seed), level)
        write_wav(path, clip, SAMPLE_RATE)
    for kind in ("white", "pink", "brown", "hum"):
        path = out / "_background_noise_" / f"{kind}_noise.wav"
        if not path.exists():
            write_wav(path, make_noise(kind, noise_seconds, rng), SAMPLE_RATE)
    return out
