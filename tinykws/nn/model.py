"""A model is a list of layers run in order; TinyConv is one such list.

:class:`Sequential` chains ``forward`` and, in reverse, ``backward`` — the
chain rule, one layer at a time. A model is described by plain data
(:meth:`Sequential.spec`: the input shape and one dict per layer), which is
what checkpoints store instead of pickled objects, and what
:func:`from_spec` rebuilds a model from.
"""

from __future__ import annotations

import numpy as np

from tinykws.nn.batch_norm import BatchNorm
from tinykws.nn.conv import Conv2D
from tinykws.nn.layers import Dense, Dropout, Flatten, ReLU
from tinykws.nn.pooling import AveragePool2D, GlobalAveragePool, MaxPool2D
from tinykws.nn.resnet import Reshape, ResidualBlock
from tinykws.nn.svdf import SVDF

TINY_CONV_INPUT = (49, 40, 1)  # (frames, channels, 1): 1 s of micro features


class Sequential:
    def __init__(self, layers: list, input_shape: tuple[int, ...]):
        self.layers = list(layers)
        self.input_shape = tuple(input_shape)
        self._fused: set[int] = set()  # the last forward's batch norms that applied a ReLU

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Run the layers in order. In training, a :class:`BatchNorm` followed by a
        :class:`ReLU` runs as one kernel (``BatchNorm.forward(..., relu=True)``), the same
        function with a pass fewer each way; the ReLU layer is then skipped, forward and
        backward."""
        self._fused = set(self._fusable()) if training else set()  # batch norms' indices
        i = 0
        while i < len(self.layers):
            if i in self._fused:
                x = self.layers[i].forward(x, training, relu=True)
                i += 2
            else:
                x = self.layers[i].forward(x, training)
                i += 1
        return x

    def _fusable(self):
        """Indices of the numba-backed batch norms followed by a ReLU."""
        for i, (layer, after) in enumerate(zip(self.layers, self.layers[1:])):
            if isinstance(layer, BatchNorm) and layer.numba and isinstance(after, ReLU):
                yield i

    def backward(self, dy: np.ndarray) -> None:
        """Backpropagate ``dL/dlogits``, filling every layer's ``grads``.

        The gradient stops at the first layer that has parameters: nothing
        before it learns (an input quantizer, say), and ``dL/dx`` for the
        audio features is never needed — so a first convolution skips
        computing it, its costliest step (col2im).
        """
        first = next((i for i, layer in enumerate(self.layers) if layer.params), 0)
        fused = self._fused
        for i in range(len(self.layers) - 1, first, -1):
            if i - 1 in fused:  # a ReLU its batch norm applied: the batch norm's backward masks
                continue
            dy = self.layers[i].backward(dy)
        self.layers[first].backward(dy, need_input_grad=False)

    def parameters(self) -> dict[str, np.ndarray]:
        """``"<layer index>.<name>" -> array``, the model's trainable state."""
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers) for k, v in layer.params.items()}

    def gradients(self) -> dict[str, np.ndarray]:
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers) for k, v in layer.grads.items()}

    def load_parameters(self, params: dict[str, np.ndarray]) -> None:
        own = self.parameters()
        if set(own) != set(params):
            raise ValueError(f"parameter names differ: expected {sorted(own)}, got {sorted(params)}")
        for name, value in params.items():
            if own[name].shape != value.shape:
                raise ValueError(f"{name}: expected shape {own[name].shape}, got {value.shape}")
            own[name][...] = value

    def copy(self) -> "Sequential":
        """A new model of the same spec, parameters and layer ``state`` (batch norm's statistics)."""
        twin = from_spec(self.spec())
        twin.load_parameters(self.parameters())
        for mine, theirs in zip(self.layers, twin.layers):
            for name, value in getattr(mine, "state", {}).items():
                theirs.state[name][...] = value
        return twin

    def spec(self) -> dict:
        return {"input_shape": list(self.input_shape), "layers": [l.spec() for l in self.layers]}

    def shapes(self) -> list[tuple[int, ...]]:
        """Per-sample output shape of every layer, in order."""
        shapes, shape = [], self.input_shape
        for layer in self.layers:
            shape = tuple(layer.output_shape(shape))
            shapes.append(shape)
        return shapes

    def set_rng(self, rng: np.random.Generator) -> None:
        """Give every dropout layer the training run's generator."""
        for layer in self.layers:
            if isinstance(layer, Dropout):
                layer.rng = rng


