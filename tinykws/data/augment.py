"""Training-time augmentation of one-second clips, as TF's ``input_data.get_data`` does it.

For every training example, in this order of random draws:

1. a time shift ``s`` uniform in ``[-T, T)`` samples (``T = 1600``, 100 ms at
   16 kHz; numpy's ``randint(-T, T)`` excludes ``T``). The clip moves ``s``
   samples later (``s > 0``) or ``-s`` earlier, and the gap is zero: TF pads
   ``s`` zeros in front and keeps the first ``n`` samples, or pads ``-s``
   zeros behind and keeps ``n`` samples from ``-s`` on. Either way
   ``out[t] = x[t - s]``, zero where ``t - s`` falls outside the clip;
2. a background file, uniformly, and a window start uniform in
   ``[0, len - n)``;
3. the noise volume: ``U(0, 1)`` for a silence example; otherwise with
   probability 0.8 (``--background_frequency``) ``U(0, 0.1)``
   (``--background_volume``), else 0.

The clip is then ``clip(volume * noise + shifted, -1, 1)``. Beyond TF (off
unless asked for in :class:`Augmentation`), after those draws:

4. a foreground gain ``10^(g / 20)``, ``g`` uniform in ``gain_db`` (volume
   perturbation: speakers talk louder and softer than the recordings);
5. SpecAugment's masks (Park et al. 2019) on the features, drawn in
   :func:`draw_masks`: ``time_masks`` runs of up to ``time_mask_frames``
   frames and ``frequency_masks`` runs of up to ``frequency_mask_channels``
   channels set to zero.

A silence example
without a file has an all-zero foreground (TF loads some clip and multiplies
it by 0), so it is pure noise.

Validation and testing use no shift and no noise, except that silence
examples still need their noise: TF draws it from the global NumPy state, so
its evaluation sets change from call to call. Here the draws come from
:func:`evaluation_rng`, seeded by (split, position), so an evaluation set is
the same every time. Silence examples with a file (the canonical test set's
recorded silence) are ordinary clips, loaded as they are.

All randomness comes from an explicit ``numpy.random.Generator``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

TIME_SHIFT_SAMPLES = 1600  # TF --time_shift_ms=100 at 16 kHz
BACKGROUND_FREQUENCY = 0.8  # TF --background_frequency
BACKGROUND_VOLUME = 0.1  # TF --background_volume: upper end of U(0, v) for word clips
SILENCE_VOLUME = 1.0  # TF draws a silence example's noise volume from U(0, 1)
EVALUATION_SEED = 59185  # root of the per-example evaluation seeds
_SPLIT_CODES = {"training": 0, "validation": 1, "testing": 2}


@dataclass(frozen=True)
class Augmentation:
    """The training-time augmentation settings; the defaults are TF's ``train.py`` flags."""

    time_shift_samples: int = TIME_SHIFT_SAMPLES
    background_frequency: float = BACKGROUND_FREQUENCY
    background_volume: float = BACKGROUND_VOLUME
    gain_db: tuple[float, float] = (0.0, 0.0)  # foreground gain range in dB; (0, 0): none
    time_masks: int = 0
    time_mask_frames: int = 0
    frequency_masks: int = 0
    frequency_mask_channels: int = 0


TF_AUGMENTATION = Augmentation()


@dataclass(frozen=True)
class Draw:
    """The random choices made for one example (kept so they can be checked)."""

    shift: int  # samples; out[t] = x[t - shift]
    background_index: int | None  # which background file, None for no noise
    background_offset: int  # first sample of the noise window
    volume: float  # noise gain
    gain: float = 1.0  # foreground gain


NO_AUGMENTATION = Draw(shift=0, background_index=None, background_offset=0, volume=0.0)


def time_shift(x: np.ndarray, shift: int) -> np.ndarray:
    """Shift ``x`` by ``shift`` samples with zero fill, by TF's pad-then-slice recipe."""
    n = len(x)
    if shift > 0:
        padded = np.concatenate([np.zeros(shift, dtype=x.dtype), x])  # (n + shift,)
        return padded[:n]
    padded = np.concatenate([x, np.zeros(-shift, dtype=x.dtype)])  # (n - shift,)
    return padded[-shift:-shift + n]


