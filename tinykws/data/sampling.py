"""Which example a training step draws next: TF's index order, or TF's class shares from full pools.

TF's ``input_data.py`` fixes a training split once — every wanted-word clip,
plus ``silence%`` and ``unknown%`` *of the wanted-word count* as silence
examples and a random subset of the other words — and each step picks from
that list uniformly with replacement. :class:`UniformSampler` does exactly
that, for the official training layout.

When the training split comes from the canonical *test-set* layout (a
speaker re-split or a cross-validation fold), the split holds every clip at
its natural share: 73 % ``_unknown_`` in v0.02's test set. Training on it as
it is teaches the model that a keyword is rare; keeping only TF's share of
unknown clips throws most of the other words away. :class:`ClassPriorSampler`
keeps TF's shares *as class priors* and draws from the whole pools:

- with probability ``s / (100 + s + u)`` a **silence** example: no clip,
  only background noise (the augmentation gives it volume ``U(0, 1)``; here
  the noise comes from the training split's recorded ``_silence_`` clips);
- with probability ``u / (100 + s + u)`` an **unknown** example: one clip
  drawn uniformly from *all* the split's other-word clips;
- otherwise a **wanted-word** clip, uniformly from all of them (so the
  words keep their relative frequencies, as in TF).

With TF's defaults (``s = u = 25``) a batch is, in expectation, 2/3 wanted
words and 1/6 each silence and unknown — TF's distribution — while every
unknown clip is seen over a run. A pool that is empty drops out and the
others keep their relative odds.
"""

from __future__ import annotations

import numpy as np

from tinykws.data.speech_commands import (SILENCE_INDEX, SILENCE_LABEL, UNKNOWN_INDEX, DatasetIndex,
                                          Example)
from tinykws.errors import TinyKWSError

SILENCE_EXAMPLE = Example(None, SILENCE_LABEL, SILENCE_INDEX)


class UniformSampler:
    """TF's rule: one example of the fixed split, uniformly with replacement."""

    rule = "uniform over the split (TF's input_data.py)"

    def __init__(self, examples: tuple[Example, ...]):
        if not examples:
            raise TinyKWSError("the training split is empty")
        self.examples = examples

    def draw(self, rng: np.random.Generator) -> Example:
        return self.examples[int(rng.integers(len(self.examples)))]


class ClassPriorSampler:
    """TF's silence / unknown shares as class priors over the full pools (module docstring)."""

    rule = "TF's class shares as priors, drawn from the full pools"

    def __init__(self, examples: tuple[Example, ...], silence_percentage: float,
                 unknown_percentage: float, has_noise: bool):
        self.wanted = tuple(e for e in examples if e.label > UNKNOWN_INDEX)
        self.unknown = tuple(e for e in examples if e.label == UNKNOWN_INDEX)
        if not self.wanted:
            raise TinyKWSError("the training split has no keyword clip")
        if silence_percentage > 0 and not has_noise:
            raise TinyKWSError("the training split has no recorded _silence_ clip to make silence "
                               "examples from (or ask for 0 % silence)")
        weights = np.array([silence_percentage, unknown_percentage if self.unknown else 0.0, 100.0])
        self.probabilities = weights / weights.sum()  # (3,): silence, unknown, wanted

    def draw(self, rng: np.random.Generator) -> Example:
        r = rng.uniform()
        if r < self.probabilities[0]:
            return SILENCE_EXAMPLE
        if r < self.probabilities[0] + self.probabilities[1]:
            return self.unknown[int(rng.integers(len(self.unknown)))]
        return self.wanted[int(rng.integers(len(self.wanted)))]


def training_sampler(index: DatasetIndex) -> UniformSampler | ClassPriorSampler:
    """The sampler for ``index``'s training split: class priors for the test-set layout, else TF's."""
    examples = index.splits["training"]
    if index.layout == "test-set":
        return ClassPriorSampler(examples, index.silence_percentage, index.unknown_percentage,
                                 has_noise=bool(index.background))
    return UniformSampler(examples)
