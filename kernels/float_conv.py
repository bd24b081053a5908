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

Neighbouring taps of one filter row in one phase (``kx``, ``kx + sw``, ...)
read runs that start one value apart, so the kernels take them
``TAPS_PER_PASS`` at a time: one pass over the outputs does four
multiply-adds per value loaded and stored instead of one (the loop is
bound by memory traffic, not by arithmetic).

Both run on one thread. Spreading the examples over threads (``prange``)
halves them on two idle cores, but on a shared, loaded machine every
parallel region waits for its slowest thread to be scheduled: measured with
the machine's other jobs at full load, a training loop with these two
kernels parallel ran 8 times slower than with them serial.

Float sums in another order than BLAS's: the results agree with the
reference to float32 rounding (about 1e-6 relative), not bit for bit. The
weight gradient's dot products are allowed to reassociate (``fastmath``
``reassoc``) so that they vectorise; they are still deterministic.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from kernels.stride_phases import fill_phases, phase_shape

TAPS_PER_PASS = 4  # taps of one filter row and phase that share a pass over the outputs


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
    size = out_h * phase_w  # acc[oy * phase_w + ox]; ox >= out_w spare
    y = np.empty((batches, out_h, out_w, out_channels), x.dtype)
    acc = np.empty(size, x.dtype)
    for b in range(batches):
        fill_phases(x[b], phases[b], 0, padding_values.height, padding_values.width)
        for o in range(out_channels):
            acc[:] = bias[o]
            for ky in range(kernel_h):
                row = (ky // stride_h) * phase_w  # where this filter row's runs start
                for px in range(stride_w):
                    for c in range(depth):
                        plane = phases[b, ky % stride_h, px, c].reshape(-1)
                        kx = px  # the taps kx, kx + sw, ... read runs 1 value apart
                        while kx + (TAPS_PER_PASS - 1) * stride_w < kernel_w:
                            start = row + kx // stride_w
                            run = plane[start:start + size + TAPS_PER_PASS - 1]
                            w0 = weight[o, ky, kx, c]
                            w1 = weight[o, ky, kx + stride_w, c]
                            w2 = weight[o, ky, kx + 2 * stride_w, c]
                            w3 = weight[o, ky, kx + 3 * stride_w, c]
                            for m in range(size):
                                acc[m] += w0 * run[m] + w1 * run[m + 1] + w2 * run[m + 2] + w3 * run[m + 3]
                            kx += TAPS_PER_PASS * stride_w
                        while kx < kernel_w:  # the row's last taps, one at a time
                            start = row + kx // stride_w
                            run = plane[start:start + size]
                            w0 = weight[o, ky, kx, c]
                            for m in range(size):
                                acc[m] += w0 * run[m]
                            kx += stride_w
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
    size = out_h * phase_w
    grad = np.zeros((out_channels, kernel_h, kernel_w, depth), phases.dtype)
    g = np.zeros(size, dy.dtype)  # dy of one channel laid out as the runs; spare stay 0
    zero = np.zeros(1, phases.dtype)[0]  # a 0 of the gradient's float type
    for b in range(batches):
        for o in range(out_channels):
            for oy in range(out_h):
                for ox in range(out_w):
                    g[oy * phase_w + ox] = dy[b, oy, ox, o]
            for ky in range(kernel_h):
                row = (ky // stride_h) * phase_w
                for px in range(stride_w):
                    for c in range(depth):
                        plane = phases[b, ky % stride_h, px, c].reshape(-1)
                        kx = px
                        while kx + (TAPS_PER_PASS - 1) * stride_w < kernel_w:
                            start = row + kx // stride_w
                            run = plane[start:start + size + TAPS_PER_PASS - 1]
                            t0, t1, t2, t3 = zero, zero, zero, zero
                            for m in range(size):
                                gm = g[m]
                                t0 += gm * run[m]
                                t1 += gm * run[m + 1]
                                t2 += gm * run[m + 2]
                                t3 += gm * run[m + 3]
                            grad[o, ky, kx, c] += t0
                            grad[o, ky, kx + stride_w, c] += t1
                            grad[o, ky, kx + 2 * stride_w, c] += t2
                            grad[o, ky, kx + 3 * stride_w, c] += t3
                            kx += TAPS_PER_PASS * stride_w
                        while kx < kernel_w:
                            start = row + kx // stride_w
                            run = plane[start:start + size]
                            total = zero
                            for m in range(size):
                                total += g[m] * run[m]
                            grad[o, ky, kx, c] += total
                            kx += stride_w
    return grad
