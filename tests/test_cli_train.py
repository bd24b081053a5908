"""`tinykws train`, `eval` and `size` as a user runs them, on a small generated data set."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from fixtures import make_test_set, make_training_set
from tinykws.cli import main
from tinykws.train.checkpoint import load_checkpoint

WORDS = {"yes": 30, "no": 30, "up": 12, "down": 12}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_training_set(tmp_path_factory.mktemp("sc"), WORDS)


def test_train_then_eval_reproduces_the_reported_accuracy(data, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--data", str(data), "--out", str(run), "--steps", "60",
                 "--eval-every", "20", "--batch-size", "32"]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["labels"] == ["_silence_", "_unknown_", "yes", "no"]
    capsys.readouterr()
    assert main(["eval", str(run), "--data", str(data), "--split", "testing", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["accuracy"]["value"] == metrics["accuracy"]["testing"]
    assert result["balanced_accuracy"]["value"] == metrics["balanced_accuracy"]["testing"]
    assert result["examples"] == metrics["examples"]["testing"]


def test_eval_on_a_canonical_test_set_layout(data, tmp_path, capsys):
    run = tmp_path / "run"
    main(["train", "--data", str(data), "--out", str(run), "--steps", "20", "--eval-every", "20"])
    test_set = make_test_set(tmp_path / "testset", words=("yes", "no", "up"), n_speakers=6, n_silence=4)
    capsys.readouterr()
    assert main(["eval", str(run), "--data", str(test_set), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    # 6 speakers x (yes, no, up->unknown, one _unknown_ clip) + 4 silence
    assert result["layout"] == "test-set" and result["examples"] == 6 * 4 + 4


def test_size_of_a_run_and_of_the_default_model(data, tmp_path, capsys):
    run = tmp_path / "run"
    main(["train", "--data", str(data), "--out", str(run), "--steps", "10", "--eval-every", "10"])
    capsys.readouterr()
    assert main(["size", str(run), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["params"] == 16_652
    assert main(["size"]) == 0
    assert "676,004" in capsys.readouterr().out


@pytest.mark.parametrize("args,message", [
    (["--steps", "0"], "--steps"),
    (["--lr", "abc"], "--lr"),
    (["--words", "yes,nope"], "nope"),
])
def test_bad_training_arguments_are_one_line_errors(data, tmp_path, capsys, args, message):
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "r"), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tinykws: error:") and message in err and err.count("\n") == 1


def test_sigkill_mid_run_then_resume_matches_an_uninterrupted_run(data, tmp_path):
    common = ["--data", str(data), "--steps", "120", "--eval-every", "20", "--batch-size", "32"]
    assert main(["train", "--out", str(tmp_path / "full"), *common]) == 0
    run = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-m", "tinykws", "train", "--out", str(run), *common],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.time() + 120
    while not (run / "last.npz").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL  # killed mid-run, not finished
    assert (run / "last.npz").exists()
    _, meta, _ = load_checkpoint(run / "last.npz")
    assert meta["step"] >= 20  # at most one evaluation interval lost
    assert main(["train", "--out", str(run), "--resume", *common]) == 0
    full, _, _ = load_checkpoint(tmp_path / "full" / "last.npz")
    resumed, _, _ = load_checkpoint(run / "last.npz")
    for k, v in full.parameters().items():
        np.testing.assert_array_equal(resumed.parameters()[k], v)
    assert json.loads((run / "metrics.json").read_text())["accuracy"] == \
        json.loads((tmp_path / "full" / "metrics.json").read_text())["accuracy"]


def test_default_run_is_the_recipe_and_tfs_schedule_scales(data, tmp_path):
    from dataclasses import asdict

    from tinykws.resume import jsonable
    from tinykws.train.recipe import DEFAULT_RECIPE

    run = tmp_path / "run"
    assert main(["train", "--data", str(data), "--out", str(run), "--steps", "50", "--eval-every", "25"]) == 0
    config = json.loads((run / "metrics.json").read_text())["config"]
    assert config == jsonable({**asdict(DEFAULT_RECIPE), "steps": 50, "eval_every": 25})
    tf_run = tmp_path / "tf"
    assert main(["train", "--data", str(data), "--out", str(tf_run), "--steps", "50",
                 "--eval-every", "25", "--schedule", "tf"]) == 0
    config = json.loads((tf_run / "metrics.json").read_text())["config"]
    assert config["optimizer"] == "sgd" and config["boundaries"] == [40, 50]
    assert config["learning_rates"] == [1e-3, 1e-4]