"""Numba kernels of the float training depthwise convolution: forward and backward (dx and dw).

A depthwise convolution (:class:`tinykws.nn.conv.Conv2D` with ``groups ==
in_channels``) filters every channel on its own: with one filter per channel,

    y[n, oy, ox, c] = b[c] + sum over taps (ky, kx) inside the image of
                      w[ky, kx, c] * x[n, oy * sh + ky - top, ox * sw + kx - left, c]

(taps that fall in the padding add nothing: the padding is zeros). The
im2col reference of :mod:`tinykws.nn.conv` spends one matrix product per
channel on this, 64 products of ``(N*OH*OW, 9) @ (9, 1)`` for a DS-CNN block,
each too thin for BLAS to be fast. Here NHWC pays off instead: the ``C``
channels of one pixel sit side by side, so each tap is one unit-stride
multiply-add over the channel axis, which the compiler vectorises::

    forward:          y[n, oy, ox, :]  += w[ky, kx, :] * x[n, iy, ix, :]
    input gradient:   dx[n, iy, ix, :] += w[ky, kx, :] * dy[n, oy, ox, :]
    weight gradient:  dw[ky, kx, :]    += dy[n, oy, ox, :] * x[n, iy, ix, :]

The two gradients are one backward kernel, one pass over the same taps. The
input gradient is the forward's scatter: every output position sends its
``dy`` back to the pixels it read (no col2im matrix). The weight gradient sums
each example into a small ``(KH, KW, C)`` buffer before adding it to the
total, so a float32 sum over a batch stays as accurate as the reference's.

A depth multiplier ``M > 1`` (``out_channels = M * in_channels``) is the same
computation on the input with each channel repeated ``M`` times; the layer
does that repetition, these kernels see one filter per channel.

Both run on one thread (see :mod:`kernels.float_conv` for why). The sums
run in another order than the reference's, so results agree with it to float32
rounding, not bit for bit.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def taps_inside(out_index, stride, pad_before, kernel, size):
    """``(origin, first, end)``: output ``out_index`` reads input ``origin + k`` with tap ``k``,
    and the taps ``first <= k < end`` are those inside ``0 .. size - 1``."""
    origin = out_index * stride - pad_before
    return origin, max(0, -origin), min(kernel, size - origin)


@njit(cache=True)
def depthwise_forward(x, weight, bias, stride_h, stride_w, pad_top, pad_left, out_h, out_w):
    """x : (N, H, W, C); weight : (KH, KW, C); bias : (C,). Returns y : (N, out_h, out_w, C).

    ``pad_top`` and ``pad_left`` are the zero rows and columns before the image
    (TFLite's ``PaddingValues.height`` and ``.width``); the ones after need no
    argument, since a tap past the image is skipped like one before it.
    """
    batches, height, width, channels = x.shape
    kernel_h, kernel_w, _ = weight.shape
    y = np.empty((batches, out_h, out_w, channels), x.dtype)
    acc = np.empty(channels, x.dtype)
    for b in range(batches):
        for oy in range(out_h):
            for ox in range(out_w):
                acc[:] = bias
                y0, ky0, ky1 = taps_inside(oy, stride_h, pad_top, kernel_h, height)
                x0, kx0, kx1 = taps_inside(ox, stride_w, pad_left, kernel_w, width)
                for ky in range(ky0, ky1):
                    for kx in range(kx0, kx1):
                        for c in range(channels):
                            acc[c] += weight[ky, kx, c] * x[b, y0 + ky, x0 + kx, c]
                y[b, oy, ox, :] = acc
    return y


@njit(cache=True)
def depthwise_backward(x, dy, weight, stride_h, stride_w, pad_top, pad_left, need_input_grad):
    """x : (N, H, W, C), the forward's input; dy : (N, OH, OW, C); weight : (KH, KW, C).

    Returns ``(dx, dw)``: dL/dx (N, H, W, C), all zeros unless ``need_input_grad``,
    and dL/dweight (KH, KW, C). Both come from one pass over the taps: each
    reads the same ``dy[n, oy, ox, :]``.
    """
    batches, height, width, channels = x.shape
    _, out_h, out_w, _ = dy.shape
    kernel_h, kernel_w, _ = weight.shape
    dx = np.zeros((batches, height, width, channels), dy.dtype)
    grad = np.zeros((kernel_h, kernel_w, channels), dy.dtype)
    example = np.empty((kernel_h, kernel_w, channels), dy.dtype)  # one example's share of grad
    for b in range(batches):
        example[:] = 0
        for oy in range(out_h):
            for ox in range(out_w):
                y0, ky0, ky1 = taps_inside(oy, stride_h, pad_top, kernel_h, height)
                x0, kx0, kx1 = taps_inside(ox, stride_w, pad_left, kernel_w, width)
                for ky in range(ky0, ky1):
                    for kx in range(kx0, kx1):
                        for c in range(channels):
                            example[ky, kx, c] += dy[b, oy, ox, c] * x[b, y0 + ky, x0 + kx, c]
                        if need_input_grad:
                            for c in range(channels):
                                dx[b, y0 + ky, x0 + kx, c] += weight[ky, kx, c] * dy[b, oy, ox, c]
        grad += example
    return dx, grad
