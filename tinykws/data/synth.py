"""A synthetic Speech Commands set rendered offline with eSpeak NG.

A fresh clone has no data and maybe no network; this module renders a keyword
set in the official training layout so that every stage of tinykws can run:

    DIR/<word>/<speaker>_nohash_<k>.wav     1 s, 16 kHz, mono, 16-bit PCM
    DIR/_background_noise_/<noise>.wav      60 s each of white, pink, brown
                                            noise, mains hum, babble and room noise
    DIR/synth_plan.json                     what was rendered (version, settings,
                                            fingerprint of the plan)

**Speakers.** A speaker is one eSpeak NG voice: an English accent
(``en-us``, ``en-gb-scotland``, ...) with a voice variant (``f3``,
``klatt2``, ``Annie``, ...), a base pitch, pitch range and speaking rate.
Its id is the first 8 hex digits of the sha1 of that description, so TF's
``which_set`` keeps every voice in one split, as it keeps a real speaker.

**Takes.** Every speaker says each keyword ``repeats`` times (``_nohash_0``,
``_nohash_1``, ...) and ``others`` other words of the vocabulary once (the
future ``_unknown_`` class). Like a person saying a word twice, each take
varies around its voice: pitch by up to 6 of eSpeak's 0-99 steps, rate by up
to 12 %, peak level (log-uniform, 0.05 to 0.9), position in the clip, and the
room (half the takes dry, the others reverberant with RT60 0.1-0.5 s).

**Noise inside the clips.** A recording is never digital silence, so every
clip is the word plus a *noise bed* at an SNR uniform in 5-30 dB (speech
power over the word and its room tail against bed power over the clip).
The bed is coloured noise (power ~ 1/f^alpha, alpha uniform in [0, 1.5]),
or mains hum (50 or 60 Hz with harmonics), or babble (an excerpt of a crowd
of synthetic talkers who are not speakers of the set), the last two over a
coloured-noise floor.
The ``_background_noise_/`` files, which the training augmentation mixes in,
add reverberant babble of ten crowd talkers and room noise (pink noise
coloured by a room response, slowly swelling) to the classic colours.

**Determinism.** A seed fixes the plan (:func:`make_plan`: voices, words,
every take's parameters and noise seed); eSpeak NG itself varies a waveform
by a few samples from run to run. The plan's fingerprint names the cache
folder of the default set, and a folder holding another plan is refused
rather than mixed (:data:`PLAN_VERSION` changes with the recipe).
An interrupted render resumes: clips are written atomically and an existing
clip is kept. Clips render in parallel processes (one per core by default).

Synthetic speech is far easier than real speech: use it to exercise the
pipeline, and always score the model on real speakers too.

The synthesizer is the eSpeak NG C library, from the ``espeakng-loader``
wheel (it ships ``libespeak-ng.so`` and its voice data) called through
ctypes, or else a system ``espeak-ng`` program (Debian package ``espeak-ng``).
"""

from __future__ import annotations

import ctypes
import dataclasses
import hashlib
import io
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.signal import fftconvolve, resample_poly

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

# Bump when the rendering recipe changes, so no cache holding an older set is reused.
PLAN_VERSION = 2
PLAN_FILE = "synth_plan.json"
BACKGROUND_KINDS = ("white", "pink", "brown", "hum", "babble", "room")
BED_KINDS = ("colored", "hum", "babble")
CROWD_VOICES = 24  # babble talkers, drawn apart from the speakers
SNR_DB = (5.0, 30.0)
LEVEL = (0.05, 0.9)
RT60_SECONDS = (0.1, 0.5)

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


