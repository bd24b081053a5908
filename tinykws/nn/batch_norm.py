"""Batch normalisation over the channel axis, forward beside backward, and its folding.

For activations ``x`` of shape ``(N, H, W, C)`` (or ``(N, C)``) every channel
``c`` is normalised over the ``m`` values it has in the batch (all axes but
the last), then scaled and shifted by the learned ``gamma`` and ``beta``
(Ioffe & Szegedy, 2015)::

    mu  = mean(x[..., c])                var = mean((x[..., c] - mu) ** 2)
    x^  = (x - mu) / sqrt(var + eps)     y   = gamma * x^ + beta

In training the batch's ``mu`` and (biased) ``var`` are used, and the moving
averages that inference uses are updated as Keras' ``BatchNormalization``
does: ``moving = momentum * moving + (1 - momentum) * batch``, momentum 0.99
and eps 1e-3 by default (Keras' defaults). The moving statistics are not
learned, so they live in ``state``, not in ``params`` (an optimizer never
sees them).

Backward in training differentiates through ``mu`` and ``var`` too; with
``g = dy * gamma``::

    dx = (m * g - sum(g) - x^ * sum(g * x^)) / (m * sqrt(var + eps))

In training both passes run as the Numba kernels of
:mod:`kernels.float_batch_norm` (a few passes over the activations instead of
a NumPy temporary per operator); ``numba=False`` keeps the NumPy code here,
the reference they agree with to float32 rounding.

In inference the layer is a fixed per-channel affine map, which is why it can
be folded into the convolution before it (:func:`fold_into_conv`) and
TFLite never sees it.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from kernels.float_batch_norm import batch_norm_backward, batch_norm_forward
from tinykws.nn.conv import Conv2D


class FusedCache(NamedTuple):
    """What the Numba kernels' backward reads (x^ is recomputed from x)."""

    x: np.ndarray  # (m, C), the input
    y: np.ndarray  # (m, C), the output (after the fused ReLU, if any)
    mean: np.ndarray  # (C,) float64
    inv_std: np.ndarray  # (C,) of x's dtype
    relu: bool  # whether a ReLU was fused


