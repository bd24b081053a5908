"""2-D convolution, NHWC, forward and backward side by side.

Shapes (TFLite's layouts, so export needs no transposition):

- input ``x``: ``(N, H, W, C)``
- weight ``w``: ``(O, KH, KW, C // groups)`` — CONV_2D's OHWI layout
- bias ``b``: ``(O,)``
- output ``y``: ``(N, OH, OW, O)``

``groups`` splits the input and output channels into that many independent
convolutions; ``groups == C`` (one input channel each) is a depthwise
convolution, so one class serves both.

Padding is TensorFlow's and TFLite's, from :mod:`tinykws.padding`: ``VALID``
uses none, ``OH = (H - KH) // stride + 1``; ``SAME`` gives ``OH = ceil(H / stride)``
and pads ``total = max((OH - 1) * stride + KH - H, 0)`` rows, ``total // 2``
before and the rest after (an odd total puts the extra row at the bottom/right).

The computation is im2col: every receptive field becomes a row of a matrix,
so the convolution is one matrix product per group (BLAS does the work):
``y = cols @ w.T``. Backward is the chain rule through that product:
``dw = dy.T @ cols``, ``dcols = dy @ w``, and ``dx`` scatters ``dcols``
back onto the input positions each row came from (col2im).

That is the reference, and what grouped convolutions run. An ungrouped
layer (TinyConv's) computes ``y`` and ``dw`` with the Numba kernels of
:mod:`kernels.float_conv` instead: the same sums without writing the im2col
matrix, which for TinyConv costs more than the product itself. The results
agree to float32 rounding; ``numba=False`` keeps the reference path.
"""

from __future__ import annotations

import numpy as np

from kernels.float_conv import conv2d_forward, conv2d_weight_grad
from tinykws.padding import PaddingValues, compute_padding_height_width


