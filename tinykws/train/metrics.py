"""Predictions and the numbers that judge a keyword spotter, each with its 95 % interval.

Plain accuracy hides a failing keyword: when 73 % of the clips are
``_unknown_``, a model that answers ``_unknown_`` to everything scores 73 %.
:func:`classification_report` therefore gives, for one set of predictions:

- **per-class recall** (the share of a class's clips recognised) and
  **precision** (the share of a class's predictions that are right), keywords
  first, each with Wilson's interval (:mod:`tinykws.stats`);
- **balanced accuracy**, the mean per-class recall: always answering one
  label scores ``1 / K`` on it, whatever the class shares;
- **false accepts**: the share of non-keyword clips (``_silence_`` and
  ``_unknown_``) that the model labels as *some* keyword, i.e. how often it
  fires on nothing;
- **accuracy on TF's distribution**: the per-class recalls weighted as TF's
  ``input_data.py`` shares a split — every keyword by its clip count,
  ``_silence_`` and ``_unknown_`` each ``percentage / 100`` of the keyword
  clips — the distribution the course's and TF's accuracies mean. Computed on
  every clip (no clip is thrown away), so it is exact for these recalls;
- plain accuracy on every clip, as published, the most-common-label floor and
  the confusion matrix ``cm[true, predicted]``.

Labels follow the dataset index: ``("_silence_", "_unknown_", *keywords)``.
"""

from __future__ import annotations

import numpy as np

from tinykws.data.speech_commands import TF_SHARE_PERCENTAGE
from tinykws.nn.model import Sequential
from tinykws.stats import Proportion, weighted_interval, wilson_interval

NON_KEYWORDS = 2  # labels 0 and 1: _silence_ and _unknown_


def predict(model: Sequential, x: np.ndarray, batch: int = 1000) -> np.ndarray:
    """Logits ``(N, K)`` in inference mode (no dropout), in batches to bound memory."""
    if len(x) == 0:
        return np.zeros((0, model.shapes()[-1][0]), np.float32)
    return np.concatenate([model.forward(x[i:i + batch]) for i in range(0, len(x), batch)])


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float((logits.argmax(1) == labels).mean()) if len(labels) else float("nan")


def majority_accuracy(labels: np.ndarray) -> float:
    """Accuracy of always answering the most common label: the floor a useful model must clear."""
    return float(np.bincount(labels).max() / len(labels)) if len(labels) else float("nan")