class BatchNorm:
    """Per-channel batch normalisation with ``gamma``, ``beta`` and moving statistics."""

    def __init__(self, channels: int, momentum: float = 0.99, epsilon: float = 1e-3,
                 numba: bool = True):
        self.channels, self.momentum, self.epsilon = channels, momentum, epsilon
        self.numba = numba  # training passes by kernels.float_batch_norm
        self.params = {"gamma": np.ones(channels, np.float32),
                       "beta": np.zeros(channels, np.float32)}
        self.grads: dict[str, np.ndarray] = {}
        self.state = {"moving_mean": np.zeros(channels, np.float32),
                      "moving_variance": np.ones(channels, np.float32)}
        self._cache = None

    def spec(self) -> dict:
        return {"type": "batch_norm", "channels": self.channels, "momentum": self.momentum,
                "epsilon": self.epsilon}

    def output_shape(self, input_shape):
        return input_shape

    def forward(self, x: np.ndarray, training: bool = False, relu: bool = False) -> np.ndarray:
        """``relu``: apply the ReLU that follows too, ``max(y, 0)`` (training with the Numba
        kernels only: :meth:`tinykws.nn.model.Sequential.forward` fuses the pair so)."""
        axes = tuple(range(x.ndim - 1))  # every axis but the channel
        if training and self.numba:
            gamma, beta = (self.params[k].astype(x.dtype) for k in ("gamma", "beta"))
            rows = np.ascontiguousarray(x).reshape(-1, self.channels)  # (m, C)
            y, mean, var, inv_std = batch_norm_forward(rows, gamma, beta, self.epsilon, relu)
            self._move_statistics(mean, var)
            self._cache = FusedCache(rows, y, mean, inv_std, relu)
            return y.reshape(x.shape)
        if relu:
            raise ValueError("a fused ReLU needs training mode and the Numba kernels")
        if training:
            mean = x.mean(axis=axes)  # (C,)
            var = x.var(axis=axes)  # (C,), biased: divides by m
            self._move_statistics(mean, var)
        else:
            mean, var = self.state["moving_mean"], self.state["moving_variance"]
        inv_std = (1.0 / np.sqrt(var + self.epsilon)).astype(x.dtype)  # (C,)
        x_hat = (x - mean.astype(x.dtype)) * inv_std  # (N, ..., C)
        self._cache = (x_hat, inv_std, training)
        return self.params["gamma"] * x_hat + self.params["beta"]

    def _move_statistics(self, mean: np.ndarray, var: np.ndarray) -> None:
        for name, batch in (("moving_mean", mean), ("moving_variance", var)):
            moving = self.state[name]
            moving[...] = self.momentum * moving + (1 - self.momentum) * batch

    def backward(self, dy: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        if isinstance(self._cache, FusedCache):
            c = self._cache
            dx, dgamma, dbeta = batch_norm_backward(
                np.ascontiguousarray(dy).reshape(-1, self.channels), c.x, c.y,
                self.params["gamma"].astype(dy.dtype), c.mean, c.inv_std, need_input_grad,
                c.relu)
            self.grads = {"gamma": dgamma, "beta": dbeta}
            return dx.reshape(dy.shape) if need_input_grad else None
        x_hat, inv_std, training = self._cache
        axes = tuple(range(dy.ndim - 1))
        self.grads = {"gamma": (dy * x_hat).sum(axis=axes), "beta": dy.sum(axis=axes)}
        if not need_input_grad:
            return None
        g = dy * self.params["gamma"]  # dL/dx^
        if not training:  # fixed statistics: x^ is affine in x
            return g * inv_std
        m = dy.size // dy.shape[-1]
        return (m * g - g.sum(axis=axes) - x_hat * (g * x_hat).sum(axis=axes)) * (inv_std / m)

    def scale_and_shift(self) -> tuple[np.ndarray, np.ndarray]:
        """The inference map as ``y = scale * x + shift``: two (C,) float64 arrays."""
        scale = self.params["gamma"].astype(np.float64) / np.sqrt(
            self.state["moving_variance"].astype(np.float64) + self.epsilon)
        shift = self.params["beta"] - scale * self.state["moving_mean"]
        return scale, shift


def fold_into_conv(conv: Conv2D, bn: BatchNorm) -> Conv2D:
    """A new :class:`Conv2D` computing ``bn(conv(x))`` at inference, for export.

    Output channel ``o`` of the convolution is multiplied by ``scale[o]``, so
    its weights (``(O, KH, KW, C // groups)``: axis 0 is the output channel for
    ordinary and depthwise convolutions alike) are, and its bias becomes
    ``scale * bias + shift``. Computed in float64, stored in float32.
    """
    if bn.channels != conv.out_channels:
        raise ValueError(f"batch norm has {bn.channels} channels, the convolution "
                         f"{conv.out_channels} outputs")
    scale, shift = bn.scale_and_shift()
    folded = Conv2D(conv.in_channels, conv.out_channels, conv.kernel, conv.stride, conv.padding,
                    conv.groups, conv.numba)
    weight = conv.params["weight"].astype(np.float64) * scale[:, None, None, None]
    folded.params["weight"][...] = weight
    folded.params["bias"][...] = scale * conv.params["bias"] + shift
    return folded


def fold_batch_norms(layers: list) -> list:
    """``layers`` with every :class:`BatchNorm` folded into the :class:`Conv2D` just before it.

    What export sees: the same inference function, one layer fewer per batch
    norm. A batch norm after anything else is refused (ValueError): it would
    have no convolution to live in.
    """
    folded: list = []
    for layer in layers:
        if not isinstance(layer, BatchNorm):
            folded.append(layer)
        elif folded and isinstance(folded[-1], Conv2D):
            folded[-1] = fold_into_conv(folded[-1], layer)
        else:
            before = type(folded[-1]).__name__ if folded else "nothing"
            raise ValueError(f"a batch norm after {before} cannot be folded (needs a Conv2D)")
    return folded
