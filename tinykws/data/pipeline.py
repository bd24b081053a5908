"""From a dataset index to model inputs: batches for training, fixed arrays for evaluation.

:class:`FeaturePipeline` is the one object the training code talks to. Per
example it does what TF's ``get_data`` does with ``--preprocess=micro``:

1. the clip as int16, cropped or zero-padded to 16000 samples
   (``decode_wav(desired_samples=16000)``), or zeros for a silence example;
2. to float (``/32768``), augmentation (:mod:`tinykws.data.augment`),
   ``clip_by_value(-1, 1)``, back to int16 (:func:`tinykws.audio.to_int16`);
3. micro features ``(frames, channels)`` uint16, 49 x 40 for a second;
4. the float model input ``v * 10 / 256`` (TF: ``tf.multiply(micro_frontend,
   10.0 / 256.0)``; 10/256 is exact in float32), with a channel axis:
   ``x: (N, 49, 40, 1)`` float32, NHWC.

With another :class:`~tinykws.features.spec.FeatureSpec` (``spec=``), steps 3
and 4 are that spec's float model input instead,
:func:`tinykws.features.compute.features_batch` of the augmented int16 clips
for the whole batch at once: ``x: (N, *spec.shape, 1)``, e.g. MLPerf Tiny's
49 x 10 MFCCs. TF's own ``mfcc`` and ``average`` modes feed the spectrogram
the float mix before any int16 rounding; here every mode sees the int16
samples (``/ 32768``), as a device and ``tinykws infer`` do. Augmentation
stays in the audio domain, the same for every spec.

Training batches pick each example with the split's sampler
(:mod:`tinykws.data.sampling`): for the official layout uniformly with
replacement, as TF's ``np.random.randint(len(candidates))``; for a training
split cut from the canonical test-set layout with TF's class shares as priors.
Evaluation arrays (:meth:`FeaturePipeline.split_arrays`) are the whole split in
index order, deterministic, computed once and kept.

Decoded clips are kept in memory as int16 (one load per file per pipeline):
32 kB a clip, so 10,000 clips take 320 MB. Step 2 for a whole batch is one
call of the Numba kernel :func:`kernels.augment_mix.mix_batch` (the random
draws are still made example by example, in TF's order), bit-identical to
:func:`tinykws.data.augment.apply`, the reference.
"""

from __future__ import annotations

from functools import partial
from typing import Callable, Sequence

import numpy as np

from kernels.augment_mix import mix_batch
from tinykws.audio import fit_length, load_wav, to_int16
from tinykws.data import augment
from tinykws.data.sampling import training_sampler
from tinykws.data.speech_commands import CLIP_SAMPLES, SPLITS, DatasetIndex, Example
from tinykws.errors import TinyKWSError
from tinykws.features.model_input import FLOAT_SCALE as MICRO_FLOAT_SCALE  # uint16 -> float input
from tinykws.features.spec import MICRO_DEFAULT, FeatureSpec

FeatureFunction = Callable[[np.ndarray], np.ndarray]  # (N, n) int16 -> (N, frames, channels) uint16


def micro_features(samples: np.ndarray, config=None) -> np.ndarray:
    """The default feature function: the TFLite-Micro frontend (its default settings unless given)."""
    from tinykws.features.micro_frontend import MicroFrontendConfig, micro_features_batch

    return micro_features_batch(samples, MicroFrontendConfig() if config is None else config)


