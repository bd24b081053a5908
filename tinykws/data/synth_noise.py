"""Noise for the synthetic set: the beds under every clip and the background files.

Coloured noise (power ~ 1/f^alpha), mains hum with harmonics, room responses
and reverberation, babble of synthetic talkers, and the mixing of a word over
a bed at a chosen SNR. Everything draws from an explicit generator.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.signal import fftconvolve

from tinykws.data.synth_voice import CLIP_SAMPLES, SAMPLE_RATE, SPEECH_COMMANDS_WORDS, Voice, render_word

BACKGROUND_KINDS = ("white", "pink", "brown", "hum", "babble", "room")
BED_KINDS = ("colored", "hum", "babble")


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
