"""The small layers of TinyConv: Dense, ReLU, Dropout, Flatten; forward beside backward.

Each layer keeps what its backward pass needs from the forward pass, and
``backward(dy)`` returns ``dx`` (and fills ``grads`` where there are
parameters). Shapes: ``N`` is the batch.
"""

from __future__ import annotations

import numpy as np


class Dense:
    """``y = x @ W.T + b`` with ``W: (out, in)`` (TFLite FULLY_CONNECTED's layout)."""

    def __init__(self, in_features: int, out_features: int):
        self.in_features, self.out_features = in_features, out_features
        self.params = {"weight": np.zeros((out_features, in_features), np.float32),
                       "bias": np.zeros(out_features, np.float32)}
        self.grads: dict[str, np.ndarray] = {}
        self._x = None
        self.weight_quant = None  # a FakeQuant during quantization-aware training
        self._w = None

    def effective_weight(self) -> np.ndarray:
        """The weights the forward pass multiplies by: fake-quantized during QAT."""
        w = self.params["weight"]
        return w if self.weight_quant is None else self.weight_quant.forward(w)

    def spec(self) -> dict:
        return {"type": "dense", "in_features": self.in_features, "out_features": self.out_features}

    def output_shape(self, input_shape):
        return (self.out_features,)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._x = x  # (N, in)
        self._w = self.effective_weight()  # (out, in)
        return x @ self._w.T + self.params["bias"]  # (N, out)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        # dL/dW = dy^T x, dL/db = sum dy, dL/dx = dy W
        dw = dy.T @ self._x
        if self.weight_quant is not None:
            dw = self.weight_quant.backward(dw)
        self.grads = {"weight": dw, "bias": dy.sum(axis=0)}
        return dy @ self._w


class ReLU:
    """``max(x, 0)``; the gradient passes where the input was positive."""

    params: dict = {}
    grads: dict = {}

    def spec(self) -> dict:
        return {"type": "relu"}

    def output_shape(self, input_shape):
        return input_shape

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._mask = x > 0
        return np.maximum(x, 0)  # keeps x's dtype (0 is a Python scalar)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy * self._mask


class Dropout:
    """Inverted dropout: in training keep each unit with ``1 - rate``, scaled by ``1/(1 - rate)``.

    The scaling makes the expected activation equal in training and inference,
    so inference is the identity. Randomness comes from the ``rng`` set on the
    layer by the training loop (one explicit generator for the whole run).
    """

    params: dict = {}
    grads: dict = {}

    def __init__(self, rate: float = 0.5):
        self.rate = rate
        self.rng: np.random.Generator | None = None
        self._mask = None

    def spec(self) -> dict:
        return {"type": "dropout", "rate": self.rate}

    def output_shape(self, input_shape):
        return input_shape

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        if not training or self.rate == 0:
            self._mask = None
            return x
        keep = 1.0 - self.rate
        self._mask = (self.rng.random(x.shape) < keep).astype(x.dtype) / np.asarray(keep, x.dtype)
        return x * self._mask

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy if self._mask is None else dy * self._mask


class Flatten:
    """``(N, H, W, C) -> (N, H*W*C)`` in NHWC order, as TFLite's RESHAPE lays it out."""

    params: dict = {}
    grads: dict = {}

    def spec(self) -> dict:
        return {"type": "flatten"}

    def output_shape(self, input_shape):
        return (int(np.prod(input_shape)),)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy.reshape(self._shape)
