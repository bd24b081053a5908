"""Numba kernels of the float training convolution, one output pixel at a time: forward and backward.

NHWC puts the channels of one pixel side by side, so these kernels walk the
output pixels and spend their inner loop on one unit-stride multiply-add over
the output channels ``o`` of a pixel, for every tap ``(ky, kx)`` inside the
image (taps in the zero padding add nothing and are skipped). Two layers
take them (:class:`tinykws.nn.conv.Conv2D`'s pixel and depthwise paths):

- an ungrouped layer with many filters, weights ``(KH, KW, C, O)``::

      y[n, oy, ox, :]  += x[n, iy, ix, c] * w[ky, kx, c, :]      for every c
      dw[ky, kx, c, :] += x[n, iy, ix, c] * dy[n, oy, ox, :]
      dx[n, iy, ix, c] += dot(w[ky, kx, c, :], dy[n, oy, ox, :])

  (DS-CNN's first layer: 64 filters; the stride-phase kernels of
  :mod:`kernels.float_conv` loop over the filters one by one instead, which
  pays when there are few and the output rows long, as in TinyConv);
- a depthwise layer (``groups == in_channels``: one filter per channel, each
  reading its own channel), weights ``(KH, KW, 1, O)``::

      y[n, oy, ox, :]  += w[ky, kx, 0, :] * x[n, iy, ix, :]
      dw[ky, kx, 0, :] += dy[n, oy, ox, :] * x[n, iy, ix, :]
      dx[n, iy, ix, :] += w[ky, kx, 0, :] * dy[n, oy, ox, :]

  where the im2col reference spends one thin matrix product per channel (64
  products of ``(N*OH*OW, 9) @ (9, 1)`` for a DS-CNN block), each too thin for
  BLAS to be fast. A depth multiplier ``M > 1`` is the same computation on the
  input with each channel repeated ``M`` times; the layer does that repetition.

Backward is one pass for both gradients, which read the same ``dy[n, oy, ox, :]``.
The input gradient is the forward's scatter: every output pixel sends its
``dy`` back to the pixels it read (no col2im matrix). The weight gradient sums
each example into a small buffer before adding it to the total, so a float32
sum over a batch stays as accurate as the reference's.

Both run on one thread (see :mod:`kernels.float_conv` for why). The sums run in
another order than the reference's (the dense ``dx`` dot products may
reassociate, ``fastmath`` ``reassoc``, so that they vectorise; still
deterministic): results agree with it to float32 rounding, not bit for bit.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def window_inside(oy, ox, stride_h, stride_w, pad_top, pad_left, kernel_h, kernel_w, height,
                  width):
    """The taps of output pixel ``(oy, ox)`` that fall inside the ``height`` x ``width`` image.

    Returns ``(y0, ky0, ky1, x0, kx0, kx1)``: tap ``(ky, kx)`` reads input
    ``(y0 + ky, x0 + kx)``, and the taps ``ky0 <= ky < ky1``, ``kx0 <= kx < kx1``
    are those inside; the rest read zero padding and are skipped.
    """
    y0, x0 = oy * stride_h - pad_top, ox * stride_w - pad_left
    return (y0, max(0, -y0), min(kernel_h, height - y0),
            x0, max(0, -x0), min(kernel_w, width - x0))


@njit(cache=True)
def conv2d_forward_pixels(x, weight, bias, stride_h, stride_w, pad_top, pad_left, out_h, out_w,
                          depthwise):
    """x : (N, H, W, C); weight : (KH, KW, C, O), or (KH, KW, 1, C) when ``depthwise``;
    bias : (O,). Returns y : (N, out_h, out_w, O).

    ``pad_top`` and ``pad_left`` are the zero rows and columns before the image
    (TFLite's ``PaddingValues.height`` and ``.width``); the ones after need no
    argument, since a tap past the image is skipped like one before it.
    """
    batches, height, width, depth = x.shape
    kernel_h, kernel_w, _, out_channels = weight.shape
    y = np.empty((batches, out_h, out_w, out_channels), x.dtype)
    for b in range(batches):
        for oy in range(out_h):
            for ox in range(out_w):
                y0, ky0, ky1, x0, kx0, kx1 = window_inside(oy, ox, stride_h, stride_w, pad_top,
                                                           pad_left, kernel_h, kernel_w, height,
                                                           width)
                for o in range(out_channels):
                    y[b, oy, ox, o] = bias[o]
                for ky in range(ky0, ky1):
                    for kx in range(kx0, kx1):
                        iy, ix = y0 + ky, x0 + kx
                        if depthwise:
                            for o in range(out_channels):
                                y[b, oy, ox, o] += weight[ky, kx, 0, o] * x[b, iy, ix, o]
                        else:
                            for c in range(depth):
                                value = x[b, iy, ix, c]
                                for o in range(out_channels):
                                    y[b, oy, ox, o] += value * weight[ky, kx, c, o]
    return y


@njit(cache=True, fastmath={"reassoc"})
def conv2d_backward_pixels(x, dy, weight, stride_h, stride_w, pad_top, pad_left,
                           need_input_grad, depthwise):
    """x : (N, H, W, C), the forward's input; dy : (N, OH, OW, O); weight as in
    :func:`conv2d_forward_pixels`.

    Returns ``(dx, dw)``: dL/dx (N, H, W, C), all zeros unless
    ``need_input_grad``, and dL/dweight, ``weight``'s shape.
    """
    batches, height, width, depth = x.shape
    _, out_h, out_w, out_channels = dy.shape
    kernel_h, kernel_w = weight.shape[0], weight.shape[1]
    dx = np.zeros_like(x)
    grad = np.zeros(weight.shape, dy.dtype)
    example = np.empty(weight.shape, dy.dtype)  # one example's share of grad
    zero = np.zeros(1, dy.dtype)[0]  # a 0 of the gradient's float type
    for b in range(batches):
        example[:] = 0
        for oy in range(out_h):
            for ox in range(out_w):
                y0, ky0, ky1, x0, kx0, kx1 = window_inside(oy, ox, stride_h, stride_w, pad_top,
                                                           pad_left, kernel_h, kernel_w, height,
                                                           width)
                for ky in range(ky0, ky1):
                    for kx in range(kx0, kx1):
                        iy, ix = y0 + ky, x0 + kx
                        if depthwise:
                            for o in range(out_channels):
                                example[ky, kx, 0, o] += dy[b, oy, ox, o] * x[b, iy, ix, o]
                            if need_input_grad:
                                for o in range(out_channels):
                                    dx[b, iy, ix, o] += weight[ky, kx, 0, o] * dy[b, oy, ox, o]
                            continue
                        for c in range(depth):
                            value = x[b, iy, ix, c]
                            for o in range(out_channels):
                                example[ky, kx, c, o] += value * dy[b, oy, ox, o]
                            if need_input_grad:
                                total = zero
                                for o in range(out_channels):
                                    total += weight[ky, kx, c, o] * dy[b, oy, ox, o]
                                dx[b, iy, ix, c] += total
        grad += example
    return dx, grad