def colored_noise(n: int, alpha: float, rng: np.random.Generator,
                  low_cut_hz: float = 20.0) -> np.ndarray:
    """Noise with power ~ ``1/f^alpha`` (0 white, 1 pink, 2 brown), unit RMS, ``(n,)`` float64.

    White noise shaped in the frequency domain by ``f^(-alpha/2)`` in
    amplitude; bins below ``low_cut_hz`` are removed, as a microphone's
    high-pass would, so brown noise is not all sub-audible drift.
    """
    spectrum = np.fft.rfft(rng.standard_normal(n))  # (n//2 + 1,) complex
    f = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
    gain = np.where(f >= low_cut_hz, np.maximum(f, 1e-9) ** (-alpha / 2), 0.0)
    x = np.fft.irfft(spectrum * gain, n)
    return x / np.sqrt(np.mean(x ** 2))


def hum(n: int, mains_hz: float, weights: np.ndarray, phases: np.ndarray) -> np.ndarray:
    """Mains hum: odd harmonics 1, 3, 5, ... of ``mains_hz`` with the given weights and phases."""
    t = np.arange(n) / SAMPLE_RATE
    return sum(w * np.sin(2 * np.pi * mains_hz * (2 * i + 1) * t + p)
               for i, (w, p) in enumerate(zip(weights, phases)))


def room_response(rt60: float, rng: np.random.Generator) -> np.ndarray:
    """A synthetic room impulse response ``(rt60 * 16000,)``: direct path, then a decaying tail.

    The tail is Gaussian noise whose energy falls 60 dB in ``rt60`` seconds
    (Schroeder's statistical model of late reverberation), starting 5 ms after
    the direct sound and 6 dB below it.
    """
    n = max(int(rt60 * SAMPLE_RATE), 2)
    t = np.arange(n) / SAMPLE_RATE
    tail = rng.standard_normal(n) * 10 ** (-3 * t / rt60)  # amplitude -60 dB at rt60
    tail[: int(0.005 * SAMPLE_RATE)] = 0.0
    tail *= 0.5 / np.sqrt(np.sum(tail ** 2))
    tail[0] = 1.0
    return tail


def reverberate(x: np.ndarray, rt60: float, rng: np.random.Generator) -> np.ndarray:
    """``x`` convolved with :func:`room_response`; longer by the room's tail."""
    return fftconvolve(x, room_response(rt60, rng))


