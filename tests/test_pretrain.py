"""Pre-training on every word, then the keyword head: same splits, copied rows, resumable."""

import numpy as np
import pytest

from fixtures import make_test_set
from tinykws.data.pipeline import FeaturePipeline
from tinykws.data.speech_commands import index_speech_commands
from tinykws.errors import TinyKWSError
from tinykws.nn.model import tiny_conv
from tinykws.train.checkpoint import load_checkpoint
from tinykws.train.loop import TrainConfig, train
from tinykws.train.pretrain import keyword_head, pretrain_words, relabel

UNKNOWN = ("bed", "cat")


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    root = make_test_set(tmp_path_factory.mktemp("ts"), words=("yes", "no", "up", "down"),
                         n_speakers=40, n_silence=20, unknown_words=UNKNOWN)
    return index_speech_commands(root, ("yes", "no"), resplit_salt="s1")


def test_all_means_every_word_folder_with_the_keywords_first(index):
    assert pretrain_words(index, ("all",)) == ("yes", "no", "down", "up")
    with pytest.raises(TinyKWSError, match="no missing"):
        pretrain_words(index, ("yes", "up"))


def test_relabelling_keeps_every_clip_in_its_split(index):
    many = relabel(index, ("yes", "no", "down", "up"))
    assert many.labels == ("_silence_", "_unknown_", "yes", "no", "down", "up")
    for split, examples in index.splits.items():
        assert [e.path for e in many.splits[split]] == [e.path for e in examples]
        for old, new in zip(examples, many.splits[split]):
            assert many.labels[new.label] == (old.word if old.word in many.labels else "_unknown_")


def test_keyword_head_keeps_the_deployed_labels_rows():
    model = tiny_conv(6, np.random.default_rng(0))
    labels = ("_silence_", "_unknown_", "yes", "no", "down", "up")
    cut = keyword_head(model, labels, ("_silence_", "_unknown_", "yes", "no"))
    w, b = model.layers[-1].params["weight"], model.layers[-1].params["bias"]
    np.testing.assert_array_equal(cut.layers[-1].params["weight"], w[:4])
    np.testing.assert_array_equal(cut.layers[0].params["weight"], model.layers[0].params["weight"])
    assert cut.forward(np.zeros((2, 49, 40, 1), np.float32)).shape == (2, 4)
    with pytest.raises(ValueError):
        keyword_head(model, labels, ("_silence_", "left"))
    assert b.shape == (6,)


def _features(samples):
    """Cheap stand-in features: (N, 16000) int16 -> (N, 49, 40) uint16."""
    x = np.abs(samples[:, :49 * 320].reshape(len(samples), 49, 40, 8).astype(np.int64)).mean(-1)
    return np.minimum(x, 65535).astype(np.uint16)


CONFIG = TrainConfig(steps=40, eval_every=10, batch_size=16, seed=1, pretrain_steps=15)


def test_pretraining_ends_in_the_deployed_head_and_resumes_bit_identically(index, tmp_path):
    metrics = train(FeaturePipeline(index, _features), tmp_path / "full", CONFIG, progress=False)
    assert [h["phase"] for h in metrics["history"]] == ["pretrain", "train", "train", "train"]
    model, meta, _ = load_checkpoint(tmp_path / "full" / "model.npz")
    assert meta["labels"] == ["_silence_", "_unknown_", "yes", "no"] and meta["step"] >= 20
    assert model.forward(np.zeros((1, 49, 40, 1), np.float32)).shape == (1, 4)

    class Interrupt(Exception):
        pass

    class Dies(FeaturePipeline):
        calls = 0

        def training_batch(self, batch_size, rng):
            Dies.calls += 1
            if Dies.calls == 3:  # step 18: after the head was cut at step 15, before step 20
                raise Interrupt
            return super().training_batch(batch_size, rng)

    with pytest.raises(Interrupt):
        train(Dies(index, _features), tmp_path / "resumed", CONFIG, progress=False)
    _, meta, _ = load_checkpoint(tmp_path / "resumed" / "last.npz")
    assert meta["step"] == 15 and len(meta["labels"]) == 4  # saved as the head was cut
    train(FeaturePipeline(index, _features), tmp_path / "resumed", CONFIG, resume=True, progress=False)
    full, _, _ = load_checkpoint(tmp_path / "full" / "last.npz")
    resumed, _, _ = load_checkpoint(tmp_path / "resumed" / "last.npz")
    for k, v in full.parameters().items():
        np.testing.assert_array_equal(resumed.parameters()[k], v)


def test_pretraining_longer_than_the_run_is_refused(index, tmp_path):
    from dataclasses import replace

    with pytest.raises(TinyKWSError, match="fewer than the training steps"):
        train(FeaturePipeline(index, _features), tmp_path, replace(CONFIG, pretrain_steps=40),
              progress=False)
