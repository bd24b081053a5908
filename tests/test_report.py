"""`tinykws report` writes the report, computes every number, and reuses finished stages."""

import json

import pytest
from fixtures import make_test_set, make_training_set

from tinykws.data.synth import PLAN_FILE
from tinykws.report.build import ReportSettings, build_report, data_fingerprint
from tinykws.train.metrics import proportion


def _stage_result(root, name: str) -> dict:
    (done,) = (root / "stages").glob(f"{name}-*/done.json")
    return json.loads(done.read_text())["result"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A quick report, built once: (its root, its settings, the text of index.md)."""
    tmp_path = tmp_path_factory.mktemp("report")
    data = make_training_set(tmp_path / "data", {"yes": 50, "no": 50, "up": 15})
    real = make_test_set(tmp_path / "real", words=("yes", "no"), n_speakers=80, n_silence=4)
    settings = ReportSettings(tmp_path / "report", data=str(data), real=str(real), quick=True,
                              train_steps=20, finetune_steps=4)
    index = build_report(settings, progress=False)
    return tmp_path, settings, index.read_text()


def test_report_says_the_int8_model_is_bit_exact_in_tflite_micro(built):
    pytest.importorskip("tflite_micro", reason="tflite-micro not installed")
    tmp_path, _, text = built
    tflm = _stage_result(tmp_path / "report", "convert")["tflm"]
    assert tflm["bit_exact"] and tflm["mismatches"] == 0 and tflm["examples"] > 0
    assert f"bit for bit the same outputs on all {tflm['examples']} test clips" in text


def test_report_builds_then_reuses_every_stage(built):
    tmp_path, settings, text = built
    index = tmp_path / "report" / "index.md"
    manifest = json.loads((tmp_path / "report" / "manifest.json").read_text())
    train_dir = next((tmp_path / "report" / "stages").glob("train-*"))
    metrics = json.loads((train_dir / "metrics.json").read_text())
    # the numbers in the text are the stage's numbers
    test_report = metrics["reports"]["testing"]
    assert (f"| testing | {proportion(test_report['balanced_accuracy']).percent()} | "
            f"{proportion(test_report['accuracy']).percent()} |") in text
    for label, entry in test_report["per_class"].items():
        assert f"| {label} | {proportion(entry['recall']).percent()} |" in text
    assert "676,004" in text and "16,652" in text
    for section in ("Int8 model", "CPU time per 1 s clip", "Estimated on the microcontroller",
                    "Quantization: 2 to 8 bits", "Pruning", "In-field test", "Streaming evaluation",
                    "Model zoo", "Real speech"):
        assert f"## {section}" in text
    quant = _stage_result(tmp_path / "report", "quant")
    assert set(quant["ptq"]) == set(quant["qat"]) == {str(b) for b in range(2, 9)}
    q8 = f"| 8 | {100 * quant['ptq']['8']['testing_balanced_accuracy']:.1f} %"
    assert q8 in text
    assert set(quant["paired"]) == {str(b) for b in range(2, 9)}
    prune = _stage_result(tmp_path / "report", "prune")
    assert len(prune["unstructured"]) == 12 and len(prune["structured"]) == 14
    assert f"| unpruned | {prune['baseline']['nonzero_params']:,} |" in text
    infield = _stage_result(tmp_path / "report", "infield")
    assert f"| {proportion(infield['recall_interval']).percent()} |" in text
    stream = _stage_result(tmp_path / "report", "stream")
    calibrated = stream["main"]["calibration"]
    assert f"| calibrated on validation speakers for 1 per hour | " \
        f"{proportion(calibrated['test']['miss_rate']).percent()} |" in text
    assert calibrated["c"] in text and stream["real"]["settings"] == calibrated["settings"]
    zoo = _stage_result(tmp_path / "report", "zoo")
    assert zoo["real"] and list(zoo["table"]["models"]) == ["single_fc", "tiny_conv",
                                                           "tiny_embedding_conv"]
    for name, row in zoo["table"]["models"].items():
        assert f"| {name} | {proportion(row['float']['balanced_accuracy']).percent()}" in text
    mcu = _stage_result(tmp_path / "report", "mcu")
    assert f"| network | {mcu['reference']['network_ms']:.1f} ms | {mcu['cmsis-nn']['network_ms']:.1f} ms |" in text
    for line in text.splitlines():
        if line.startswith("!["):
            assert (tmp_path / "report" / line.split("](")[1].rstrip(")")).is_file()
    assert (tmp_path / "report" / "index.html").read_text().count("<img") == text.count("![")
    assert not any(s["cached"] for s in manifest["stages"])

    build_report(settings, progress=False)
    again = json.loads((tmp_path / "report" / "manifest.json").read_text())
    assert all(s["cached"] for s in again["stages"])
    assert index.read_text() == text

    # a damaged cache: the int8 model cut short is noticed and that stage recomputed
    model = next((tmp_path / "report" / "stages").glob("convert-*")) / "model.tflite"
    whole = model.read_bytes()
    model.write_bytes(whole[:1000])
    build_report(settings, progress=False)
    third = json.loads((tmp_path / "report" / "manifest.json").read_text())
    assert [s["name"] for s in third["stages"] if not s["cached"]] == ["convert"]
    assert model.read_bytes() == whole and index.read_text() == text


def test_the_data_fingerprint_changes_with_a_synthetic_plan_of_same_size_clips(tmp_path):
    # every synthetic clip is 1 s, so names and sizes alone would not see a new recipe
    data = make_training_set(tmp_path / "data", {"yes": 2, "no": 2})
    plain = data_fingerprint(data)
    (data / PLAN_FILE).write_text('{"fingerprint": "aaaaaaaaaaaa"}')
    first = data_fingerprint(data)
    (data / PLAN_FILE).write_text('{"fingerprint": "bbbbbbbbbbbb"}')
    assert len({plain, first, data_fingerprint(data)}) == 3


def test_a_zoo_stage_on_data_too_small_to_fold_says_why_instead_of_stopping_the_report():
    from types import SimpleNamespace

    from tinykws.report.render import _zoo

    stage = SimpleNamespace(data={"skipped": "fold 0: the validation split has no clip of yes",
                                  "real": True})
    text = "\n".join(_zoo(stage, None, quick=True))
    assert "## Model zoo" in text and "Not run" in text and "no clip of yes" in text
