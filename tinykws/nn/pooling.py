"""Pooling layers, NHWC, forward beside backward: max, average, and the global mean.

Windows and padding are TFLite's (:mod:`tinykws.padding`, as for
:class:`tinykws.nn.conv.Conv2D`): a ``KH`` x ``KW`` window moved by the
stride; ``VALID`` keeps windows wholly inside, ``SAME`` gives
``OH = ceil(H / stride)`` with the padding split TensorFlow's way. Padded
positions are *not* values: TFLite's ``MaxPool`` and ``AveragePool`` loop over
the part of each window inside the image only, so the maximum is over those
pixels and the average divides by their count (TensorFlow's float pooling
does the same). Both layers here therefore compute, per output position::

    max:     y = max over taps inside the image of x
    average: y = sum over taps inside the image of x / count(taps inside)

Backward: the average sends ``dy / count`` back to every pixel of the window;
the maximum sends ``dy`` to the one pixel that won (the first in scan order on
a tie, as ``argmax``). Overlapping windows add up.

:class:`GlobalAveragePool` is TFLite's MEAN over H and W (what Keras'
``GlobalAveragePooling2D`` becomes): ``y[n, c] = mean over (h, w) of x``.
"""

from __future__ import annotations

import numpy as np

from tinykws.nn.layers import Parameterless
from tinykws.padding import compute_padding_height_width


class _Pool2D(Parameterless):
    """What the two windowed poolings share: geometry, the taps, the spec."""

    kind = ""

    def __init__(self, pool: tuple[int, int], stride: tuple[int, int] | None = None,
                 padding: str = "VALID"):
        super().__init__()
        self.pool = tuple(pool)
        self.stride = tuple(stride) if stride is not None else self.pool  # Keras' default
        self.padding = padding
        self._cache = None

    def spec(self) -> dict:
        return {"type": self.kind, "pool": list(self.pool), "stride": list(self.stride),
                "padding": self.padding}

    def _geometry(self, h: int, w: int):
        """``(top, bottom, left, right, out_h, out_w)`` of an ``h`` x ``w`` input."""
        pad, oh, ow = compute_padding_height_width(self.padding, *self.stride, 1, 1, h, w,
                                                   *self.pool)
        return (pad.height, pad.height + pad.height_offset, pad.width,
                pad.width + pad.width_offset, oh, ow)

    def output_shape(self, input_shape):
        *_, oh, ow = self._geometry(*input_shape[:2])
        return oh, ow, input_shape[2]

    def _taps(self, padded: np.ndarray, oh: int, ow: int):
        """Each tap's ``(rows, columns)`` slices of the padded input, ``KH * KW`` of them."""
        sh, sw = self.stride
        for ky in range(self.pool[0]):
            for kx in range(self.pool[1]):
                yield (slice(None), slice(ky, ky + (oh - 1) * sh + 1, sh),
                       slice(kx, kx + (ow - 1) * sw + 1, sw))

    def _pad(self, x: np.ndarray, value: float):
        top, bottom, left, right, oh, ow = self._geometry(*x.shape[1:3])
        padded = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)),
                        constant_values=value)  # (N, H+, W+, C)
        return padded, (top, bottom, left, right), oh, ow

    def _crop(self, dpadded: np.ndarray, pads) -> np.ndarray:
        top, bottom, left, right = pads
        h, w = dpadded.shape[1] - top - bottom, dpadded.shape[2] - left - right
        return dpadded[:, top:top + h, left:left + w]


class MaxPool2D(_Pool2D):
    """Maximum over each window's pixels inside the image (``MAX_POOL_2D``)."""

    kind = "max_pool2d"

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        padded, pads, oh, ow = self._pad(x, -np.inf)  # -inf never wins
        taps = list(self._taps(padded, oh, ow))
        stacked = np.stack([padded[t] for t in taps])  # (KH*KW, N, OH, OW, C)
        winner = stacked.argmax(axis=0)  # (N, OH, OW, C): first maximum
        self._cache = (padded.shape, pads, taps, winner)
        return np.take_along_axis(stacked, winner[None], axis=0)[0]

    def backward(self, dy: np.ndarray, need_input_grad: bool = True) -> np.ndarray:
        padded_shape, pads, taps, winner = self._cache
        dpadded = np.zeros(padded_shape, dy.dtype)
        for i, t in enumerate(taps):
            dpadded[t] += np.where(winner == i, dy, 0)
        return self._crop(dpadded, pads)


