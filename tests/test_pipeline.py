"""FeaturePipeline: augmented training batches, fixed evaluation arrays, one load per clip."""

from __future__ import annotations

import math
import wave
from collections import Counter

import numpy as np
import pytest

from fixtures import make_test_set, make_training_set, tone, write_pcm16
from tinykws.data import augment, pipeline as pipeline_module
from tinykws.data.pipeline import MICRO_FLOAT_SCALE, FeaturePipeline
from tinykws.data.speech_commands import index_speech_commands

FRAMES, CHANNELS, WINDOW, STRIDE = 49, 40, 480, 320  # the micro frontend's shape for 1 s


def framed_log_energy(samples: np.ndarray) -> np.ndarray:
    """Stand-in features: (N, 16000) int16 -> (N, 49, 40) uint16 log energies of 12-sample pieces."""
    x = samples.astype(np.float64)
    starts = np.arange(FRAMES) * STRIDE
    frames = np.stack([x[:, s:s + WINDOW] for s in starts], axis=1)  # (N, 49, 480)
    pieces = frames.reshape(len(x), FRAMES, CHANNELS, WINDOW // CHANNELS)  # (N, 49, 40, 12)
    return np.round(64 * np.log1p((pieces**2).sum(axis=-1))).astype(np.uint16)  # (N, 49, 40)


def _read_int16(path) -> np.ndarray:
    with wave.open(path) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    root = make_training_set(tmp_path_factory.mktemp("pipe"),
                             {"yes": 30, "no": 30, "bed": 20, "cat": 20}, clips_per_speaker=2)
    return index_speech_commands(root, ("yes", "no"))


@pytest.fixture
def pipe(index):
    return FeaturePipeline(index, framed_log_energy)


def test_labels_and_split_sizes_come_from_the_index(pipe, index):
    assert pipe.labels == ("_silence_", "_unknown_", "yes", "no")
    for split in ("training", "validation", "testing"):
        assert pipe.split_size(split) == len(index.splits[split])
    with pytest.raises(ValueError):
        pipe.split_size("train")


def test_training_batch_shapes_and_types(pipe):
    x, y = pipe.training_batch(16, np.random.default_rng(0))
    assert x.shape == (16, FRAMES, CHANNELS, 1) and x.dtype == np.float32
    assert y.shape == (16,) and y.dtype == np.int64 and set(y) <= {0, 1, 2, 3}


def test_model_input_is_the_features_times_10_over_256(pipe):
    audio, _ = pipe.training_audio(4, np.random.default_rng(1))
    x = pipe.model_input(audio)
    np.testing.assert_array_equal(x[..., 0], framed_log_energy(audio).astype(np.float64) * 10 / 256)


def test_float_scale_matches_the_micro_frontend_module_when_present():
    micro = pytest.importorskip("tinykws.features.micro_frontend")
    u16 = np.array([[0, 1, 255, 256, 1000, 65535]], dtype=np.uint16)
    expected = u16.astype(np.float32) * MICRO_FLOAT_SCALE
    np.testing.assert_array_equal(micro.to_float_model_input(u16), expected)


def test_training_batches_are_reproducible_from_the_generator(pipe):
    a = pipe.training_batch(8, np.random.default_rng(42))
    b = pipe.training_batch(8, np.random.default_rng(42))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


NO_SHIFT_OR_NOISE = augment.Augmentation(time_shift_samples=0, background_frequency=0)


def _replayed_draws(index, seed, n, settings=augment.TF_AUGMENTATION):
    """Replay the generator as training_audio uses it: pick, then the augmentation draws."""
    replay = np.random.default_rng(seed)
    candidates = index.splits["training"]
    lengths = [len(b) for b in index.background]
    for _ in range(n):
        example = candidates[int(replay.integers(len(candidates)))]
        yield example, augment.draw_training(replay, example.path is None, lengths, 16000, settings)


def test_training_audio_is_the_tf_recipe_applied_to_the_picked_clip(pipe, index):
    batch, labels = pipe.training_audio(20, np.random.default_rng(9))
    for i, (example, draw) in enumerate(_replayed_draws(index, 9, 20)):
        clip = (np.zeros(16000, np.float32) if example.path is None else
                _read_int16(example.path).astype(np.float32) / 32768)
        shifted = np.zeros(16000)
        lo, hi = max(0, draw.shift), min(16000, 16000 + draw.shift)
        shifted[lo:hi] = clip[lo - draw.shift:hi - draw.shift]
        start = draw.background_offset
        noise = index.background[draw.background_index][start:start + 16000]
        mixed = np.clip(shifted + draw.volume * noise.astype(np.float64), -1, 1)
        expected = np.clip(np.trunc(mixed * 32768), -32768, 32767)
        assert labels[i] == example.label
        assert np.abs(batch[i].astype(np.int64) - expected).max() <= 1  # float32 vs float64 rounding


def test_training_audio_equals_the_numpy_reference_clip_by_clip(index):
    """The batch kernel behind training_audio gives augment.apply's samples exactly."""
    from tinykws.audio import to_int16

    settings = augment.Augmentation(gain_db=(-3.0, 3.0))
    pipe = FeaturePipeline(index, framed_log_energy, augmentation=settings)
    batch, _ = pipe.training_audio(40, np.random.default_rng(11))
    for i, (example, draw) in enumerate(_replayed_draws(index, 11, 40, settings)):
        foreground = pipe.clip(example).astype(np.float32) * np.float32(1.0 / 32768.0)
        np.testing.assert_array_equal(batch[i], to_int16(augment.apply(foreground, draw, index.background)))


def test_training_picks_examples_uniformly_with_replacement(index):
    # Cheap features: only the picks matter here.
    pipe = FeaturePipeline(index, framed_log_energy, augmentation=NO_SHIFT_OR_NOISE)
    n = 3000
    _, labels = pipe.training_audio(n, np.random.default_rng(3))
    share = Counter(e.label for e in index.splits["training"])
    total = len(index.splits["training"])
    for label, count in share.items():
        p = count / total
        assert abs(np.sum(labels == label) - n * p) < 5 * math.sqrt(n * p * (1 - p))


def test_without_shift_or_noise_a_word_clip_is_its_file(index):
    pipe = FeaturePipeline(index, framed_log_energy, augmentation=NO_SHIFT_OR_NOISE)
    audio, labels = pipe.training_audio(30, np.random.default_rng(4))
    rng = np.random.default_rng(4)
    for i in range(30):
        example = index.splits["training"][int(rng.integers(pipe.split_size("training")))]
        augment.draw_training(rng, example.path is None, [len(b) for b in index.background], 16000,
                              NO_SHIFT_OR_NOISE)
        if example.path is not None:
            np.testing.assert_array_equal(audio[i], _read_int16(example.path))


def test_split_arrays_are_deterministic_and_computed_once(index):
    pipe = FeaturePipeline(index, framed_log_energy)
    x, y = pipe.split_arrays("validation")
    assert x.shape == (len(index.splits["validation"]), FRAMES, CHANNELS, 1)
    assert pipe.split_arrays("validation")[0] is x
    other = FeaturePipeline(index, framed_log_energy).split_arrays("validation")
    np.testing.assert_array_equal(other[0], x)
    np.testing.assert_array_equal(y, [e.label for e in index.splits["validation"]])


def test_evaluation_words_are_clean_and_silence_is_seeded_noise(pipe, index):
    audio, labels = pipe.split_audio("testing")
    lengths = [len(b) for b in index.background]
    for i, example in enumerate(index.splits["testing"]):
        if example.path is not None:
            np.testing.assert_array_equal(audio[i], _read_int16(example.path))
        else:
            rng = np.random.default_rng([augment.EVALUATION_SEED, 2, i])
            k = int(rng.integers(len(lengths)))
            start = int(rng.integers(0, lengths[k] - 16000))
            volume = rng.uniform(0, 1)
            noise = index.background[k][start:start + 16000]
            expected = np.trunc(np.clip(volume * noise, -1, 1) * 32768)
            assert np.abs(audio[i] - expected).max() <= 1


def test_each_file_is_loaded_once(index, monkeypatch):
    calls = Counter()
    real = pipeline_module.load_wav

    def counting(path, *args, **kwargs):
        calls[path] += 1
        return real(path, *args, **kwargs)

    monkeypatch.setattr(pipeline_module, "load_wav", counting)
    pipe = FeaturePipeline(index, framed_log_energy)
    pipe.training_audio(300, np.random.default_rng(0))
    pipe.split_audio("training")
    assert calls and max(calls.values()) == 1


def test_clips_are_cropped_or_padded_to_one_second(tmp_path):
    root = make_training_set(tmp_path, {"yes": 1, "no": 1}, clip_seconds=1.5)
    write_pcm16(root / "no" / "short_nohash_0.wav", tone(554.4, 0.5))
    index = index_speech_commands(root, silence_percentage=0, validation_percentage=0,
                                  testing_percentage=100)
    pipe = FeaturePipeline(index, framed_log_energy)
    audio, _ = pipe.split_audio("testing")
    for row, example in zip(audio, index.splits["testing"]):
        data = _read_int16(example.path)
        n = min(len(data), 16000)
        np.testing.assert_array_equal(row[:n], data[:n])
        assert not row[n:].any()


def test_test_set_silence_clips_are_loaded_from_their_files(tmp_path):
    index = index_speech_commands(make_test_set(tmp_path), ("yes", "no"))
    pipe = FeaturePipeline(index, framed_log_energy)
    audio, labels = pipe.split_audio("testing")
    silence = [i for i, e in enumerate(index.splits["testing"]) if e.label == 0]
    assert len(silence) == 12
    for i in silence:
        np.testing.assert_array_equal(audio[i], _read_int16(index.splits["testing"][i].path))


def test_empty_split_keeps_the_feature_shape(tmp_path):
    index = index_speech_commands(make_test_set(tmp_path), ("yes",))
    x, y = FeaturePipeline(index, framed_log_energy).split_arrays("training")
    assert x.shape == (0, FRAMES, CHANNELS, 1) and y.shape == (0,)


def test_default_features_are_the_micro_frontend(index):
    pytest.importorskip("kernels.micro_frontend")
    pytest.importorskip("tinykws.features.micro_frontend")
    x, y = FeaturePipeline(index).training_batch(2, np.random.default_rng(0))
    assert x.shape == (2, 49, 40, 1) and x.dtype == np.float32
