"""The small layers of TinyConv: Dense, ReLU, Dropout, Flatten; forward beside backward.

The protocol every layer follows (these, :class:`tinykws.nn.conv.Conv2D`,
and the quantizers of :mod:`tinykws.quant`):

- ``params`` / ``grads``: the layer's own dicts of arrays (empty when there is
  nothing to learn), made per instance in ``__init__``;
- ``forward(x, training=False)`` keeps what the backward pass needs;
- ``backward(dy, need_input_grad=True)`` fills ``grads`` and returns ``dx``,
  or None when the caller needs no ``dx`` (the model's first trainable layer);
- ``spec()`` (plain data to rebuild it) and ``output_shape(input_shape)``.

Shapes: ``N`` is the batch.
"""

from __future__ import annotations

import numpy as np

from kernels.float_dropout import dropout_backward, dropout_forward, keep_threshold
from kernels.float_relu import relu_backward, relu_forward


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

    def backward(self, dy: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        # dL/dW = dy^T x, dL/db = sum dy, dL/dx = dy W
        dw = dy.T @ self._x
        if self.weight_quant is not None:
            dw = self.weight_quant.backward(dw)
        self.grads = {"weight": dw, "bias": dy.sum(axis=0)}
        return dy @ self._w if need_input_grad else None


class Parameterless:
    """Base of the layers with nothing to learn: empty ``params`` and ``grads`` of their own."""

    def __init__(self):
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}

    def output_shape(self, input_shape):
        return input_shape


class ReLU(Parameterless):
    """``max(x, 0)``; the gradient passes where the input was positive.

    One pass each way by the kernels of :mod:`kernels.float_relu`, which keep
    the mask as a byte a unit.
    """

    def spec(self) -> dict:
        return {"type": "relu"}

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        y, self._keep = relu_forward(np.ascontiguousarray(x).reshape(-1))  # keeps x's dtype
        return y.reshape(x.shape)

    def backward(self, dy: np.ndarray, need_input_grad: bool = True) -> np.ndarray:
        return relu_backward(np.ascontiguousarray(dy).reshape(-1), self._keep).reshape(dy.shape)


class Dropout(Parameterless):
    """Inverted dropout: in training keep each unit with ``1 - rate``, scaled by ``1/(1 - rate)``.

    The scaling makes the expected activation equal in training and inference,
    so inference is the identity. Randomness comes from the ``rng`` set on the
    layer by the training loop (one explicit generator for the whole run): one
    raw 32-bit word of its bit generator per unit, kept below
    ``keep * 2**32`` (:mod:`kernels.float_dropout`, which also does the
    masking in one pass each way). The words are the generator's 64-bit
    outputs split in two in memory order (little-endian on x86 and ARM).
    """

    def __init__(self, rate: float = 0.5):
        super().__init__()
        self.rate = rate
        self.rng: np.random.Generator | None = None
        self._keep = None  # (x.size,) uint8: 1 where the unit was kept

    def spec(self) -> dict:
        return {"type": "dropout", "rate": self.rate}

    def _scale(self, dtype) -> np.ndarray:
        return np.asarray(1.0, dtype) / np.asarray(1.0 - self.rate, dtype)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        if not training or self.rate == 0:
            self._keep = None
            return x
        words = self.rng.bit_generator.random_raw((x.size + 1) // 2)  # (ceil(m/2),) uint64
        bits = words.view(np.uint32)[:x.size]  # (m,) uint32
        y, self._keep = dropout_forward(np.ascontiguousarray(x).reshape(-1), bits,
                                        np.uint64(keep_threshold(1.0 - self.rate)),
                                        self._scale(x.dtype))
        return y.reshape(x.shape)

    def backward(self, dy: np.ndarray, need_input_grad: bool = True) -> np.ndarray:
        if self._keep is None:
            return dy
        dx = dropout_backward(np.ascontiguousarray(dy).reshape(-1), self._keep,
                              self._scale(dy.dtype))
        return dx.reshape(dy.shape)


class Flatten(Parameterless):
    """``(N, H, W, C) -> (N, H*W*C)`` in NHWC order, as TFLite's RESHAPE lays it out."""

    def spec(self) -> dict:
        return {"type": "flatten"}

    def output_shape(self, input_shape):
        return (int(np.prod(input_shape)),)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy: np.ndarray, need_input_grad: bool = True) -> np.ndarray:
        return dy.reshape(self._shape)
