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
three times, every row a unit-stride loop over the channels. x^ is not stored:
backward recomputes it from x, the same float32 values (one write of the
activations fewer forward). A ReLU after the batch norm can be fused
(``relu``): forward clips y at 0 in pass 3; backward zeroes dy where y is not
positive as it reads it, which is :class:`tinykws.nn.layers.ReLU`'s gradient
(a mask of ``y > 0`` is one of its input ``> 0``); one pass each way fewer than
the two layers apart. The per-channel
sums are kept in float64 (the reference's NumPy sums are float32, pairwise),
and the variance is the mean of squared deviations from the mean, not
``E[x^2] - mean^2``, which cancels badly when the mean is large. Results agree
with the reference to float32 rounding.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def batch_norm_forward(x, gamma, beta, epsilon, relu):
    """x : (m, C); gamma, beta : (C,) of x's dtype. Training mode: the batch's statistics.

    Returns ``(y, mean, var, inv_std)``: y (m, C), ``max(y, 0)`` when ``relu``
    (a ReLU after the batch norm, fused; NaN passes as ``np.maximum``); mean and
    the biased var (C,) float64; inv_std = 1 / sqrt(var + epsilon), (C,) of x's dtype.
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
    zero = np.zeros(1, x.dtype)[0]
    y = np.empty_like(x)
    for i in range(rows):
        for c in range(channels):
            out = gamma[c] * ((x[i, c] - centre[c]) * inv_std[c]) + beta[c]
            y[i, c] = zero if relu and out <= zero else out
    return y, mean, var, inv_std


@njit(cache=True)
def batch_norm_backward(dy, x, y, gamma, mean, inv_std, need_input_grad, relu):
    """dy : (m, C); x, y : (m, C), the forward's input and output; gamma (C,); mean, inv_std
    (C,) as :func:`batch_norm_forward` returned them; ``relu`` as it was given.

    x^ is recomputed from ``x`` as the forward computed it (the same float32
    values), so the forward stores no x^. With ``relu`` the gradient first
    passes the ReLU: ``dy`` where ``y > 0``, else 0. Returns ``(dx, dgamma,
    dbeta)``: dx (m, C), all zeros unless ``need_input_grad``; dgamma =
    sum(dy * x^) and dbeta = sum(dy), (C,) of dy's dtype.
    """
    rows, channels = dy.shape
    centre = mean.astype(x.dtype)
    zero = np.zeros(1, dy.dtype)[0]
    sum_dy = np.zeros(channels)
    sum_dy_x_hat = np.zeros(channels)
    for i in range(rows):
        for c in range(channels):
            g = zero if relu and not y[i, c] > zero else dy[i, c]
            sum_dy[c] += g
            sum_dy_x_hat[c] += g * ((x[i, c] - centre[c]) * inv_std[c])
    if not need_input_grad:
        return np.zeros_like(dy), sum_dy_x_hat.astype(dy.dtype), sum_dy.astype(dy.dtype)
    dx = np.empty_like(dy)
    scale = (gamma * inv_std / rows).astype(dy.dtype)  # (C,)
    count = np.zeros(1, dy.dtype)[0] + rows  # m in dy's float type (int * float32 is float64)
    total = sum_dy.astype(dy.dtype)
    total_x_hat = sum_dy_x_hat.astype(dy.dtype)
    for i in range(rows):
        for c in range(channels):
            g = zero if relu and not y[i, c] > zero else dy[i, c]
            x_hat = (x[i, c] - centre[c]) * inv_std[c]
            dx[i, c] = scale[c] * (count * g - total[c] - x_hat * total_x_hat[c])
    return dx, sum_dy_x_hat.astype(dy.dtype), sum_dy.astype(dy.dtype)
