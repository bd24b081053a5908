"""The keyword-spotting report: per-class recall, balanced accuracy, false accepts, TF's distribution."""

import numpy as np
import pytest

from tinykws.train.metrics import balanced_accuracy, classification_report, summary_lines

LABELS = ["_silence_", "_unknown_", "yes", "no"]


def test_always_unknown_wins_plain_accuracy_but_not_balanced_accuracy():
    y = np.array([1] * 73 + [0] * 7 + [2] * 10 + [3] * 10)
    r = classification_report(np.ones(100, int), y, LABELS)
    assert r["accuracy"]["value"] == pytest.approx(0.73)
    assert r["balanced_accuracy"]["value"] == pytest.approx(0.25)
    assert r["per_class"]["yes"]["recall"]["value"] == 0.0
    assert r["false_accepts"]["value"] == 0.0  # it never fires...
    assert r["majority_accuracy"] == pytest.approx(0.73)


def test_per_class_counts_keywords_first_and_the_confusion_matrix():
    y = np.array([0, 0, 1, 1, 1, 1, 2, 2, 3, 3])
    p = np.array([0, 1, 1, 1, 1, 2, 2, 2, 3, 1])
    r = classification_report(p, y, LABELS)
    assert list(r["per_class"]) == ["yes", "no", "_silence_", "_unknown_"]
    assert r["per_class"]["no"]["recall"] == pytest.approx(
        {**r["per_class"]["no"]["recall"], "value": 0.5, "count": 1, "total": 2})
    assert r["per_class"]["yes"]["precision"]["count"] == 2
    assert r["per_class"]["yes"]["precision"]["total"] == 3
    assert r["confusion"][1] == [0, 3, 1, 0]
    assert r["balanced_accuracy"]["value"] == pytest.approx((0.5 + 0.75 + 1.0 + 0.5) / 4)
    assert balanced_accuracy(p, y, 4) == pytest.approx(r["balanced_accuracy"]["value"])


def test_false_accepts_are_non_keyword_clips_labelled_as_any_keyword():
    y = np.array([0, 0, 1, 1, 1, 2])
    p = np.array([2, 0, 3, 1, 1, 2])
    fa = classification_report(p, y, LABELS)["false_accepts"]
    assert (fa["count"], fa["total"]) == (2, 5)
    assert fa["low"] < 0.4 < fa["high"]


def test_tf_distribution_weights_recalls_by_tfs_shares():
    # Keywords 10 + 10 clips; silence and unknown each weigh 25 % of 20 = 5 clips' worth.
    y = np.array([0] * 4 + [1] * 40 + [2] * 10 + [3] * 10)
    p = y.copy()
    p[:2] = 1  # silence recall 0.5
    p[44:49] = 1  # yes recall 0.5
    r = classification_report(p, y, LABELS)
    expected = (5 * 0.5 + 5 * 1.0 + 10 * 0.5 + 10 * 1.0) / 30
    assert r["tf_distribution_accuracy"]["value"] == pytest.approx(expected)
    r50 = classification_report(p, y, LABELS, unknown_percentage=50)
    assert r50["tf_distribution_accuracy"]["value"] == pytest.approx(
        (5 * 0.5 + 10 * 1.0 + 10 * 0.5 + 10 * 1.0) / 35)


def test_summary_lines_print_every_number_with_an_interval():
    y = np.array([0, 1, 2, 3] * 5)
    text = "\n".join(summary_lines(classification_report(y, y, LABELS)))
    assert "balanced accuracy 100.0 % [" in text and "false accepts     0.0 % [" in text
    assert text.index("yes") < text.index("_silence_")
