"""The broadcasting sum of two branches, ``y = a + b`` (a residual connection, TFLite's ADD).

The one layer with two inputs: ``forward(a, b)`` and ``backward(dy) -> (da, db)``.
Broadcasting follows NumPy (and TFLite's ``BroadcastAdd``): shapes are aligned
at the right and a size-1 axis is repeated, e.g. ``(N, H, W, C) + (N, 1, 1, C)``.
The gradient of a repeated input is the sum of ``dy`` over the positions it
was repeated to, so each ``d`` is ``dy`` summed back down to its input's shape.
"""

from __future__ import annotations

import numpy as np

from tinykws.nn.layers import Parameterless


def sum_to_shape(dy: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``dy`` summed over the axes broadcasting added or stretched to reach ``shape``."""
    extra = dy.ndim - len(shape)
    dy = dy.sum(axis=tuple(range(extra))) if extra else dy  # axes broadcasting prepended
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and dy.shape[i] != 1)
    return dy.sum(axis=stretched, keepdims=True) if stretched else dy


class Add(Parameterless):
    """``a + b`` with NumPy broadcasting; backward returns ``(da, db)``."""

    def __init__(self):
        super().__init__()
        self._shapes = None

    def spec(self) -> dict:
        return {"type": "add"}

    def output_shape(self, a_shape, b_shape=None):
        return a_shape if b_shape is None else np.broadcast_shapes(a_shape, b_shape)

    def forward(self, a: np.ndarray, b: np.ndarray, training: bool = False) -> np.ndarray:
        self._shapes = (a.shape, b.shape)
        return a + b

    def backward(self, dy: np.ndarray, need_input_grad: bool = True):
        a_shape, b_shape = self._shapes
        return sum_to_shape(dy, a_shape), sum_to_shape(dy, b_shape)
