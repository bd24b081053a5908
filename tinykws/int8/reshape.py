"""RESHAPE: the bytes do not change, only the shape (TFLM copies the buffer).

The target shape is the output tensor's static shape (TFLite's converter
stores it there, and in a second "shape" input or in ReshapeOptions). When
running a batch of N examples through a graph made for batch 1, the leading
dimension becomes N and the rest is kept.
"""

from __future__ import annotations

import math

import numpy as np


def reshape(x: np.ndarray, output_shape: tuple[int, ...], batch: int | None = None) -> np.ndarray:
    """``x`` with ``output_shape``; if ``batch`` is given it replaces dimension 0."""
    shape = tuple(output_shape)
    if batch is not None and shape:
        shape = (batch,) + shape[1:]
    if math.prod(shape) != x.size:
        raise ValueError(f"cannot reshape {x.shape} to {shape}")
    return x.reshape(shape)