class FeaturePipeline:
    """Model inputs for the splits of a :class:`DatasetIndex`.

    ``spec`` says which features the model takes (micro_speech's by default).
    For a ``micro`` spec, ``features`` maps int16 waveforms ``(N, 16000)`` to
    uint16 features ``(N, frames, channels)``; by default the micro frontend
    at the spec's settings. The other modes compute ``spec``'s float input
    themselves (``features`` must be None). The clips are 1 s at 16 kHz, so
    a spec of another clip length or sample rate is refused.
    ``augmentation`` holds the training-time settings (by default TF's
    ``train.py`` flags ``--time_shift_ms``, ``--background_frequency``,
    ``--background_volume``); a training run sets it from its config.
    """

    def __init__(self, index: DatasetIndex, features: FeatureFunction | None = None, *,
                 spec: FeatureSpec = MICRO_DEFAULT,
                 augmentation: augment.Augmentation = augment.TF_AUGMENTATION,
                 batch_chunk: int = 256):
        if spec.desired_samples != CLIP_SAMPLES or spec.sample_rate != 16000:
            raise TinyKWSError(f"the training data are 1 s clips at 16 kHz; features of "
                               f"{spec.describe()} cannot be trained on them")
        if spec.mode != "micro" and features is not None:
            raise ValueError("a feature function replaces the micro frontend only")
        self.index = index
        self.spec = spec
        if features is None and spec.mode == "micro":
            features = micro_features if spec == MICRO_DEFAULT else partial(
                micro_features, config=spec.micro_config())
        self.features = features  # None: spec's own float features (features_batch)
        self.augmentation = augmentation
        self.batch_chunk = int(batch_chunk)  # examples per call of `features` in split_arrays
        self._background_lengths = tuple(len(b) for b in index.background)
        self._clips: dict[str, np.ndarray] = {}  # path -> (16000,) int16
        self._split_arrays: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._sampler = None  # made on the first training batch: evaluation needs none
        self._noise: tuple[np.ndarray, np.ndarray] | None = None  # made on first use

    @property
    def labels(self) -> tuple[str, ...]:
        return self.index.labels

    @property
    def class_shares(self) -> tuple[float, float]:
        """TF's ``(silence %, unknown %)`` of the index, for sampling and reports."""
        return self.index.silence_percentage, self.index.unknown_percentage

    def split_size(self, split: str) -> int:
        return len(self._split(split))

    # -- waveforms ---------------------------------------------------------

    def clip(self, example: Example) -> np.ndarray:
        """The example's clip as int16 ``(16000,)``; zeros for a silence example without a file."""
        if example.path is None:
            return np.zeros(CLIP_SAMPLES, dtype=np.int16)
        cached = self._clips.get(example.path)
        if cached is None:
            waveform = fit_length(load_wav(example.path), CLIP_SAMPLES)  # (16000,) float32
            cached = self._clips[example.path] = to_int16(waveform)
        return cached

    def _noise_bank(self) -> tuple[np.ndarray, np.ndarray]:
        """Every background file end to end ``(total,)`` float32, and where each starts ``(files,)``."""
        if self._noise is None:
            lengths = np.array(self._background_lengths, dtype=np.int64)
            starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)  # (files,)
            bank = (np.concatenate(self.index.background).astype(np.float32) if len(lengths)
                    else np.zeros(0, np.float32))  # (total,)
            self._noise = bank, starts
        return self._noise

    def augmented_audio(self, examples: Sequence[Example], draws: Sequence[augment.Draw]) -> np.ndarray:
        """The examples' clips with their draws applied: int16 ``(N, 16000)``.

        The same samples as :func:`tinykws.data.augment.apply` then
        :func:`tinykws.audio.to_int16` clip by clip (the reference), from one
        call of the batch kernel :func:`kernels.augment_mix.mix_batch`.
        """
        n = len(examples)
        clips = np.empty((n, CLIP_SAMPLES), dtype=np.int16)  # (N, 16000) int16
        for i, example in enumerate(examples):
            clips[i] = self.clip(example)
        bank, file_starts = self._noise_bank()
        noisy = [d.background_index is not None and d.volume != 0.0 for d in draws]
        noise_starts = np.array([file_starts[d.background_index] + d.background_offset if on else -1
                                 for d, on in zip(draws, noisy)], dtype=np.int64)  # (N,)
        shifts = np.array([d.shift for d in draws], dtype=np.int64)  # (N,)
        gains = np.array([d.gain for d in draws], dtype=np.float32)  # (N,)
        volumes = np.array([d.volume for d in draws], dtype=np.float32)  # (N,)
        audio = np.empty((n, CLIP_SAMPLES), dtype=np.int16)  # (N, 16000) int16
        if n:
            mix_batch(clips, shifts, gains, bank, noise_starts, volumes, audio)
        return audio

    def training_audio(self, batch_size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Augmented int16 waveforms ``(N, 16000)`` and labels ``(N,)`` int64 of a random batch.

        The draws are made example after example in TF's order (the example,
        then its augmentation), the arithmetic for the whole batch at once.
        """
        if self._sampler is None:
            self._sampler = training_sampler(self.index)
        examples, draws = [], []
        for _ in range(batch_size):
            example = self._sampler.draw(rng)
            examples.append(example)
            draws.append(augment.draw_training(  # a clip without a file is a silence example
                rng, example.path is None, self._background_lengths, CLIP_SAMPLES, self.augmentation))
        labels = np.array([e.label for e in examples], dtype=np.int64)  # (N,)
        return self.augmented_audio(examples, draws), labels

    def split_audio(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """The whole split, unaugmented, as int16 ``(N, 16000)`` and labels ``(N,)`` int64."""
        examples = self._split(split)
        draws = [augment.draw_evaluation(split, i, example.path is None,
                                         self._background_lengths, CLIP_SAMPLES)
                 for i, example in enumerate(examples)]
        labels = np.array([e.label for e in examples], dtype=np.int64)  # (N,)
        return self.augmented_audio(examples, draws), labels

    # -- model inputs ------------------------------------------------------

    def model_input(self, audio: np.ndarray) -> np.ndarray:
        """int16 waveforms ``(N, n)`` -> float model input ``(N, frames, channels, 1)``."""
        if self.features is None:  # a spec that is not micro: its float input, whole batch at once
            from tinykws.features.compute import features_batch

            return features_batch(audio, self.spec)[..., np.newaxis]  # (N, F, W, 1) float32
        u16 = np.asarray(self.features(audio))  # (N, frames, channels) uint16
        if u16.ndim != 3 or len(u16) != len(audio):
            raise ValueError(f"features returned shape {u16.shape} for {len(audio)} clips")
        return (u16.astype(np.float32) * MICRO_FLOAT_SCALE)[..., np.newaxis]  # (N, F, C, 1) float32

    def training_batch(self, batch_size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """A random augmented batch: ``x (N, 49, 40, 1)`` float32 (``spec.shape``), ``y (N,)`` int64."""
        audio, labels = self.training_audio(batch_size, rng)
        x = self.model_input(audio)  # (N, F, C, 1) float32
        a = self.augmentation
        if a.time_masks or a.frequency_masks:
            for i in range(len(x)):
                x[i, augment.draw_masks(rng, x.shape[1], x.shape[2], a), 0] = 0.0
        return x, labels

    def split_arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """The whole split, deterministic: ``x (N, 49, 40, 1)`` float32 (``spec.shape``), ``y (N,)`` int64.

        Computed on the first call and kept; later calls return the same arrays
        (treat them as read-only).
        """
        if split not in self._split_arrays:
            from tqdm import tqdm

            audio, labels = self.split_audio(split)
            parts = [self.model_input(audio[i:i + self.batch_chunk])
                     for i in tqdm(range(0, len(audio), self.batch_chunk), desc=f"{split} features",
                                   unit="chunk", leave=False, disable=None)]
            if not parts:  # an empty split still has the feature shape
                parts = [self.model_input(np.zeros((1, CLIP_SAMPLES), dtype=np.int16))[:0]]
            x = np.concatenate(parts)  # (N, 49, 40, 1) float32
            x.setflags(write=False)
            labels.setflags(write=False)
            self._split_arrays[split] = (x, labels)
        return self._split_arrays[split]

    def _split(self, split: str) -> tuple[Example, ...]:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        return self.index.splits[split]