class AveragePool2D(_Pool2D):
    """Mean over each window's pixels inside the image (``AVERAGE_POOL_2D``)."""

    kind = "average_pool2d"

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        if self._tiles(x.shape):
            return self._forward_tiles(x)
        padded, pads, oh, ow = self._pad(x, 0)
        inside, _, _, _ = self._pad(np.ones((1,) + x.shape[1:3] + (1,), x.dtype), 0)
        taps = list(self._taps(padded, oh, ow))
        count = sum(inside[t] for t in taps)  # (1, OH, OW, 1): pixels inside each window
        self._cache = (padded.shape, pads, taps, count)
        return sum(padded[t] for t in taps) / count  # (N, OH, OW, C)

    def _tiles(self, x_shape) -> bool:
        """Whether the windows tile the input without padding (stride = pool, VALID; DS-CNN's
        one window over the whole map): then every window holds ``KH * KW`` pixels and one
        reshaped sum replaces the ``KH * KW`` slices."""
        top, bottom, left, right, _, _ = self._geometry(*x_shape[1:3])
        return self.stride == self.pool and top == bottom == left == right == 0

    def _forward_tiles(self, x: np.ndarray) -> np.ndarray:
        n, h, w, c = x.shape
        (ph, pw), (_, _, _, _, oh, ow) = self.pool, self._geometry(h, w)
        windows = x[:, :oh * ph, :ow * pw].reshape(n, oh, ph, ow, pw, c)
        self._cache = ("tiles", x.shape)
        return windows.sum(axis=(2, 4)) / np.asarray(ph * pw, x.dtype)  # (N, OH, OW, C)

    def backward(self, dy: np.ndarray, need_input_grad: bool = True) -> np.ndarray:
        if self._cache[0] == "tiles":  # each window's pixels receive dy / (KH * KW)
            (n, h, w, c), (ph, pw) = self._cache[1], self.pool
            oh, ow = dy.shape[1:3]
            dx = np.zeros((n, h, w, c), dy.dtype)  # pixels past the last window get nothing
            share = (dy / np.asarray(ph * pw, dy.dtype))[:, :, None, :, None, :]
            dx[:, :oh * ph, :ow * pw] = np.broadcast_to(
                share, (n, oh, ph, ow, pw, c)).reshape(n, oh * ph, ow * pw, c)
            return dx
        padded_shape, pads, taps, count = self._cache
        share = dy / count  # what each pixel of a window receives
        dpadded = np.zeros(padded_shape, dy.dtype)
        for t in taps:
            dpadded[t] += share
        return self._crop(dpadded, pads)


class GlobalAveragePool(Parameterless):
    """``(N, H, W, C) -> (N, C)``, the mean over H and W (TFLite's MEAN over axes 1, 2).

    ``keep_dims`` keeps the pooled axes as size 1: ``(N, 1, 1, C)``.
    """

    def __init__(self, keep_dims: bool = False):
        super().__init__()
        self.keep_dims = keep_dims
        self._shape = None

    def spec(self) -> dict:
        return {"type": "global_average_pool", "keep_dims": self.keep_dims}

    def output_shape(self, input_shape):
        return (1, 1, input_shape[2]) if self.keep_dims else (input_shape[2],)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._shape = x.shape
        return x.mean(axis=(1, 2), keepdims=self.keep_dims)

    def backward(self, dy: np.ndarray, need_input_grad: bool = True) -> np.ndarray:
        n, h, w, c = self._shape
        return np.broadcast_to(dy.reshape(n, 1, 1, c) / (h * w), self._shape).copy()
