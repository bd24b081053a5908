"""Training draws: TF's uniform pick on the official layout, TF's class shares as priors on a test set."""

import math
from collections import Counter

import numpy as np
import pytest

from fixtures import make_test_set
from tinykws.data.pipeline import FeaturePipeline
from tinykws.data.sampling import ClassPriorSampler, UniformSampler, training_sampler
from tinykws.data.speech_commands import SILENCE_INDEX, UNKNOWN_INDEX, index_speech_commands
from tinykws.errors import TinyKWSError


@pytest.fixture(scope="module")
def test_set(tmp_path_factory):
    return make_test_set(tmp_path_factory.mktemp("ts"), n_speakers=60, n_silence=40,
                         unknown_words=("bed", "cat", "dog", "tree"))


@pytest.fixture(scope="module")
def resplit(test_set):
    return index_speech_commands(test_set, ("yes", "no"), resplit_salt="s1")


def test_test_set_training_uses_class_priors_and_the_official_layout_does_not(resplit, tmp_path):
    from fixtures import make_training_set

    assert isinstance(training_sampler(resplit), ClassPriorSampler)
    official = index_speech_commands(make_training_set(tmp_path, {"yes": 20, "no": 20, "up": 10}))
    assert isinstance(training_sampler(official), UniformSampler)


@pytest.mark.parametrize("silence,unknown", [(25, 25), (10, 60), (0, 100)])
def test_class_shares_are_the_priors_whatever_the_pools(resplit, silence, unknown):
    pool = resplit.splits["training"]
    natural = Counter(e.label for e in pool)
    assert natural[UNKNOWN_INDEX] > natural[2]  # up + _unknown_ outnumber yes: unbalanced on purpose
    sampler = ClassPriorSampler(pool, silence, unknown, has_noise=True)
    rng = np.random.default_rng(0)
    n = 20000
    labels = np.array([sampler.draw(rng).label for _ in range(n)])
    total = 100 + silence + unknown
    for label, share in ((SILENCE_INDEX, silence / total), (UNKNOWN_INDEX, unknown / total),
                         (2, 100 / total * natural[2] / (natural[2] + natural[3]))):
        assert abs(np.mean(labels == label) - share) < 5 * math.sqrt(share * (1 - share) / n) + 1e-9


def test_every_unknown_clip_of_the_pool_is_drawn(resplit):
    pool = resplit.splits["training"]
    sampler = ClassPriorSampler(pool, 25, 25, has_noise=True)
    rng = np.random.default_rng(1)
    drawn = {sampler.draw(rng).path for _ in range(20000)}
    assert {e.path for e in pool if e.label == UNKNOWN_INDEX} <= drawn
    assert not {e.path for e in pool if e.label == SILENCE_INDEX} & drawn  # recorded silence is noise


def test_recorded_training_silence_is_the_noise_source(resplit):
    silence = [e.path for e in resplit.splits["training"] if e.label == SILENCE_INDEX]
    assert sorted(resplit.background_files) == sorted(silence) and silence
    assert all(b.shape == (16000,) for b in resplit.background)
    held_out = {e.path for s in ("validation", "testing") for e in resplit.splits[s]}
    assert not held_out & set(resplit.background_files)


def test_a_silence_example_is_recorded_noise_at_a_random_volume(resplit):
    pipe = FeaturePipeline(resplit)
    audio, labels = pipe.training_audio(400, np.random.default_rng(2))
    silent = audio[labels == SILENCE_INDEX]
    assert len(silent) > 30 and np.all(np.abs(silent).max(1) > 0)
    loudest = max(np.abs(b).max() for b in resplit.background) * 32768
    assert np.abs(silent).max() <= loudest + 1


def test_no_keyword_clip_or_no_noise_is_refused(resplit):
    pool = resplit.splits["training"]
    with pytest.raises(TinyKWSError, match="no keyword clip"):
        ClassPriorSampler(tuple(e for e in pool if e.label < 2), 25, 25, has_noise=True)
    with pytest.raises(TinyKWSError, match="_silence_"):
        ClassPriorSampler(pool, 25, 25, has_noise=False)
    ClassPriorSampler(pool, 0, 25, has_noise=False)  # no silence asked: no noise needed
