"""Softmax cross-entropy, the classifier's loss, with its gradient."""

from __future__ import annotations

import numpy as np


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """``z - logsumexp(z)`` along the last axis, shifted by the max for stability."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of ``logits (N, K)`` against integer ``labels (N,)``.

    Returns the loss and its gradient ``dL/dlogits = (softmax - onehot) / N``.
    """
    n = logits.shape[0]
    logp = log_softmax(logits)  # (N, K)
    loss = -logp[np.arange(n), labels].mean()
    grad = np.exp(logp)
    grad[np.arange(n), labels] -= 1.0
    return float(loss), (grad / n).astype(logits.dtype)