def babble(n: int, crowd: tuple[Voice, ...], talkers: int, rng: np.random.Generator) -> np.ndarray:
    """``talkers`` crowd voices saying random words over each other, unit RMS, ``(n,)``.

    Each talker speaks one word after another with pauses of 50-400 ms, at
    its own loudness, starting mid-stream, so every stretch has some speech.
    """
    out = np.zeros(n)
    for _ in range(talkers):
        voice = crowd[int(rng.integers(len(crowd)))]
        gain = float(rng.uniform(0.4, 1.0))
        t = -int(rng.integers(0, SAMPLE_RATE // 2))
        while t < n:
            word = render_word(str(rng.choice(SPEECH_COMMANDS_WORDS)), voice)
            lo, hi = max(t, 0), min(t + len(word), n)
            if hi > lo:
                out[lo:hi] += gain * word[lo - t:hi - t]
            t += len(word) + int(rng.integers(SAMPLE_RATE // 20, 2 * SAMPLE_RATE // 5))
    return out / np.sqrt(np.mean(out ** 2))


def make_noise(kind: str, seconds: float, rng: np.random.Generator,
               crowd: tuple[Voice, ...] = ()) -> np.ndarray:
    """A ``_background_noise_`` recording at 16 kHz, peak 0.5, float32.

    ``white``, ``pink``, ``brown``: :func:`colored_noise` with alpha 0, 1, 2.
    ``hum``: 50 Hz mains, odd harmonics at 1/h, a little white noise.
    ``babble``: ten ``crowd`` talkers in a reverberant room (RT60 0.6 s).
    ``room``: pink noise coloured by a room response (RT60 0.8 s) whose level
    swells slowly (0.1-0.3 Hz, +-30 %), like ventilation in a closed room.
    """
    n = int(seconds * SAMPLE_RATE)
    if kind in ("white", "pink", "brown"):
        x = colored_noise(n, {"white": 0.0, "pink": 1.0, "brown": 2.0}[kind], rng)
    elif kind == "hum":
        x = hum(n, 50.0, 1 / np.array([1, 3, 5, 7]), np.zeros(4)) + 0.05 * rng.standard_normal(n)
    elif kind == "babble":
        x = reverberate(babble(n, crowd, 10, rng), 0.6, rng)[:n]
        x = x + 0.05 * np.sqrt(np.mean(x ** 2)) * colored_noise(n, 1.0, rng)
    elif kind == "room":
        t = np.arange(n) / SAMPLE_RATE
        swell = 1 + 0.3 * np.sin(2 * np.pi * rng.uniform(0.1, 0.3) * t + rng.uniform(0, 2 * np.pi))
        x = reverberate(colored_noise(n, 1.0, rng), 0.8, rng)[:n] * swell
    else:
        raise ValueError(f"unknown noise kind {kind!r}; expected one of {BACKGROUND_KINDS}")
    return (0.5 * x / np.abs(x).max()).astype(np.float32)


@lru_cache(maxsize=2)
def _bed_babble(crowd: tuple[Voice, ...], seed: int, seconds: float = 30.0) -> np.ndarray:
    """The track that babble beds are cut from: six crowd talkers, unit RMS.

    One track per plan, cached because every process cuts many excerpts from it.
    """
    return babble(int(seconds * SAMPLE_RATE), crowd, 6, np.random.default_rng(seed))


def noise_bed(kind: str, rng: np.random.Generator, babble_track: np.ndarray) -> np.ndarray:
    """One clip's background, unit RMS, ``(16000,)``: ``colored``, ``hum`` or ``babble``.

    Hum and babble lie over a coloured-noise floor 10 dB below them, so no
    stretch of a clip is digital silence.
    """
    floor = colored_noise(CLIP_SAMPLES, float(rng.uniform(0.0, 1.5)), rng)  # (16000,)
    if kind == "colored":
        return floor
    if kind == "hum":
        harmonics = 4
        x = hum(CLIP_SAMPLES, float(rng.choice([50.0, 60.0])),
                rng.uniform(0.2, 1.0, harmonics) / np.arange(1, 2 * harmonics, 2),
                rng.uniform(0, 2 * np.pi, harmonics))
    elif kind == "babble":
        start = int(rng.integers(len(babble_track) - CLIP_SAMPLES))
        x = babble_track[start:start + CLIP_SAMPLES]
    else:
        raise ValueError(f"unknown bed kind {kind!r}; expected one of {BED_KINDS}")
    x = x / np.sqrt(np.mean(x ** 2)) + np.sqrt(0.1) * floor
    return x / np.sqrt(np.mean(x ** 2))


# -- one clip ---------------------------------------------------------------


def place_in_clip(speech: np.ndarray, position: float, level: float) -> tuple[np.ndarray, int]:
    """Put ``speech`` into a 1 s clip at peak ``level``; returns ``(clip, start)``.

    ``position`` 0 puts the word at the start, 1 at the end of the clip.
    Words longer than 1 s are cut at 1 s (a slow rate or a long room tail).
    """
    speech = speech[:CLIP_SAMPLES]
    clip = np.zeros(CLIP_SAMPLES, np.float32)  # (16000,)
    start = int(round(position * (CLIP_SAMPLES - len(speech))))
    clip[start:start + len(speech)] = level * speech / np.abs(speech).max()
    return clip, start


def mix_at_snr(clip: np.ndarray, speech: slice, bed: np.ndarray, snr_db: float) -> np.ndarray:
    """``clip + g * bed``, ``g`` chosen so the speech is ``snr_db`` above the bed.

    SNR = 10 log10(mean(clip[speech]^2) / mean((g * bed)^2)), ``speech`` the
    samples of the word (with its room tail, if any). A mix that
    would clip is scaled down as a whole, which keeps the SNR.
    """
    speech_power = np.mean(clip[speech].astype(np.float64) ** 2)
    bed_power = np.mean(bed.astype(np.float64) ** 2)
    x = clip + np.sqrt(speech_power / bed_power * 10 ** (-snr_db / 10)) * bed
    peak = np.abs(x).max()
    return (x * min(1.0, 0.99 / peak)).astype(np.float32)  # (16000,)


@dataclass(frozen=True)
class Take:
    """One clip of the plan: who says which word how, in which room, over which noise."""

    word: str
    speaker: Voice
    k: int  # this speaker's k-th take of the word: <speaker>_nohash_<k>.wav
    pitch: int  # this take's pitch and rate, around the speaker's
    rate: int
    level: float  # peak of the word in the clip
    position: float  # 0 = word at the start of the clip, 1 = at its end
    rt60: float  # reverberation time in seconds; 0 = dry
    bed: str  # one of BED_KINDS
    snr_db: float
    seed: int  # the bed's samples and the room's response

    @property
    def path(self) -> str:
        return f"{self.word}/{self.speaker.speaker_id}_nohash_{self.k}.wav"


def render_take(take: Take, babble_track: np.ndarray) -> np.ndarray:
    """The take's 1 s clip, float32 ``(16000,)``: word, room, position, level, noise bed."""
    rng = np.random.default_rng(take.seed)
    speech = render_word(take.word, dataclasses.replace(take.speaker, pitch=take.pitch,
                                                        rate=take.rate))
    if take.rt60 > 0:
        speech = reverberate(speech, take.rt60, rng)
    clip, start = place_in_clip(speech, take.position, take.level)
    spoken = slice(start, start + min(len(speech), CLIP_SAMPLES))
    return mix_at_snr(clip, spoken, noise_bed(take.bed, rng, babble_track), take.snr_db)


# -- the plan -----------------------------------------------------------------


@dataclass(frozen=True)
class SynthSettings:
    """What to render. The defaults give a test split of about 480 clips for yes/no."""

    speakers: int = 400
    keywords: tuple[str, ...] = ("yes", "no")
    repeats: int = 4  # takes of every keyword per speaker
    others: int = 10  # other vocabulary words per speaker, one take each
    seed: int = 0
    noise_seconds: float = 60.0  # length of each _background_noise_ file


@dataclass(frozen=True)
class SynthPlan:
    """Every clip to render, and the seeds of the noise; a pure function of the settings."""

    settings: SynthSettings
    takes: tuple[Take, ...]
    crowd: tuple[Voice, ...]  # babble talkers, none of them a speaker of the set
    background_seed: int
    bed_seed: int

    @property
    def fingerprint(self) -> str:
        """12 hex digits of the sha1 of the version and the whole plan."""
        text = json.dumps({"version": PLAN_VERSION, **dataclasses.asdict(self)}, sort_keys=True)
        return hashlib.sha1(text.encode()).hexdigest()[:12]


def _draw_take(word: str, speaker: Voice, k: int, rng: np.random.Generator) -> Take:
    return Take(
        word=word, speaker=speaker, k=k,
        pitch=int(np.clip(speaker.pitch + rng.integers(-6, 7), 0, 99)),
        rate=int(round(speaker.rate * rng.uniform(0.88, 1.12))),
        level=float(np.exp(rng.uniform(np.log(LEVEL[0]), np.log(LEVEL[1])))),
        position=float(rng.uniform()),
        rt60=float(rng.uniform(*RT60_SECONDS)) if rng.uniform() < 0.5 else 0.0,
        bed=str(rng.choice(BED_KINDS)), snr_db=float(rng.uniform(*SNR_DB)),
        seed=int(rng.integers(2**31)))


def make_plan(settings: SynthSettings = SynthSettings()) -> SynthPlan:
    """The plan of a synthetic set: speakers, then each speaker's takes, in a fixed order."""
    others = [w for w in SPEECH_COMMANDS_WORDS if w not in settings.keywords]
    if not 0 <= settings.others <= len(others):
        raise TinyKWSError(f"others must be between 0 and {len(others)}, not {settings.others}")
    rng = np.random.default_rng(settings.seed)
    voices = make_voices(settings.speakers + CROWD_VOICES, rng)
    speakers, crowd = voices[:settings.speakers], voices[settings.speakers:]
    takes = []
    for voice in speakers:
        said = [(w, k) for w in settings.keywords for k in range(settings.repeats)]
        said += [(str(w), 0) for w in rng.choice(others, size=settings.others, replace=False)]
        takes += [_draw_take(word, voice, k, rng) for word, k in said]
    return SynthPlan(settings, tuple(takes), tuple(crowd),
                     background_seed=int(rng.integers(2**31)), bed_seed=int(rng.integers(2**31)))


# -- rendering a set ------------------------------------------------------------


def _claim(out: Path, plan: SynthPlan) -> None:
    """Write ``out/synth_plan.json``, or check that the folder already holds this plan."""
    from tinykws.atomic import write_json

    plan_file = out / PLAN_FILE
    if plan_file.exists():
        found = json.loads(plan_file.read_text()).get("fingerprint")
        if found != plan.fingerprint:
            raise TinyKWSError(
                f"{out} holds another synthetic set (plan {found}, not {plan.fingerprint}): "
                "render into an empty folder or remove it")
        return
    if out.is_dir() and next(out.rglob("*.wav"), None) is not None:
        raise TinyKWSError(f"{out} holds WAV files but no {PLAN_FILE} (an older synthetic set?): "
                           "render into an empty folder or remove it")
    write_json(plan_file, {"version": PLAN_VERSION, "fingerprint": plan.fingerprint,
                           "settings": dataclasses.asdict(plan.settings),
                           "clips": len(plan.takes), "speakers": plan.settings.speakers})


def _render_job(job: tuple[str, tuple[Take, ...], tuple[Voice, ...], int]) -> int:
    """Render and write one job's takes (in a worker process); returns how many."""
    from tinykws.audio import write_wav

    out, takes, crowd, bed_seed = job
    track = _bed_babble(crowd, bed_seed)
    for take in takes:
        write_wav(Path(out) / take.path, render_take(take, track), SAMPLE_RATE)
    return len(takes)


def render_dataset(out_dir: str | os.PathLike, settings: SynthSettings = SynthSettings(), *,
                   workers: int | None = None, progress: bool = True) -> Path:
    """Render the synthetic set of ``settings`` into ``out_dir`` (layout in the module docstring).

    The ``_background_noise_`` files come first, then the missing clips in
    ``workers`` processes (default: one per CPU core; 1 renders in this
    process), in jobs of 32 clips. Raises :class:`TinyKWSError` if the
    folder holds another plan.
    """
    from tqdm import tqdm

    from tinykws.audio import write_wav

    out = Path(out_dir)
    plan = make_plan(settings)
    _claim(out, plan)
    for i, kind in enumerate(tqdm(BACKGROUND_KINDS, desc="rendering background noise",
                                  disable=not progress)):
        path = out / "_background_noise_" / f"{kind}_noise.wav"
        if not path.exists():
            rng = np.random.default_rng([plan.background_seed, i])  # one stream per file
            write_wav(path, make_noise(kind, settings.noise_seconds, rng, plan.crowd), SAMPLE_RATE)
    todo = [t for t in plan.takes if not (out / t.path).exists()]
    jobs = [(str(out), tuple(todo[i:i + 32]), plan.crowd, plan.bed_seed)
            for i in range(0, len(todo), 32)]
    workers = min(workers or os.cpu_count() or 1, max(len(jobs), 1))
    with tqdm(total=len(todo), desc="rendering clips", unit="clip", disable=not progress) as bar:
        if workers == 1:
            for job in jobs:
                bar.update(_render_job(job))
        else:
            import multiprocessing

            # spawn, not fork: each worker starts its own eSpeak NG library state
            with multiprocessing.get_context("spawn").Pool(workers) as pool:
                for done in pool.imap_unordered(_render_job, jobs):
                    bar.update(done)
    return out

