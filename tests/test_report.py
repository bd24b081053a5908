"""`tinykws report` writes the report, computes every number, and reuses finished stages."""

import json

from fixtures import make_test_set, make_training_set
from tinykws.report.build import ReportSettings, build_report


def test_report_builds_then_reuses_every_stage(tmp_path):
    data = make_training_set(tmp_path / "data", {"yes": 50, "no": 50, "up": 15})
    real = make_test_set(tmp_path / "real", words=("yes", "no"), n_speakers=4, n_silence=2)
    settings = ReportSettings(tmp_path / "report", data=str(data), real=str(real), train_steps=20)
    index = build_report(settings, progress=False)
    text = index.read_text()
    manifest = json.loads((tmp_path / "report" / "manifest.json").read_text())
    train_dir = next((tmp_path / "report" / "stages").glob("train-*"))
    metrics = json.loads((train_dir / "metrics.json").read_text())
    # the numbers in the text are the stage's numbers
    assert f"| testing | {100 * metrics['accuracy']['testing']:.1f} % |" in text
    assert "676,004" in text and "16,652" in text
    assert "## Real speech" in text and "## In-field test" in text and "## Int8 model" in text
    for line in text.splitlines():
        if line.startswith("!["):
            assert (tmp_path / "report" / line.split("](")[1].rstrip(")")).is_file()
    assert (tmp_path / "report" / "index.html").read_text().count("<img") == text.count("![")
    assert not any(s["cached"] for s in manifest["stages"])

    build_report(settings, progress=False)
    again = json.loads((tmp_path / "report" / "manifest.json").read_text())
    assert all(s["cached"] for s in again["stages"])
    assert index.read_text() == text
