"""Ctrl-C or SIGTERM mid-run: one line, exit 130 / 143, no traceback, and the same command resumes.

Each test starts the command in a child process, sends a real signal once a
resume point is on disk, then reruns the command in this process and checks
that it finishes from what the interrupted run left.
"""

import json
import signal

import numpy as np
import pytest

from fixtures import make_training_set, start_tinykws, stop_when, train_tiny_run
from tinykws.cli import main
from tinykws.lock import LOCK_NAME
from tinykws.train.checkpoint import load_checkpoint

WORDS = {"yes": 30, "no": 30, "up": 12, "down": 12}


def interrupt(argv: list, sig: int, ready, folder, tmp_path, prelude: str = "",
              hint: str = "rerun the same command to continue") -> None:
    """Run ``tinykws ARGV`` in a child, send ``sig`` once ``ready()``, and check it stopped cleanly:
    exit 128 + sig, the one-line message last, no traceback, no temporary file or lock left."""
    stderr = tmp_path / "stderr"
    code = stop_when(start_tinykws(argv, stderr, prelude), ready, sig)
    text = stderr.read_text()
    assert code == 128 + sig, text
    assert "Traceback" not in text
    line = f"tinykws: interrupted by {signal.Signals(sig).name}; {hint}\n"
    assert text.endswith("\n" + line) or text == line
    leftovers = [p.name for p in folder.rglob("*") if p.name.endswith(".tmp") or p.name == LOCK_NAME]
    assert leftovers == []


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_training_set(tmp_path_factory.mktemp("sc"), WORDS)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A short run (for the studies) and its data."""
    root = tmp_path_factory.mktemp("run")
    return train_tiny_run(root, steps=60)


TRAIN = ["--steps", "200", "--eval-every", "20", "--batch-size", "32"]


@pytest.fixture(scope="module")
def uninterrupted(data, tmp_path_factory):
    run = tmp_path_factory.mktemp("full") / "run"
    assert main(["train", "--data", str(data), "--out", str(run), *TRAIN]) == 0
    return run


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_train_stops_cleanly_and_resumes_to_the_uninterrupted_result(sig, data, uninterrupted, tmp_path):
    run = tmp_path / "run"
    argv = ["train", "--data", data, "--out", run, *TRAIN]
    interrupt(argv, sig, lambda: (run / "last.npz").exists(), run, tmp_path,
              hint="rerun with --resume to continue")
    _, meta, _ = load_checkpoint(run / "last.npz")
    assert 20 <= meta["step"] < 200
    assert main([*map(str, argv), "--resume"]) == 0
    full, _, _ = load_checkpoint(uninterrupted / "last.npz")
    resumed, _, _ = load_checkpoint(run / "last.npz")
    for k, v in full.parameters().items():
        np.testing.assert_array_equal(resumed.parameters()[k], v)


def test_quantize_stops_cleanly_and_the_rerun_keeps_what_was_done(trained, tmp_path):
    _, run = trained
    out = tmp_path / "q"
    argv = ["quantize", run, "--out", out, "--bits", "3,8", "--finetune-steps", "20",
            "--formats", "E2M1,E4M3", "--calibration", "100", "--no-progress", "--jobs", "1"]
    interrupt(argv, signal.SIGTERM, lambda: (out / "quant.json").exists(), out, tmp_path)
    saved = json.loads((out / "quant.json").read_text())
    assert "complete" not in saved
    assert main([str(a) for a in argv]) == 0
    after = json.loads((out / "quant.json").read_text())
    assert after["complete"] and set(after["ptq"]) == set(after["qat"]) == {"3", "8"}
    for mode in ("ptq", "qat", "minifloat"):
        for key, entry in (saved.get(mode) or {}).items():
            assert after[mode][key] == entry  # kept, not recomputed


def test_prune_stops_cleanly_and_the_rerun_keeps_what_was_done(trained, tmp_path):
    _, run = trained
    out = tmp_path / "p"
    argv = ["prune", run, "--out", out, "--method", "unstructured", "--amounts", "0.5,0.9",
            "--finetune-steps", "20", "--calibration", "100", "--repeats", "1", "--no-progress",
            "--jobs", "1"]  # in this process: a worker pool would finish the four jobs first
    interrupt(argv, signal.SIGINT, lambda: (out / "prune.json").exists(), out, tmp_path)
    saved = json.loads((out / "prune.json").read_text())
    assert "complete" not in saved
    assert main([str(a) for a in argv]) == 0
    after = json.loads((out / "prune.json").read_text())
    assert after["complete"] and list(after["unstructured"]) == [
        "0.5/pruned", "0.5/finetuned", "0.9/pruned", "0.9/finetuned"]
    for key, entry in (saved.get("unstructured") or {}).items():
        # kept as saved (the CPU times of all models are measured together at the end)
        assert after["unstructured"][key]["int8_testing_accuracy"] == entry["int8_testing_accuracy"]


def test_synth_data_stops_cleanly_and_the_rerun_keeps_the_rendered_clips(tmp_path):
    from tinykws.data.synth_voice import synthesizer_available

    if not synthesizer_available():
        pytest.skip("no eSpeak NG (pip install espeakng-loader)")
    out = tmp_path / "synth"
    # 40 voices, each saying yes and no once and one other word: 120 clips
    argv = ["synth-data", out, "--speakers", "40", "--repeats", "1", "--others", "1"]
    interrupt(argv, signal.SIGTERM, lambda: len(list(out.glob("*/*.wav"))) >= 5, out, tmp_path)
    before = {p: p.read_bytes() for p in out.glob("*/*.wav")}
    assert 5 <= len(before) < 40 * 3
    assert main([str(a) for a in argv]) == 0
    clips = [p for p in out.glob("*/*.wav") if p.parent.name != "_background_noise_"]
    assert len(clips) == 40 * 3
    # eSpeak NG varies a waveform by a few samples from run to run: equal bytes mean kept
    assert all(p.read_bytes() == b for p, b in before.items())


# The quick report, shortened further (as tests/test_report.py does), in the child and here.
SHORT_REPORT = {"steps": 100, "study_steps": 4, "timing_repeats": 1}
SHORT_REPORT_PRELUDE = "from tinykws.report.build import ReportSettings\n" + "".join(
    f"ReportSettings.{name} = property(lambda s: {value})\n" for name, value in SHORT_REPORT.items())


def test_report_stops_cleanly_and_the_rerun_reuses_the_finished_stages(trained, tmp_path, monkeypatch):
    from tinykws.report.build import ReportSettings

    data, _ = trained
    out = tmp_path / "report"
    argv = ["report", "--data", data, "--out", out, "--quick"]
    interrupt(argv, signal.SIGTERM, lambda: any((out / "stages").glob("cpu-*")), out, tmp_path,
              prelude=SHORT_REPORT_PRELUDE)
    assert not (out / "index.md").exists()
    for name, value in SHORT_REPORT.items():
        monkeypatch.setattr(ReportSettings, name, property(lambda s, v=value: v))
    assert main([str(a) for a in argv]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    cached = {s["name"]: s["cached"] for s in manifest["stages"]}
    assert cached["train"] and cached["convert"]
    assert not cached["quant"] and not cached["prune"]


def test_an_interrupt_turned_into_another_error_on_the_way_still_ends_as_one(monkeypatch, capsys):
    import os
    import time

    import tinykws.cli.size

    def run(args):  # as an extension module that wraps the KeyboardInterrupt would
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(30)
        except KeyboardInterrupt:
            raise RuntimeError("interrupted inside an extension module") from None

    monkeypatch.setattr(tinykws.cli.size, "run", run)
    assert main(["size"]) == 143
    assert capsys.readouterr().err == "tinykws: interrupted by SIGTERM\n"
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers restored after the command


def test_an_error_without_a_signal_keeps_its_traceback(monkeypatch):
    import tinykws.cli.size

    def run(args):
        raise RuntimeError("a bug")

    monkeypatch.setattr(tinykws.cli.size, "run", run)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["size"])


def test_cv_stops_cleanly_and_the_rerun_ends_as_an_uninterrupted_one(tmp_path):
    from fixtures import make_test_set

    data = make_test_set(tmp_path / "ts", n_speakers=60, n_silence=30)
    args = ["--data", data, "--folds", "3", "--steps", "60", "--eval-every", "20",
            "--batch-size", "16", "--no-progress"]
    full = tmp_path / "full"
    assert main(["cv", *map(str, args), "--out", str(full)]) == 0
    out = tmp_path / "cv"
    argv = ["cv", *args, "--out", out]
    interrupt(argv, signal.SIGTERM, lambda: (out / "fold-0" / "last.npz").exists(), out, tmp_path)
    saved = out / "cv.json"  # written after each finished fold, if one finished
    assert not saved.exists() or "complete" not in json.loads(saved.read_text())
    assert main([str(a) for a in argv]) == 0
    done, reference = (json.loads((d / "cv.json").read_text()) for d in (out, full))
    assert done["complete"] and done["pooled"] == reference["pooled"]
