"""A residual block as one layer, ``y = ReLU(body(x) + shortcut(x))``, and the reshape before it.

He et al. (2016) let a stack of layers learn a correction to its input
rather than a whole new function: the block adds its input (the *shortcut*)
to what its layers (the *body*) compute, then applies a ReLU::

    y = ReLU(body(x) + shortcut(x))

The shortcut is the identity when the body keeps the shape, or a projection
(a 1x1 convolution with the body's stride, and a batch norm) when the body
changes the width or the length. Both branches are plain lists of our layers,
so a :class:`ResidualBlock` is one entry of a
:class:`~tinykws.nn.model.Sequential`: training, checkpoints and the studies
walk a model's layers and meet the block as any other layer.

Backward is the chain rule through the sum: the ReLU's gradient ``ds`` reaches
both branches unchanged (``d(a + b)/da = 1``), each branch backpropagates it
through its own layers in reverse, and since ``x`` fed both branches its
gradient is the sum of the two::

    ds = dy * (s > 0)          s = body(x) + shortcut(x)
    dx = body'(ds) + shortcut'(ds)

The block's ``params``, ``grads`` and ``state`` (the batch norms' moving
statistics) are its sublayers' own arrays under the names
``"body.<j>.<name>"`` and ``"shortcut.<j>.<name>"``, so an optimizer that
updates arrays in place updates the sublayers.

:class:`Reshape` changes the per-example shape and nothing else (TFLite's
RESHAPE). TC-ResNet uses it to turn ``(frames, bins, 1)`` into ``(frames, 1,
bins)``: the frequency bins become input channels and every convolution runs
along time only.
"""

from __future__ import annotations

import math

import numpy as np

from tinykws.nn.layers import Parameterless, ReLU
from tinykws.nn.residual import Add


class Reshape(Parameterless):
    """``(N, *input_shape) -> (N, *shape)``, the same values in the same (C) order."""

    def __init__(self, shape: tuple[int, ...]):
        super().__init__()
        self.shape = tuple(int(d) for d in shape)
        self._shape = None

    def spec(self) -> dict:
        return {"type": "reshape", "shape": list(self.shape)}

    def output_shape(self, input_shape):
        if math.prod(input_shape) != math.prod(self.shape):
            raise ValueError(f"cannot reshape {tuple(input_shape)} to {self.shape}")
        return self.shape

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._shape = x.shape
        return x.reshape((x.shape[0],) + self.shape)

    def backward(self, dy: np.ndarray, need_input_grad: bool = True) -> np.ndarray:
        return dy.reshape(self._shape)


class ResidualBlock:
    """``ReLU(body(x) + shortcut(x))``; an empty ``shortcut`` is the identity."""

    def __init__(self, body: list, shortcut: list = ()):
        if not body:
            raise ValueError("a residual block needs at least one layer in its body")
        self.body, self.shortcut = list(body), list(shortcut)
        self._add, self._relu = Add(), ReLU()

    def branches(self) -> tuple[tuple[str, list], tuple[str, list]]:
        return ("body", self.body), ("shortcut", self.shortcut)

    def _named(self, attribute: str) -> dict[str, np.ndarray]:
        return {f"{name}.{j}.{k}": v for name, layers in self.branches()
                for j, layer in enumerate(layers) for k, v in getattr(layer, attribute, {}).items()}

    @property
    def params(self) -> dict[str, np.ndarray]:
        return self._named("params")

    @params.setter
    def params(self, new: dict[str, np.ndarray]) -> None:
        """Hand each ``"<branch>.<j>.<name>"`` array to its sublayer (e.g. a float64 copy)."""
        for key, value in new.items():
            name, j, k = key.split(".", 2)
            getattr(self, name)[int(j)].params[k] = value

    @property
    def grads(self) -> dict[str, np.ndarray]:
        return self._named("grads")

    @property
    def state(self) -> dict[str, np.ndarray]:
        return self._named("state")

    def spec(self) -> dict:
        return {"type": "residual_block", "body": [layer.spec() for layer in self.body],
                "shortcut": [layer.spec() for layer in self.shortcut]}

    def output_shape(self, input_shape):
        shapes = []
        for _, layers in self.branches():
            shape = tuple(input_shape)
            for layer in layers:
                shape = tuple(layer.output_shape(shape))
            shapes.append(shape)
        if shapes[0] != shapes[1]:
            raise ValueError(f"the body gives {shapes[0]} and the shortcut {shapes[1]}: "
                             "a residual sum needs one shape")
        return shapes[0]

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        a = b = x  # (N, H, W, C)
        for layer in self.body:
            a = layer.forward(a, training)  # (N, OH, OW, O)
        for layer in self.shortcut:
            b = layer.forward(b, training)  # (N, OH, OW, O)
        if a.shape != b.shape:
            raise ValueError(f"the body gives {a.shape} and the shortcut {b.shape}")
        return self._relu.forward(self._add.forward(a, b))

    def backward(self, dy: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        da, db = self._add.backward(self._relu.backward(dy))  # both are ds
        dx = [_backward(self.body, da, need_input_grad), _backward(self.shortcut, db, need_input_grad)]
        return dx[0] + dx[1] if need_input_grad else None


def _backward(layers: list, dy: np.ndarray, need_input_grad: bool) -> np.ndarray | None:
    """``dy`` through ``layers`` in reverse; the first layer computes ``dx`` only if asked."""
    for layer in layers[:0:-1]:
        dy = layer.backward(dy)
    if not layers:  # the identity
        return dy
    return layers[0].backward(dy, need_input_grad=need_input_grad)
