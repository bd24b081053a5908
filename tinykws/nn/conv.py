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

That is the **im2col path**, the reference (``numba=False``), and what
grouped convolutions other than depthwise ones run. Otherwise a layer takes
the fast path made for its shape, each computing the same sums without
writing the im2col matrix, which for these layers costs more than the
product itself:

- **stride-phase path**, an ungrouped layer with a kernel larger than 1x1 on
  one input channel (TinyConv's): ``y`` and ``dw`` from the Numba kernels of
  :mod:`kernels.float_conv`; ``dx`` is col2im. With more input channels (and
  no pixel path) im2col's rows are long and BLAS wins: a TC-ResNet8 training
  step, batch 100, took 175 ms on the stride-phase path and 15 ms on im2col,
  so those layers keep im2col unless ``numba=True`` asks for the kernels;
- **pixel path**, an ungrouped layer with many filters and few output pixels
  on more than one input channel: ``y``, ``dw`` and ``dx`` from the pixel
  kernels of :mod:`kernels.float_conv_pixels`, one multiply-add over the output
  channels per tap and input channel. Measured (one core, batch 100, DS-CNN's
  first layer on 49 x 10 MFCCs: 64 filters, 25 x 5 outputs): twice the
  stride-phase kernels' speed, equal at 25 x 20 outputs, slower with 8 or 16
  filters (TinyConv's) or with 500 outputs and 64 input channels, where the
  stride-phase rows are long; hence :data:`PIXEL_PATH_MIN_FILTERS` and
  :data:`PIXEL_PATH_MAX_OUTPUTS`. On one input channel, though, such a layer
  (DS-CNN's first) takes im2col: its rows are only the 40 taps, and the one
  product ``(N*OH*OW, 40) @ (40, 64)`` took 1.9 ms forward and 1.6 ms backward
  against the pixel kernels' 2.9 and 3.0 (both load-bound: one multiply-add
  per output channel and tap reads and writes the output);
- **pointwise path**, an ungrouped 1x1 kernel (DS-CNN's pointwise layers):
  no window, so no im2col: the pixels the filter reads (every stride-th) are
  already the rows of a matrix, ``rows = x[:, ::sh, ::sw, :].reshape(-1, C)``,
  and ``y = rows @ w.T``, ``dw = dy.T @ rows``, ``dx = dy @ w`` are one large
  matrix product each over ``N*OH*OW`` rows (BLAS; large products run near
  peak in any BLAS build, unlike the thin per-group ones of im2col);
- **depthwise path**, ``groups == in_channels`` (DS-CNN's 3x3 layers): the
  same pixel kernels in their depthwise form, one multiply-add over the
  channel axis per tap.

The results agree to float32 rounding. Each path saves its own named cache
for backward (:class:`Im2colCache`, :class:`StridePhaseCache`,
:class:`PixelCache`, :class:`PointwiseCache`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from kernels.float_channel_sums import channel_sums
from kernels.float_conv import conv2d_forward, conv2d_weight_grad
from kernels.float_conv_pixels import conv2d_backward_pixels, conv2d_forward_pixels
from tinykws.padding import PaddingValues, compute_padding_height_width

PIXEL_PATH_MIN_FILTERS = 32  # the pixel path: at least this many filters ...
PIXEL_PATH_MAX_OUTPUTS = 256  # ... and at most this many output pixels per example


class Geometry(NamedTuple):
    """Where a forward pass put the input: what col2im needs to scatter ``dx`` back."""

    x_shape: tuple[int, int, int, int]  # (N, H, W, C)
    top: int  # zero rows above, below; zero columns left, right
    bottom: int
    left: int
    right: int
    out_h: int
    out_w: int

    @property
    def padded_shape(self) -> tuple[int, int, int, int]:
        n, h, w, c = self.x_shape
        return n, h + self.top + self.bottom, w + self.left + self.right, c

    @property
    def padding_values(self) -> PaddingValues:
        """The same padding as TFLite's ``PaddingValues`` (the extra row or column is the offset)."""
        return PaddingValues(width=self.left, height=self.top, width_offset=self.right - self.left,
                             height_offset=self.bottom - self.top)


class Im2colCache(NamedTuple):
    """What the im2col path's backward reads."""

    geometry: Geometry
    group_cols: list[np.ndarray]  # per group, (N*OH*OW, KH*KW*C/G): the receptive fields
    weight: np.ndarray  # (G, O/G, KH*KW*C/G), the effective weights


class StridePhaseCache(NamedTuple):
    """What the stride-phase path's backward reads: the input split by stride phase."""

    geometry: Geometry
    phases: np.ndarray  # (N, SH, SW, C, PH, PW), from kernels.float_conv.conv2d_forward
    weight: np.ndarray  # (1, O, KH*KW*C), the effective weights


class PixelCache(NamedTuple):
    """What the pixel and depthwise paths' backward reads: the input and the filters, output
    channel last."""

    geometry: Geometry
    x: np.ndarray  # (N, H, W, C); depthwise: each channel repeated O / C times, (N, H, W, O)
    weight: np.ndarray  # (KH, KW, C, O); depthwise (KH, KW, 1, O): the effective weights


class PointwiseCache(NamedTuple):
    """What the pointwise path's backward reads: the pixels the 1x1 filters read."""

    geometry: Geometry
    rows: np.ndarray  # (N*OH*OW, C): x[:, ::sh, ::sw, :] as a matrix
    weight: np.ndarray  # (O, C), the effective weights


Cache = Im2colCache | StridePhaseCache | PixelCache | PointwiseCache


class Conv2D:
    """Convolution layer with weight ``(O, KH, KW, C // groups)`` and bias ``(O,)``."""

    def __init__(self, in_channels: int, out_channels: int, kernel: tuple[int, int],
                 stride: tuple[int, int] = (1, 1), padding: str = "SAME", groups: int = 1,
                 numba: bool | None = None):
        if in_channels % groups or out_channels % groups:
            raise ValueError("groups must divide both in_channels and out_channels")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel, self.stride, self.padding, self.groups = tuple(kernel), tuple(stride), padding, groups
        self.numba = numba  # None: the fast path for the shape; True: always a Numba path
        self.path = self._path()
        kh, kw = self.kernel
        self.params = {"weight": np.zeros((out_channels, kh, kw, in_channels // groups), np.float32),
                       "bias": np.zeros(out_channels, np.float32)}
        self.grads: dict[str, np.ndarray] = {}
        self._cache: Cache | None = None
        # Quantization-aware training sets a FakeQuant here (tinykws.quant.qat):
        # the forward pass then uses the quantized weights and the gradient
        # reaches the float weights straight through it.
        self.weight_quant = None

    def _path(self, out_h: int | None = None, out_w: int | None = None) -> str:
        """Which computation this layer takes (see the module doc); an ungrouped layer's
        choice between the stride-phase and pixel paths depends on the output size."""
        if self.numba is False:
            return "im2col"
        if self.groups == 1:
            if self.kernel == (1, 1):
                return "pointwise"
            if (out_h is not None and self.out_channels >= PIXEL_PATH_MIN_FILTERS
                    and out_h * out_w <= PIXEL_PATH_MAX_OUTPUTS):
                # one input channel: im2col's rows are just the KH*KW taps, one BLAS product
                return "im2col" if self.in_channels == 1 and not self.numba else "pixels"
            return "stride_phase" if self.numba or self.in_channels == 1 else "im2col"
        return "depthwise" if self.groups == self.in_channels else "im2col"

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

    def _geometry(self, x_shape: tuple[int, int, int, int]) -> Geometry:
        pad, oh, ow = self._pads(*x_shape[1:3])
        return Geometry(tuple(x_shape), pad.height, pad.height + pad.height_offset,
                        pad.width, pad.width + pad.width_offset, oh, ow)

    def output_shape(self, input_shape: tuple[int, int, int]) -> tuple[int, int, int]:
        _, oh, ow = self._pads(*input_shape[:2])
        return oh, ow, self.out_channels

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.path = self._path(*self.output_shape(x.shape[1:])[:2])
        if self.path in ("pixels", "depthwise"):
            return self._forward_pixels(x)
        if self.path == "stride_phase":
            return self._forward_stride_phases(x)
        if self.path == "pointwise":
            return self._forward_pointwise(x)
        return self._forward_im2col(x)

    # -- the im2col path (reference) ---------------------------------------------------

    def _forward_im2col(self, x: np.ndarray) -> np.ndarray:
        """``y = cols @ w.T + b`` per group, BLAS doing the product."""
        geo = self._geometry(x.shape)
        n, oh, ow, c = x.shape[0], geo.out_h, geo.out_w, x.shape[3]
        kh, kw = self.kernel
        sh, sw = self.stride
        xp = np.pad(x, ((0, 0), (geo.top, geo.bottom), (geo.left, geo.right), (0, 0)))  # (N, H+, W+, C)
        st = xp.strides
        cols = np.lib.stride_tricks.as_strided(
            xp, shape=(n, oh, ow, kh, kw, c), strides=(st[0], st[1] * sh, st[2] * sw, st[1], st[2], st[3]),
            writeable=False)  # (N, OH, OW, KH, KW, C), a view
        g, cg, og = self.groups, c // self.groups, self.out_channels // self.groups
        cols = cols.reshape(n, oh, ow, kh, kw, g, cg)
        w = self.effective_weight().reshape(g, og, kh * kw * cg)  # (G, Og, K)
        y = np.empty((n, oh, ow, g, og), x.dtype)
        group_cols = []
        for gi in range(g):
            cols_g = np.ascontiguousarray(cols[..., gi, :]).reshape(n * oh * ow, kh * kw * cg)  # (M, K)
            y[..., gi, :] = (cols_g @ w[gi].T).reshape(n, oh, ow, og)
            group_cols.append(cols_g)
        self._cache = Im2colCache(geo, group_cols, w)
        return y.reshape(n, oh, ow, self.out_channels) + self.params["bias"]

    def _weight_grad_im2col(self, dy: np.ndarray, cache: Im2colCache) -> np.ndarray:
        """``dw = dy.T @ cols`` per group: (G, Og, K)."""
        g, og = self.groups, self.out_channels // self.groups
        dy_g = dy.reshape(-1, g, og)  # (M, G, Og)
        return np.stack([dy_g[:, gi, :].T @ cache.group_cols[gi] for gi in range(g)])

    # -- the stride-phase path (Numba) -------------------------------------------------

    def _forward_stride_phases(self, x: np.ndarray) -> np.ndarray:
        """``forward`` of an ungrouped layer by :func:`kernels.float_conv.conv2d_forward`."""
        geo = self._geometry(x.shape)
        weight = self.effective_weight()  # (O, KH, KW, C)
        y, phases = conv2d_forward(np.ascontiguousarray(x), np.ascontiguousarray(weight),
                                   self.params["bias"].astype(x.dtype), self.stride[0],
                                   self.stride[1], geo.padding_values, geo.out_h,
                                   geo.out_w)  # (N, OH, OW, O)
        self._cache = StridePhaseCache(geo, phases, weight.reshape(1, self.out_channels, -1))
        return y

    def _weight_grad_stride_phases(self, dy: np.ndarray, cache: StridePhaseCache) -> np.ndarray:
        """``dw`` by :func:`kernels.float_conv.conv2d_weight_grad`: (O, KH, KW, C)."""
        return conv2d_weight_grad(cache.phases, np.ascontiguousarray(dy), *self.kernel)

    # -- the pixel and depthwise paths (Numba) ---------------------------------------

    def _forward_pixels(self, x: np.ndarray) -> np.ndarray:
        """``forward`` by :func:`kernels.float_conv_pixels.conv2d_forward_pixels`, for the pixel
        and depthwise paths."""
        geo = self._geometry(x.shape)
        depthwise = self.path == "depthwise"
        multiplier = self.out_channels // self.in_channels
        if depthwise and multiplier > 1:  # output channel o reads input channel o // multiplier
            x = np.repeat(x, multiplier, axis=3)
        x = np.ascontiguousarray(x)
        weight = np.ascontiguousarray(self.effective_weight().transpose(1, 2, 3, 0),
                                      x.dtype)  # (KH, KW, C // groups, O)
        y = conv2d_forward_pixels(x, weight, self.params["bias"].astype(x.dtype), *self.stride,
                                  geo.top, geo.left, geo.out_h, geo.out_w,
                                  depthwise)  # (N, OH, OW, O)
        self._cache = PixelCache(geo, x, weight)
        return y

    def _backward_pixels(self, dy: np.ndarray, cache: PixelCache,
                         need_input_grad: bool) -> tuple[np.ndarray | None, np.ndarray]:
        """``(dx or None, dw)`` by :func:`kernels.float_conv_pixels.conv2d_backward_pixels`; a
        depthwise layer's repeated channels' shares summed back onto the channel they copied."""
        geo = cache.geometry
        depthwise = self.path == "depthwise"
        dx, grad = conv2d_backward_pixels(cache.x, dy, cache.weight, *self.stride, geo.top,
                                          geo.left, need_input_grad, depthwise)
        multiplier = self.out_channels // self.in_channels
        if depthwise and multiplier > 1:
            dx = dx.reshape(*geo.x_shape, multiplier).sum(axis=4)
        return (dx if need_input_grad else None), grad.transpose(3, 0, 1, 2)  # (O, KH, KW, C/G)

    # -- the pointwise path (one matrix product) ------------------------------------------

    def _forward_pointwise(self, x: np.ndarray) -> np.ndarray:
        """``y = rows @ w.T + b`` for a 1x1 kernel, which never pads (either padding)."""
        geo = self._geometry(x.shape)
        sh, sw = self.stride
        n, c = x.shape[0], x.shape[3]
        rows = np.ascontiguousarray(x[:, ::sh, ::sw, :]).reshape(-1, c)  # (N*OH*OW, C)
        weight = self.effective_weight().reshape(self.out_channels, c)  # (O, C)
        y = rows @ weight.T  # (N*OH*OW, O)
        y += self.params["bias"]
        self._cache = PointwiseCache(geo, rows, weight)
        return y.reshape(n, geo.out_h, geo.out_w, self.out_channels)

    def _input_grad_pointwise(self, dy: np.ndarray, cache: PointwiseCache) -> np.ndarray:
        """``dx``: ``dy @ w`` onto the pixels read, zero on the ones a stride skipped."""
        geo, (sh, sw) = cache.geometry, self.stride
        n, h, w, c = geo.x_shape
        drows = (dy.reshape(-1, self.out_channels) @ cache.weight).reshape(
            n, geo.out_h, geo.out_w, c)  # (N, OH, OW, C)
        if (sh, sw) == (1, 1):
            return drows
        dx = np.zeros(geo.x_shape, dy.dtype)
        dx[:, ::sh, ::sw, :] = drows
        return dx

    # -- backward, every path ------------------------------------------------------------

    def backward(self, dy: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        """Fill ``grads``; return ``dx`` unless the caller (a first layer) needs none."""
        dy = np.ascontiguousarray(dy)
        dx, dweight = self._gradients(dy, self._cache, need_input_grad)
        dweight = dweight.reshape(self.params["weight"].shape)
        if self.weight_quant is not None:
            dweight = self.weight_quant.backward(dweight)
        self.grads = {"weight": dweight,
                      "bias": channel_sums(dy.reshape(-1, self.out_channels))}  # (O,)
        return dx

    def _gradients(self, dy: np.ndarray, cache: Cache,
                   need_input_grad: bool) -> tuple[np.ndarray | None, np.ndarray]:
        """``(dx or None, dw)`` by the path the forward pass took."""
        if self.path in ("pixels", "depthwise"):
            return self._backward_pixels(dy, cache, need_input_grad)
        if self.path == "pointwise":
            dweight = dy.reshape(-1, self.out_channels).T @ cache.rows  # (O, C)
            return (self._input_grad_pointwise(dy, cache) if need_input_grad else None), dweight
        if self.path == "stride_phase":
            dweight = self._weight_grad_stride_phases(dy, cache)
        else:
            dweight = self._weight_grad_im2col(dy, cache)
        dx = self._input_grad(dy, cache.geometry, cache.weight) if need_input_grad else None
        return dx, dweight

    def _input_grad(self, dy: np.ndarray, geo: Geometry, weight: np.ndarray) -> np.ndarray:
        """``dx``: ``dcols = dy @ w`` per group, scattered back onto the input (col2im)."""
        n, h, w_, c = geo.x_shape
        oh, ow = geo.out_h, geo.out_w
        kh, kw = self.kernel
        sh, sw = self.stride
        g, cg, og = self.groups, c // self.groups, self.out_channels // self.groups
        dy_g = dy.reshape(n * oh * ow, g, og)  # (M, G, Og)
        dcols = np.empty((n, oh, ow, kh, kw, g, cg), dy.dtype)
        for gi in range(g):
            dcols[..., gi, :] = (dy_g[:, gi, :] @ weight[gi]).reshape(n, oh, ow, kh, kw, cg)
        dcols = dcols.reshape(n, oh, ow, kh, kw, c)
        dxp = np.zeros(geo.padded_shape, dy.dtype)  # col2im: each kernel tap adds its slice
        for i in range(kh):
            for j in range(kw):
                dxp[:, i:i + sh * oh:sh, j:j + sw * ow:sw, :] += dcols[:, :, :, i, j, :]
        return dxp[:, geo.top:geo.top + h, geo.left:geo.left + w_, :]
