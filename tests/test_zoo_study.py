"""`tinykws zoo`: every model cross-validated and measured in one table."""

import json

import numpy as np

from fixtures import make_training_set
from tinykws.cli import main
from tinykws.nn.zoo import build_model
from tinykws.plots.zoo import pareto_front


def test_pareto_front_keeps_the_models_nothing_beats_on_both():
    points = {"a": (1.0, 80.0), "b": (2.0, 85.0), "c": (3.0, 84.0), "d": (0.5, 70.0), "e": (2.0, 80.0)}
    assert sorted(pareto_front(points)) == ["a", "b", "d"]


def test_zoo_trains_measures_and_resumes(tmp_path, capsys):
    data = make_training_set(tmp_path / "d", {"yes": 120, "no": 120, "up": 40}, clips_per_speaker=1)
    out = tmp_path / "zoo"
    argv = ["zoo", "--data", str(data), "--out", str(out), "--models", "single_fc,tiny_embedding_conv",
            "--folds", "2", "--steps", "40", "--eval-every", "20", "--batch-size", "32",
            "--no-progress"]
    assert main(argv) == 0
    table = json.loads((out / "zoo.json").read_text())
    assert list(table["models"]) == ["single_fc", "tiny_embedding_conv"]
    for name, row in table["models"].items():
        expected = sum(v.size for v in build_model(name, 4, np.random.default_rng(0)).parameters().values())
        assert row["params"] == expected
        cv = json.loads((out / name / "cv.json").read_text())
        assert row["int8"]["balanced_accuracy"] == cv["pooled"]["int8"]["balanced_accuracy"]
        assert row["tflite_bytes"] > row["params"]  # int8 weights plus the flatbuffer around them
        assert row["mcu_ms"]["reference"] > row["mcu_ms"]["cmsis-nn"] > 0
        assert row["cpu_us"] > 0
        if row["tflm"] is not None:  # every scored clip of every fold, as cv.json counts them
            assert row["tflm"] == {"examples": cv["pooled"]["int8"]["examples"], "mismatches": 0,
                                   "bit_exact": True}
            assert f"bit-exact on {row['tflm']['examples']:,} clips" in (out / "zoo.md").read_text()
    text = capsys.readouterr().out
    assert "| single_fc |" in text and "| tiny_embedding_conv |" in text
    assert (out / "zoo_pareto.png").stat().st_size > 10_000
    assert (out / "zoo.md").read_text() == text
    # rerun: the cross-validations are complete, so only the measurements run again
    before = (out / "single_fc" / "fold-0" / "model.npz").stat().st_mtime_ns
    assert main(argv) == 0
    assert (out / "single_fc" / "fold-0" / "model.npz").stat().st_mtime_ns == before
    again = json.loads((out / "zoo.json").read_text())
    for name in table["models"]:
        assert again["models"][name]["int8"] == table["models"][name]["int8"]