def confusion_matrix(predicted: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """``cm[true, predicted]`` counts, shape ``(k, k)``."""
    cm = np.zeros((k, k), np.int64)
    np.add.at(cm, (labels, predicted), 1)
    return cm


def balanced_accuracy(predicted: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Mean recall over the classes present in ``labels``: the model-selection criterion."""
    cm = confusion_matrix(predicted, labels, k)
    support = cm.sum(1)
    present = support > 0
    return float(np.mean(np.diag(cm)[present] / support[present])) if present.any() else float("nan")


def classification_report(predicted: np.ndarray, labels: np.ndarray, names: list[str] | tuple[str, ...],
                          silence_percentage: float = TF_SHARE_PERCENTAGE,
                          unknown_percentage: float = TF_SHARE_PERCENTAGE) -> dict:
    """Every number of the module docstring for ``predicted``, ``labels``: ``(N,)`` int.

    Returns plain data (JSON-ready): proportions as ``{"value", "low",
    "high"[, "count", "total"]}``.
    """
    k = len(names)
    predicted = np.asarray(predicted, np.int64)
    labels = np.asarray(labels, np.int64)
    cm = confusion_matrix(predicted, labels, k)  # (K, K)
    support = cm.sum(1)  # (K,) clips per true class
    hits = np.diag(cm)  # (K,)
    recall = [wilson_interval(int(hits[c]), int(support[c])) for c in range(k)]
    precision = [wilson_interval(int(hits[c]), int(cm[:, c].sum())) for c in range(k)]
    present = support > 0
    recalls = np.where(present, hits / np.maximum(support, 1), 0.0)  # (K,)
    balanced = weighted_interval(recalls, support, present.astype(np.float64))
    n_keyword = float(support[NON_KEYWORDS:].sum())
    tf_weights = np.array([silence_percentage / 100 * n_keyword, unknown_percentage / 100 * n_keyword,
                           *support[NON_KEYWORDS:]], np.float64)[:k]
    tf_accuracy = weighted_interval(recalls, support, tf_weights)
    non_keyword = labels < NON_KEYWORDS
    accepted = int(np.sum(non_keyword & (predicted >= NON_KEYWORDS)))
    order = list(range(NON_KEYWORDS, k)) + list(range(min(NON_KEYWORDS, k)))  # keywords first
    return {
        "labels": list(names),
        "examples": int(len(labels)),
        "accuracy": wilson_interval(int(hits.sum()), int(len(labels))).as_dict(),
        "balanced_accuracy": balanced.as_dict(),
        "tf_distribution_accuracy": tf_accuracy.as_dict(),
        "tf_shares": {"silence_percentage": silence_percentage, "unknown_percentage": unknown_percentage},
        "false_accepts": wilson_interval(accepted, int(non_keyword.sum())).as_dict(),
        "per_class": {names[c]: {"recall": recall[c].as_dict(), "precision": precision[c].as_dict(),
                                 "support": int(support[c])} for c in order},
        "majority_accuracy": majority_accuracy(labels),
        "confusion": cm.tolist(),
    }


def proportion(entry: dict) -> Proportion:
    """A report entry back as a :class:`~tinykws.stats.Proportion`."""
    return Proportion(**entry)


def summary_lines(report: dict, indent: str = "  ") -> list[str]:
    """The report as a few lines of text, keywords first, every number with its interval."""
    lines = [
        f"{indent}balanced accuracy {proportion(report['balanced_accuracy']).percent()}",
        f"{indent}false accepts     {proportion(report['false_accepts']).percent()} of non-keyword "
        f"clips ({report['false_accepts'].get('count', 0)} of {report['false_accepts'].get('total', 0)})",
        f"{indent}accuracy          {proportion(report['accuracy']).percent()} over "
        f"{report['examples']} clips; on TF's distribution "
        f"{proportion(report['tf_distribution_accuracy']).percent()}; "
        f"most-common-label floor {100 * report['majority_accuracy']:.1f} %",
        f"{indent}recall (precision):",
    ]
    for name, entry in report["per_class"].items():
        lines.append(f"{indent}  {name:<12} {proportion(entry['recall']).percent():<26} "
                     f"({proportion(entry['precision']).percent()}), {entry['support']} clips")
    return lines


def split_scores(split: str, predicted: np.ndarray, labels: np.ndarray, names, shares=(
        TF_SHARE_PERCENTAGE, TF_SHARE_PERCENTAGE)) -> dict:
    """A study entry's numbers on one split, keyed ``{split}_accuracy``, ``{split}_balanced_accuracy``,
    ``{split}_report`` and ``{split}_predicted`` (kept for paired tests against other entries)."""
    report = classification_report(predicted, labels, names, *shares)
    return {f"{split}_accuracy": report["accuracy"]["value"],
            f"{split}_balanced_accuracy": report["balanced_accuracy"]["value"],
            f"{split}_report": report,
            f"{split}_predicted": np.asarray(predicted).astype(int).tolist()}


def paired_test(a: dict, b: dict, split: str, labels: np.ndarray) -> dict | None:
    """Study entries ``a`` against ``b`` on the same clips of ``split`` (None when either lacks
    predictions): the balanced-accuracy test decides ``significant`` (the tables show balanced
    accuracy), McNemar's test on plain correctness rides along."""
    from tinykws.stats import mcnemar, paired_balanced_test

    key = f"{split}_predicted"
    if key not in a or key not in b:
        return None
    correct_a, correct_b = np.array(a[key]) == labels, np.array(b[key]) == labels
    return {**paired_balanced_test(correct_a, correct_b, labels),
            "mcnemar": mcnemar(correct_a, correct_b).as_dict()}
