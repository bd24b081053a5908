"""Training curves and confusion matrices."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from tinykws.atomic import save_figure


def save_curves(history: list[dict], path: str | Path) -> Path:
    """Train and validation accuracy (left) and loss (right) against step."""
    steps = [h["step"] for h in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
    ax1.plot(steps, [h["train_accuracy"] for h in history], label="train (augmented batches)")
    ax1.plot(steps, [h["val_accuracy"] for h in history], label="validation")
    if all("val_balanced_accuracy" in h for h in history):
        ax1.plot(steps, [h["val_balanced_accuracy"] for h in history],
                 label="validation, balanced (selects the model)")
    ax1.set(xlabel="training step", ylabel="accuracy", title="Accuracy", ylim=(0, 1.02))
    ax1.legend()
    ax2.plot(steps, [h["train_loss"] for h in history], label="train")
    ax2.plot(steps, [h["val_loss"] for h in history], label="validation")
    ax2.set(xlabel="training step", ylabel="cross-entropy loss", title="Loss")
    ax2.legend()
    return save_figure(path, fig)


def save_confusion(cm: np.ndarray, labels: list[str], path: str | Path, title: str = "") -> Path:
    """Row-normalised confusion matrix with counts in the cells."""
    fig, ax = plt.subplots(figsize=(1.1 * len(labels) + 2, 1.1 * len(labels) + 1))
    rows = cm.sum(axis=1, keepdims=True)
    ax.imshow(cm / np.maximum(rows, 1), cmap="Blues", vmin=0, vmax=1)
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center",
                    color="white" if cm[i, j] > 0.6 * max(rows[i, 0], 1) else "black")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    acc = np.trace(cm) / max(cm.sum(), 1)
    present = rows[:, 0] > 0
    balanced = float(np.mean(np.diag(cm)[present] / rows[present, 0])) if present.any() else float("nan")
    ax.set(xlabel="predicted", ylabel="true",
           title=f"{title} confusion (balanced accuracy {balanced:.1%}, accuracy {acc:.1%})")
    return save_figure(path, fig)