class Conv2D:
    """Convolution layer with weight ``(O, KH, KW, C // groups)`` and bias ``(O,)``."""

    def __init__(self, in_channels: int, out_channels: int, kernel: tuple[int, int],
                 stride: tuple[int, int] = (1, 1), padding: str = "SAME", groups: int = 1,
                 numba: bool = True):
        if in_channels % groups or out_channels % groups:
            raise ValueError("groups must divide both in_channels and out_channels")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel, self.stride, self.padding, self.groups = tuple(kernel), tuple(stride), padding, groups
        self.numba = numba and groups == 1  # the kernels of kernels.float_conv (see module doc)
        kh, kw = self.kernel
        self.params = {"weight": np.zeros((out_channels, kh, kw, in_channels // groups), np.float32),
                       "bias": np.zeros(out_channels, np.float32)}
        self.grads: dict[str, np.ndarray] = {}
        self._cache = None
        # Quantization-aware training sets a FakeQuant here (tinykws.quant.qat):
        # the forward pass then uses the quantized weights and the gradient
        # reaches the float weights straight through it.
        self.weight_quant = None

    def effective_weight(self) -> np.ndarray:
        """The weights the forward pass multiplies by: fake-quantized during QAT."""
        w = self.params["weight"]
        return w if self.weight_quant is None else self.weight_quant.forward(w)

    def spec(self) -> dict:
        return {"type": "conv2d", "in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel": list(self.kernel), "stride": list(self.stride), "padding": self.padding,
                "groups": self.groups}

    def _pads(self, h: int, w: int) -> tuple[PaddingValues, int, int]:
        """``(padding_values, out_height, out_width)`` of an ``h`` x ``w`` input."""
        return compute_padding_height_width(self.padding, *self.stride, 1, 1, h, w, *self.kernel)

    def output_shape(self, input_shape: tuple[int, int, int]) -> tuple[int, int, int]:
        _, oh, ow = self._pads(*input_shape[:2])
        return oh, ow, self.out_channels

    def _im2col(self, x: np.ndarray):
        n, h, w, c = x.shape
        kh, kw = self.kernel
        sh, sw = self.stride
        pad, oh, ow = self._pads(h, w)
        top, left = pad.height, pad.width
        xp = np.pad(x, ((0, 0), (top, top + pad.height_offset), (left, left + pad.width_offset),
                        (0, 0)))  # (N, H+, W+, C)
        s = xp.strides
        cols = np.lib.stride_tricks.as_strided(
            xp, shape=(n, oh, ow, kh, kw, c), strides=(s[0], s[1] * sh, s[2] * sw, s[1], s[2], s[3]),
            writeable=False)  # (N, OH, OW, KH, KW, C), a view
        return cols, xp.shape, (top, left)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        if self.numba:
            return self._forward_numba(x)
        n = x.shape[0]
        cols, padded_shape, offset = self._im2col(x)
        _, oh, ow, kh, kw, c = cols.shape
        g, cg, og = self.groups, c // self.groups, self.out_channels // self.groups
        cols = cols.reshape(n, oh, ow, kh, kw, g, cg)
        w = self.effective_weight().reshape(g, og, kh * kw * cg)  # (G, Og, K)
        y = np.empty((n, oh, ow, g, og), x.dtype)
        group_cols = []
        for gi in range(g):
            cols_g = np.ascontiguousarray(cols[..., gi, :]).reshape(n * oh * ow, kh * kw * cg)  # (M, K)
            y[..., gi, :] = (cols_g @ w[gi].T).reshape(n, oh, ow, og)
            group_cols.append(cols_g)
        self._cache = (group_cols, x.shape, padded_shape, offset, (oh, ow), w)
        return y.reshape(n, oh, ow, self.out_channels) + self.params["bias"]

    def _forward_numba(self, x: np.ndarray) -> np.ndarray:
        """``forward`` of an ungrouped layer by :func:`kernels.float_conv.conv2d_forward`."""
        pad, oh, ow = self._pads(x.shape[1], x.shape[2])
        top, left = pad.height, pad.width
        weight = self.effective_weight()  # (O, KH, KW, C)
        y, phases = conv2d_forward(np.ascontiguousarray(x), np.ascontiguousarray(weight),
                                   self.params["bias"].astype(x.dtype), self.stride[0],
                                   self.stride[1], pad, oh, ow)  # y: (N, OH, OW, O)
        n, h, w, c = x.shape
        padded_shape = (n, h + 2 * top + pad.height_offset, w + 2 * left + pad.width_offset, c)
        # The cache backward reads: the input's stride phases stand in for the im2col matrix.
        self._cache = (phases, x.shape, padded_shape, (top, left), (oh, ow),
                       weight.reshape(1, self.out_channels, -1))
        return y

    def backward(self, dy: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        """Fill ``grads``; return ``dx`` unless the caller (a first layer) needs none."""
        # saved: the im2col matrix of each group, or with numba the input's stride phases.
        saved, x_shape, padded_shape, (top, left), (oh, ow), weight = self._cache
        n, h, w_, c = x_shape
        kh, kw = self.kernel
        sh, sw = self.stride
        g, cg, og = self.groups, c // self.groups, self.out_channels // self.groups
        dy_g = dy.reshape(n * oh * ow, g, og)  # (M, G, Og)
        if self.numba:
            dweight = conv2d_weight_grad(saved, np.ascontiguousarray(dy), kh, kw)
        else:
            dweight = np.empty_like(weight)
            for gi in range(g):
                dweight[gi] = dy_g[:, gi, :].T @ saved[gi]  # (Og, K)
        dweight = dweight.reshape(self.params["weight"].shape)
        if self.weight_quant is not None:
            dweight = self.weight_quant.backward(dweight)
        self.grads = {"weight": dweight,
                      "bias": dy.sum(axis=(0, 1, 2))}
        if not need_input_grad:
            return None
        dcols = np.empty((n, oh, ow, kh, kw, g, cg), dy.dtype)
        for gi in range(g):
            dcols[..., gi, :] = (dy_g[:, gi, :] @ weight[gi]).reshape(n, oh, ow, kh, kw, cg)
        dcols = dcols.reshape(n, oh, ow, kh, kw, c)
        dxp = np.zeros(padded_shape, dy.dtype)  # col2im: each kernel tap adds its slice
        for i in range(kh):
            for j in range(kw):
                dxp[:, i:i + sh * oh:sh, j:j + sw * ow:sw, :] += dcols[:, :, :, i, j, :]
        return dxp[:, top:top + h, left:left + w_, :]
