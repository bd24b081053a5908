"""Training learns, writes its files atomically, and resumes bit-identically."""

import json

import numpy as np
import pytest

from tinykws.train.checkpoint import load_checkpoint
from tinykws.train.loop import TrainConfig, train


class PatternPipeline:
    """A stand-in for FeaturePipeline: each class lights up its own band of channels."""

    labels = ("_silence_", "_unknown_", "yes", "no")
    class_shares = (25.0, 25.0)

    def _make(self, labels, rng):
        x = rng.normal(0, 0.3, (len(labels), 49, 40, 1)).astype(np.float32)
        for i, y in enumerate(labels):
            x[i, :, 10 * y:10 * y + 10, 0] += 2.0
        return x

    def training_batch(self, batch_size, rng):
        y = rng.integers(0, 4, batch_size)
        return self._make(y, rng), y

    def split_arrays(self, split):
        rng = np.random.default_rng({"training": 0, "validation": 1, "testing": 2}[split])
        y = np.arange(80) % 4
        return self._make(y, rng), y

    def split_size(self, split):
        return 80


CONFIG = TrainConfig(steps=40, eval_every=10, batch_size=16, seed=3)


def test_training_learns_a_separable_task_and_writes_its_files(tmp_path):
    metrics = train(PatternPipeline(), tmp_path, CONFIG, progress=False)
    assert metrics["accuracy"]["testing"] > 0.9
    for name in ("model.npz", "last.npz", "metrics.json", "curves.png", "confusion.png"):
        assert (tmp_path / name).is_file()
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert [h["step"] for h in saved["history"]] == [10, 20, 30, 40]
    assert np.array(saved["test_confusion"]).sum() == 80


def test_same_seed_same_weights(tmp_path):
    train(PatternPipeline(), tmp_path / "a", CONFIG, progress=False)
    train(PatternPipeline(), tmp_path / "b", CONFIG, progress=False)
    a, _, _ = load_checkpoint(tmp_path / "a" / "last.npz")
    b, _, _ = load_checkpoint(tmp_path / "b" / "last.npz")
    for k, v in a.parameters().items():
        np.testing.assert_array_equal(v, b.parameters()[k])


class Interrupt(Exception):
    pass


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_a_run_stopped_mid_way_resumes_to_the_same_weights(tmp_path, optimizer):
    config = TrainConfig(steps=40, eval_every=10, batch_size=16, seed=3, optimizer=optimizer,
                         learning_rates=(1e-2,))
    train(PatternPipeline(), tmp_path / "full", config, progress=False)

    class Dies(PatternPipeline):
        calls = 0

        def training_batch(self, batch_size, rng):
            Dies.calls += 1
            if Dies.calls == 26:  # dies in the third interval, after last.npz of step 20
                raise Interrupt
            return super().training_batch(batch_size, rng)

    with pytest.raises(Interrupt):
        train(Dies(), tmp_path / "resumed", config, progress=False)
    _, meta, _ = load_checkpoint(tmp_path / "resumed" / "last.npz")
    assert meta["step"] == 20  # lost at most one evaluation interval
    train(PatternPipeline(), tmp_path / "resumed", config, resume=True, progress=False)
    full, _, _ = load_checkpoint(tmp_path / "full" / "last.npz")
    resumed, meta, _ = load_checkpoint(tmp_path / "resumed" / "last.npz")
    assert meta["step"] == 40 and len(meta["history"]) == 4
    for k, v in full.parameters().items():
        np.testing.assert_array_equal(resumed.parameters()[k], v)


def test_an_existing_run_is_not_overwritten_without_resume(tmp_path):
    from tinykws.errors import TinyKWSError

    train(PatternPipeline(), tmp_path, CONFIG, progress=False)
    before = (tmp_path / "last.npz").read_bytes()
    with pytest.raises(TinyKWSError, match="--resume"):
        train(PatternPipeline(), tmp_path, CONFIG, progress=False)
    assert (tmp_path / "last.npz").read_bytes() == before


def test_resume_refuses_other_settings_but_may_run_longer(tmp_path):
    from dataclasses import replace

    from tinykws.errors import TinyKWSError

    train(PatternPipeline(), tmp_path, CONFIG, progress=False)
    with pytest.raises(TinyKWSError, match="batch_size"):
        train(PatternPipeline(), tmp_path, replace(CONFIG, batch_size=8), resume=True, progress=False)
    metrics = train(PatternPipeline(), tmp_path, replace(CONFIG, steps=50), resume=True, progress=False)
    assert metrics["history"][-1]["step"] == 50