def draw_window(rng: np.random.Generator, background_lengths: Sequence[int], n: int) -> tuple[int, int]:
    """A background file index, uniform, and a window start uniform in ``[0, len - n)``.

    A noise clip of exactly ``n`` samples (a recorded one-second ``_silence_``
    clip) has the one start 0; the draw is still made, so the stream of
    random numbers does not depend on the clip lengths.
    """
    index = int(rng.integers(len(background_lengths)))
    return index, int(rng.integers(0, max(background_lengths[index] - n, 1)))


def draw_training(rng: np.random.Generator, is_silence: bool, background_lengths: Sequence[int],
                  n: int, settings: Augmentation = TF_AUGMENTATION) -> Draw:
    """Draw one training example's augmentation, in TF's order of draws (then the gain)."""
    t = settings.time_shift_samples
    shift = int(rng.integers(-t, t)) if t > 0 else 0
    index, offset, volume = None, 0, 0.0
    if background_lengths:  # without noise files (a test set lacking _silence_ clips): no noise
        index, offset = draw_window(rng, background_lengths, n)
        if is_silence:
            volume = float(rng.uniform(0.0, SILENCE_VOLUME))
        elif rng.uniform(0.0, 1.0) < settings.background_frequency:
            volume = float(rng.uniform(0.0, settings.background_volume))
    low, high = settings.gain_db
    gain = float(10.0 ** (rng.uniform(low, high) / 20.0)) if high > low else 1.0
    return Draw(shift, index, offset, volume, gain)


def draw_masks(rng: np.random.Generator, frames: int, channels: int,
               settings: Augmentation) -> np.ndarray:
    """SpecAugment's time and frequency masks for one example: ``(frames, channels)`` bool, True = zeroed.

    Each mask has a width uniform in ``[0, max]`` and a start uniform over
    the positions where it fits.
    """
    mask = np.zeros((frames, channels), bool)  # (F, C)
    for _ in range(settings.time_masks):
        width = int(rng.integers(0, min(settings.time_mask_frames, frames) + 1))
        start = int(rng.integers(0, frames - width + 1))
        mask[start:start + width, :] = True
    for _ in range(settings.frequency_masks):
        width = int(rng.integers(0, min(settings.frequency_mask_channels, channels) + 1))
        start = int(rng.integers(0, channels - width + 1))
        mask[:, start:start + width] = True
    return mask


def evaluation_rng(split: str, position: int) -> np.random.Generator:
    """The generator for example ``position`` of ``split``: same draws on every call."""
    return np.random.default_rng([EVALUATION_SEED, _SPLIT_CODES[split], position])


def draw_evaluation(split: str, position: int, is_silence: bool,
                    background_lengths: Sequence[int], n: int) -> Draw:
    """No augmentation, except noise at volume U(0, 1) for a silence example without a file."""
    if not is_silence or not background_lengths:
        return NO_AUGMENTATION
    rng = evaluation_rng(split, position)
    index, offset = draw_window(rng, background_lengths, n)
    return Draw(0, index, offset, float(rng.uniform(0.0, SILENCE_VOLUME)))


def apply(foreground: np.ndarray, draw: Draw, background: Sequence[np.ndarray]) -> np.ndarray:
    """``clip(volume * noise + time_shift(foreground), -1, 1)`` in float32.

    ``foreground`` is the ``(n,)`` float32 clip, all zeros for a silence
    example. Arithmetic is float32 throughout, as in TF's graph.
    """
    x = np.asarray(foreground, dtype=np.float32)
    if draw.gain != 1.0:
        x = x * np.float32(draw.gain)
    x = time_shift(x, draw.shift)  # (n,) float32
    if draw.background_index is not None and draw.volume != 0.0:
        noise = background[draw.background_index][draw.background_offset:draw.background_offset + len(x)]
        x = noise.astype(np.float32) * np.float32(draw.volume) + x  # (n,) float32
    return np.clip(x, np.float32(-1.0), np.float32(1.0))
