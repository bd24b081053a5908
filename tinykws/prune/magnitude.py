"""Unstructured L1-magnitude pruning: zero the weights with the smallest ``|w|``.

Han et al. (2015): most weights of a trained network can be removed with
little loss if the ones removed are the smallest in magnitude, and a short
retraining with the removed weights held at zero recovers most of the rest.

A pruning is a set of **masks**, one 0/1 array per weight tensor (biases are
left alone: 12 of TinyConv's 16,652 parameters). With ``amount = 0.9``:

- ``scope="layer"``: each layer loses the 90 % of its own weights that are
  smallest in ``|w|``, so every layer keeps 10 %;
- ``scope="global"``: one threshold over all weights, so a layer whose
  weights are large overall (TinyConv's 640 conv taps) keeps more than one
  whose weights are small (the 16,000 dense weights).

Exactly ``floor(amount * n)`` weights are removed (ties broken by position),
so the sparsity is what was asked, not "whatever fell under a threshold".
"""

from __future__ import annotations

import numpy as np

from tinykws.nn.model import Sequential


def prunable(model: Sequential) -> dict[str, np.ndarray]:
    """The weight tensors pruning acts on: ``"<layer>.weight"`` of convs and dense layers."""
    return {k: v for k, v in model.parameters().items() if k.endswith(".weight")}


def _smallest(values: np.ndarray, count: int) -> np.ndarray:
    """Boolean mask of the ``count`` smallest entries of a flat array (stable on ties)."""
    order = np.argsort(values, kind="stable")
    drop = np.zeros(values.size, bool)
    drop[order[:count]] = True
    return drop


def l1_unstructured_masks(model: Sequential, amount: float, scope: str = "layer") -> dict[str, np.ndarray]:
    """Masks (1 keep, 0 pruned) removing ``amount`` of the weights by smallest ``|w|``."""
    if not 0.0 <= amount < 1.0:
        raise ValueError(f"sparsity must be in [0, 1), not {amount}")
    weights = prunable(model)
    if scope == "layer":
        return {k: ~_smallest(np.abs(w).ravel(), int(amount * w.size)).reshape(w.shape)
                for k, w in weights.items()}
    if scope == "global":
        flat = np.concatenate([np.abs(w).ravel() for w in weights.values()])
        keep = ~_smallest(flat, int(amount * flat.size))
        masks, start = {}, 0
        for k, w in weights.items():
            masks[k] = keep[start:start + w.size].reshape(w.shape)
            start += w.size
        return masks
    raise ValueError(f"scope must be 'layer' or 'global', not {scope!r}")


def apply_masks(model: Sequential, masks: dict[str, np.ndarray]) -> None:
    """Zero the pruned weights in place (after every fine-tuning step, so they stay zero)."""
    params = model.parameters()
    for k, m in masks.items():
        params[k] *= m


def sparsity(model: Sequential) -> float:
    """Fraction of prunable weights that are exactly zero."""
    weights = prunable(model).values()
    return sum(int((w == 0).sum()) for w in weights) / sum(w.size for w in weights)
