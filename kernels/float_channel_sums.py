"""Numba kernel of a convolution's bias gradient: the sum over every pixel of each channel.

For ``dy : (N, OH, OW, O)`` seen as rows ``(m, O)`` (NHWC: a free reshape),
``dbias[o] = sum over rows i of dy[i, o]``. NumPy's ``dy.sum(axis=(0, 1, 2))``
(the reference, :func:`channel_sums_reference`) adds the rows one by one in
the array's float type; this kernel reads each value once, unit stride along
the channels, and keeps the sums in float64 before rounding them once to dy's
type, so it agrees with the reference to float32 rounding (and is the more
accurate of the two over many rows).
"""

from __future__ import annotations

import numpy as np
from numba import njit


def channel_sums_reference(dy):
    """dy : (m, C) float -> (C,) of dy's dtype."""
    return dy.sum(axis=0)


@njit(cache=True)
def channel_sums(dy):
    """dy : (m, C) float -> (C,) of dy's dtype, summed in float64."""
    rows, channels = dy.shape
    total = np.zeros(channels)
    for i in range(rows):
        for c in range(channels):
            total[c] += dy[i, c]
    return total.astype(dy.dtype)
