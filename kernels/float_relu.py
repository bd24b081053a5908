"""Numba kernels of the ReLU in training, forward and backward, one pass each.

The same function as :class:`tinykws.nn.layers.ReLU`'s NumPy reference
(:func:`relu_forward_reference`, :func:`relu_backward_reference`)::

    keep[i] = x[i] > 0
    y[i]    = max(x[i], 0)                  (a NaN passes through, as np.maximum)
    dx[i]   = dy[i] if keep[i] else 0       (the gradient passes where x was positive)

NumPy spends a pass on the mask and another on the maximum forward, and a
float-by-bool multiply backward; these read and write each value once and keep
the mask as one byte a unit. Results are identical.
"""

from __future__ import annotations

import numpy as np
from numba import njit


def relu_forward_reference(x):
    """x : any shape, float -> (y, keep : bool) of x's shape."""
    return np.maximum(x, 0), x > 0


def relu_backward_reference(dy, keep):
    """dy and keep of one shape -> dx."""
    return dy * keep


@njit(cache=True)
def relu_forward(x):
    """x : (m,) float -> (y (m,), keep (m,) uint8)."""
    y = np.empty_like(x)
    keep = np.empty(x.size, np.uint8)
    zero = np.zeros(1, x.dtype)[0]
    for i in range(x.size):
        value = x[i]
        keep[i] = value > zero
        y[i] = zero if value <= zero else value  # NaN is not <= 0: it passes
    return y, keep


@njit(cache=True)
def relu_backward(dy, keep):
    """dy : (m,) float; keep : (m,) uint8 from :func:`relu_forward` -> dx (m,)."""
    dx = np.empty_like(dy)
    zero = np.zeros(1, dy.dtype)[0]
    for i in range(dy.size):
        dx[i] = dy[i] if keep[i] else zero
    return dx
