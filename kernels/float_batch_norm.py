"""Numba kernels of batch normalisation in training: forward and backward, two passes each.

The same formulas as :class:`tinykws.nn.batch_norm.BatchNorm`'s NumPy
reference, on the activations seen as a matrix ``x : (m, C)`` (every axis but
the channel flattened; NHWC makes that a free reshape)::

    forward:   mean, var over the rows      (pass 1: the mean; pass 2: the variance)
               x^ = (x - mean) * inv_std,  y = gamma * x^ + beta        (pass 3)
    backward:  sum(dy), sum(dy * x^)                                    (pass 1)
               dx = gamma * inv_std / m * (m * dy - sum(dy) - x^ * sum(dy * x^))   (pass 2)

The reference makes a temporary array for nearly every operator (about ten
passes over the activations each way); these read and write each value two or
three times, every row a unit-stride loop over the channels. The per-channel
sums are kept in float64 (the reference's NumPy sums are float32, pairwise),
and the variance is the mean of squared deviations from the mean, not
``E[x^2] - mean^2``, which cancels badly when the mean is large. Results agree
with the reference to float32 rounding.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def batch_norm_forward(x, gamma, beta, epsilon):
    """x : (m, C); gamma, beta : (C,) of x's dtype. Training mode: the batch's statistics.

    Returns ``(y, x_hat, mean, var, inv_std)``: y and x_hat (m, C); mean and the
    biased var (C,) float64; inv_std = 1 / sqrt(var + epsilon), (C,) of x's dtype.
    """
    rows, channels = x.shape
    mean = np.zeros(channels)
    for i in range(rows):
        for c in range(channels):
            mean[c] += x[i, c]
    mean /= rows
    var = np.zeros(channels)
    for i in range(rows):
        for c in range(channels):
            d = x[i, c] - mean[c]
            var[c] += d * d
    var /= rows
    inv_std = (1.0 / np.sqrt(var + epsilon)).astype(x.dtype)
    centre = mean.astype(x.dtype)
    x_hat = np.empty_like(x)
    y = np.empty_like(x)
    for i in range(rows):
        for c in range(channels):
            h = (x[i, c] - centre[c]) * inv_std[c]
            x_hat[i, c] = h
            y[i, c] = gamma[c] * h + beta[c]
    return y, x_hat, mean, var, inv_std


@njit(cache=True)
def batch_norm_backward(dy, x_hat, gamma, inv_std, need_input_grad):
    """dy, x_hat : (m, C); gamma, inv_std : (C,), as :func:`batch_norm_forward` left them.

    Returns ``(dx, dgamma, dbeta)``: dx (m, C), all zeros unless
    ``need_input_grad``; dgamma = sum(dy * x_hat) and dbeta = sum(dy), (C,) of dy's dtype.
    """
    rows, channels = dy.shape
    sum_dy = np.zeros(channels)
    sum_dy_x_hat = np.zeros(channels)
    for i in range(rows):
        for c in range(channels):
            sum_dy[c] += dy[i, c]
            sum_dy_x_hat[c] += dy[i, c] * x_hat[i, c]
    dx = np.zeros_like(dy)
    if need_input_grad:
        scale = (gamma * inv_std / rows).astype(dy.dtype)  # (C,)
        count = np.zeros(1, dy.dtype)[0] + rows  # m in dy's float type (int * float32 is float64)
        total = sum_dy.astype(dy.dtype)
        total_x_hat = sum_dy_x_hat.astype(dy.dtype)
        for i in range(rows):
            for c in range(channels):
                dx[i, c] = scale[c] * (count * dy[i, c] - total[c] - x_hat[i, c] * total_x_hat[c])
    return dx, sum_dy_x_hat.astype(dy.dtype), sum_dy.astype(dy.dtype)
