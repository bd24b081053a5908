"""Numba kernels of the float training convolution (one group): forward and weight gradient.

The same sums as :class:`tinykws.nn.conv.Conv2D`'s im2col + BLAS reference,
``y = cols @ w.T + b`` and ``dw = dy.T @ cols``, without building ``cols``.
For TinyConv's first layer that matrix is 50,000 x 80 floats per batch of
100 (16 MB), and writing it costs more than the matrix product; here the
input is instead split by stride phase (:mod:`kernels.stride_phases`, about
as large as the input) and every filter tap is one long unit-stride
multiply-add over all output positions of an example:

- forward: ``y[n, :, :, o] += w[o, ky, kx, c] * run(n, ky, kx, c)``;
- weight gradient: ``dw[o, ky, kx, c] += dot(dy[n, :, :, o], run(n, ky, kx, c))``,
  with ``dy`` laid out like the runs (zeros in the spare columns).

Float sums in another order than BLAS's: the results agree with the
reference to float32 rounding (about 1e-6 relative), not bit for bit. The
weight gradient's dot product is allowed to reassociate (``fastmath``
``reassoc``) so that it vectorises; it is still deterministic.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from kernels.stride_phases import fill_phases, phase_shape


@njit(cache=True)
def conv2d_forward(x, weight, bias, stride_h, stride_w, padding_values, out_h, out_w):
    """x : (N, H, W, C) float32; weight : (O, KH, KW, C); bias : (O,); padding_values :
    TFLite's ``PaddingValues`` (:func:`tinykws.padding.compute_padding_height_width`).

    Returns ``(y, phases)``: y (N, out_h, out_w, O), and the input's stride
    phases (N, sh, sw, C, PH, PW) that :func:`conv2d_weight_grad` needs.
    """
    batches, height, width, depth = x.shape
    out_channels, kernel_h, kernel_w, _ = weight.shape
    shape = phase_shape(height, width, depth, stride_h, stride_w, padding_values)
    phases = np.zeros((batches,) + shape, x.dtype)
    phase_w = shape[4]
    y = np.empty((batches, out_h, out_w, out_channels), x.dtype)
    acc = np.empty(out_h * phase_w, x.dtype)  # acc[oy * phase_w + ox]; ox >= out_w spare
    for b in range(batches):
        fill_phases(x[b], phases[b], 0, padding_values.height, padding_values.width)
        for o in range(out_channels):
            acc[:] = bias[o]
            for ky in range(kernel_h):
                for kx in range(kernel_w):
                    for c in range(depth):
                        plane = phases[b, ky % stride_h, kx % stride_w, c].reshape(-1)
                        start = (ky // stride_h) * phase_w + kx // stride_w
                        run = plane[start:start + acc.size]  # slicing first: the loop vectorises
                        w = weight[o, ky, kx, c]
                        for m in range(acc.size):
                            acc[m] += w * run[m]
            for oy in range(out_h):
                for ox in range(out_w):
                    y[b, oy, ox, o] = acc[oy * phase_w + ox]
    return y, phases


@njit(cache=True, fastmath={"reassoc"})
def conv2d_weight_grad(phases, dy, kernel_h, kernel_w):
    """phases : (N, sh, sw, C, PH, PW) from :func:`conv2d_forward`; dy : (N, out_h, out_w, O).

    Returns dL/dweight, (O, KH, KW, C).
    """
    batches, stride_h, stride_w, depth, _, phase_w = phases.shape
    _, out_h, out_w, out_channels = dy.shape
    grad = np.zeros((out_channels, kernel_h, kernel_w, depth), phases.dtype)
    g = np.zeros(out_h * phase_w, dy.dtype)  # dy of one channel laid out as acc; spare stay 0
    zero = np.zeros(1, grad.dtype)[0]  # a 0 of the gradient's float type
    for b in range(batches):
        for o in range(out_channels):
            for oy in range(out_h):
                for ox in range(out_w):
                    g[oy * phase_w + ox] = dy[b, oy, ox, o]
            for ky in range(kernel_h):
                for kx in range(kernel_w):
                    for c in range(depth):
                        plane = phases[b, ky % stride_h, kx % stride_w, c].reshape(-1)
                        start = (ky // stride_h) * phase_w + kx // stride_w
                        run = plane[start:start + g.size]
                        total = zero
                        for m in range(g.size):
                            total += g[m] * run[m]
                        grad[o, ky, kx, c] += total
    return grad
