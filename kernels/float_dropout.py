"""Numba kernels of inverted dropout in training, forward and backward, one pass each.

:class:`tinykws.nn.layers.Dropout` draws one random 32-bit word per unit
from the run's generator (its bit generator's raw output, the cheapest draw
NumPy offers: about a third of the time of ``Generator.random`` in float64
or float32) and keeps a unit when its word is below ``threshold =
round(keep * 2**32)``, probability ``keep`` to within 2**-33. Kept units are
scaled by ``scale = 1 / keep`` (so the expected activation is the
inference one), the others are zero::

    keep[i] = bits[i] < threshold
    y[i]    = x[i] * scale   if keep[i] else 0
    dx[i]   = dy[i] * scale  if keep[i] else 0

The reference writes that as NumPy operators (:func:`dropout_forward_reference`,
:func:`dropout_backward_reference`: a boolean mask, a multiply, a select);
these kernels read and write each value once, and keep the mask as one byte
a unit for backward. Both give identical results (one float multiply a unit).
"""

from __future__ import annotations

import numpy as np
from numba import njit


def keep_threshold(keep: float) -> int:
    """The 32-bit word below which a unit is kept with probability ``keep`` (0 < keep <= 1)."""
    return int(round(keep * 2.0**32))


def dropout_forward_reference(x, bits, threshold, scale):
    """x : any shape, float; bits : x's shape, uint32 -> (y, keep : bool) of x's shape."""
    keep = bits < np.uint64(threshold)
    return np.where(keep, x * scale, np.zeros((), x.dtype)), keep


def dropout_backward_reference(dy, keep, scale):
    """dy and keep as :func:`dropout_forward_reference` left them -> dx."""
    return np.where(keep, dy * scale, np.zeros((), dy.dtype))


@njit(cache=True)
def dropout_forward(x, bits, threshold, scale):
    """x : (m,) float; bits : (m,) uint32; threshold : uint64; scale of x's dtype
    -> (y (m,), keep (m,) uint8)."""
    y = np.empty_like(x)
    keep = np.empty(x.size, np.uint8)
    zero = np.zeros(1, x.dtype)[0]
    for i in range(x.size):
        kept = np.uint64(bits[i]) < threshold
        keep[i] = kept
        y[i] = x[i] * scale if kept else zero
    return y, keep


@njit(cache=True)
def dropout_backward(dy, keep, scale):
    """dy : (m,) float; keep : (m,) uint8 from :func:`dropout_forward` -> dx (m,)."""
    dx = np.empty_like(dy)
    zero = np.zeros(1, dy.dtype)[0]
    for i in range(dy.size):
        dx[i] = dy[i] * scale if keep[i] else zero
    return dx