def from_spec(spec: dict) -> Sequential:
    """Rebuild a model (with zero weights) from :meth:`Sequential.spec`."""
    layers = []
    for s in spec["layers"]:
        kind = s["type"]
        if kind == "conv2d":
            layers.append(Conv2D(s["in_channels"], s["out_channels"], tuple(s["kernel"]),
                                 tuple(s["stride"]), s["padding"], s["groups"]))
        elif kind == "dense":
            layers.append(Dense(s["in_features"], s["out_features"]))
        elif kind == "relu":
            layers.append(ReLU())
        elif kind == "dropout":
            layers.append(Dropout(s["rate"]))
        elif kind == "flatten":
            layers.append(Flatten())
        elif kind == "batch_norm":
            layers.append(BatchNorm(s["channels"], s["momentum"], s["epsilon"]))
        elif kind in ("max_pool2d", "average_pool2d"):
            pool = MaxPool2D if kind == "max_pool2d" else AveragePool2D
            layers.append(pool(tuple(s["pool"]), tuple(s["stride"]), s["padding"]))
        elif kind == "global_average_pool":
            layers.append(GlobalAveragePool(s["keep_dims"]))
        elif kind == "reshape":
            layers.append(Reshape(tuple(s["shape"])))
        elif kind == "residual_block":  # each branch is a list of layer specs, as a model's
            layers.append(ResidualBlock(*(from_spec({"input_shape": spec["input_shape"],
                                                     "layers": s[branch]}).layers
                                          for branch in ("body", "shortcut"))))
        elif kind == "svdf":
            layers.append(SVDF(s["bins"], s["units"], s["rank"], s["memory"]))
        else:
            raise ValueError(f"unknown layer type {kind!r}")
    return Sequential(layers, tuple(spec["input_shape"]))


def truncated_normal(rng: np.random.Generator, shape, std: float) -> np.ndarray:
    """Normal(0, std) with draws beyond 2 std redrawn (``tf.truncated_normal``)."""
    x = rng.normal(0.0, std, shape)
    bad = np.abs(x) > 2 * std
    while bad.any():
        x[bad] = rng.normal(0.0, std, bad.sum())
        bad = np.abs(x) > 2 * std
    return x.astype(np.float32)


def tiny_conv(num_labels: int, rng: np.random.Generator, filters: int = 8,
              dropout: float = 0.5) -> Sequential:
    """TensorFlow's ``tiny_conv`` (speech_commands/models.py), NHWC.

    ``(N, 49, 40, 1)`` -> conv 10x8 (10 frames by 8 channels), ``filters``
    filters, stride 2x2, SAME -> ``(N, 25, 20, filters)`` -> ReLU -> dropout
    (training only) -> flatten ``25*20*filters`` -> dense ``num_labels``
    logits. Weights: truncated normal, std 0.01; biases zero (as TF).
    16,652 parameters for 4 labels and 8 filters.
    """
    conv = Conv2D(1, filters, (10, 8), (2, 2), "SAME")
    conv.params["weight"][...] = truncated_normal(rng, conv.params["weight"].shape, 0.01)
    oh, ow, oc = conv.output_shape(TINY_CONV_INPUT)
    dense = Dense(oh * ow * oc, num_labels)
    dense.params["weight"][...] = truncated_normal(rng, dense.params["weight"].shape, 0.01)
    return Sequential([conv, ReLU(), Dropout(dropout), Flatten(), dense], TINY_CONV_INPUT)
