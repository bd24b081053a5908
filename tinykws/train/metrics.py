"""Predictions, accuracy and the confusion matrix."""

from __future__ import annotations

import numpy as np

from tinykws.nn.model import Sequential


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
