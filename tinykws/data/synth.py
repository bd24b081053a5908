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
ctypes, or else a system ``espeak-ng`` program (Debian package ``espeak-ng``):
:mod:`tinykws.data.synth_voice`. The noise is :mod:`tinykws.data.synth_noise`;
this module plans the set and renders it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinykws.data.synth_noise import (BACKGROUND_KINDS, BED_KINDS, _bed_babble, make_noise,
                                      mix_at_snr, noise_bed, place_in_clip, reverberate)
from tinykws.data.synth_voice import (CLIP_SAMPLES, SAMPLE_RATE, SPEECH_COMMANDS_WORDS, Voice,
                                      make_voices, render_word)
from tinykws.errors import TinyKWSError

# Bump when the rendering recipe changes, so no cache holding an older set is reused.
PLAN_VERSION = 2
PLAN_FILE = "synth_plan.json"
CROWD_VOICES = 24  # babble talkers, drawn apart from the speakers
SNR_DB = (5.0, 30.0)
LEVEL = (0.05, 0.9)
RT60_SECONDS = (0.1, 0.5)

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

