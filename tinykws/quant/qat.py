"""Quantization-aware models: TinyConv with fake quantizers where the integer model rounds.

:func:`fake_quant_model` copies a float model and places a fake quantizer at
every point where the b-bit integer model (``tinykws.quant.ptq`` with
``bits=b``) loses precision, so the float forward pass computes what the
integer model will:

- the input, exactly as the device quantizes micro features (8 bits, scale
  26/256, :class:`InputQuant`);
- each convolution's weights, symmetric per output channel; the dense
  layer's weights, symmetric per tensor (or per output row);
- each convolution's and the dense layer's output (after the ReLU when one
  follows), asymmetric unsigned, with a running range.

Biases stay float: the integer model stores them as int32 at scale
``s_input * s_weight``, whose rounding error (at most half that) is far below
one output step — TensorFlow's QAT leaves them unquantized too.

After training, :func:`strip` returns the plain float model (the float
"shadow" weights) and :func:`activation_ranges` the learned ranges: exactly
what ``quantize_model(model, ranges=..., bits=b)`` needs to build the integer
model.
"""

from __future__ import annotations

import numpy as np

from tinykws.features.model_input import float_to_int8_input, int8_input_to_float
from tinykws.nn.conv import Conv2D
from tinykws.nn.layers import Dense, Parameterless, ReLU
from tinykws.nn.model import Sequential, from_spec
from tinykws.quant.fake_quant import FakeQuant, QConfig
from tinykws.quant.minifloat import MinifloatFormat


class InputQuant(Parameterless):
    """The model input as the device sees it: micro_speech's int8 features, dequantized.

    ``x`` is the float training input ``v * 10/256``; the device feeds
    ``q = (v * 256 + 333) // 666 - 128`` with scale 26/256, zero point -128,
    i.e. the real value ``(q + 128) * 26/256`` (:mod:`tinykws.features.model_input`).
    No parameters, so no gradient is needed through it.
    """

    def spec(self) -> dict:
        return {"type": "input_quant"}

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        q = float_to_int8_input(x)  # (N, 49, 40, 1) int8
        return int8_input_to_float(q).astype(x.dtype)

    def backward(self, dy: np.ndarray, need_input_grad: bool = True) -> np.ndarray:
        return dy


def fake_quant_model(model: Sequential, bits: int, ste: str = "identity",
                     percentile: float | None = None,
                     fmt: MinifloatFormat | None = None,
                     dense_per_channel: bool = False, grid: str = "tflite") -> Sequential:
    """A copy of ``model`` with fake quantizers; ``fmt`` switches to minifloat grids.

    ``dense_per_channel`` quantizes the dense weights per output row, as
    ``quantize_model(dense_per_channel=True)`` does; ``grid`` names the
    weights' symmetric grid, as ``quantize_model(grid=...)``.
    """
    copy = from_spec(model.spec())
    copy.load_parameters(model.parameters())  # copies the values

    def weights(axis):
        if fmt is not None:
            return FakeQuant(QConfig(fmt.bits, "minifloat", axis=axis, ste=ste, fmt=fmt))
        return FakeQuant(QConfig(bits, "symmetric", axis=axis, ste=ste, grid=grid))

    def activations():
        if fmt is not None:
            return FakeQuant(QConfig(fmt.bits, "minifloat", None, ste, percentile=percentile, fmt=fmt))
        return FakeQuant(QConfig(bits, "asymmetric", None, ste, percentile=percentile))

    layers: list = [InputQuant()]
    src = copy.layers
    for i, layer in enumerate(src):
        layers.append(layer)
        if isinstance(layer, Conv2D):
            layer.weight_quant = weights(axis=0)
        elif isinstance(layer, Dense):
            layer.weight_quant = weights(axis=0 if dense_per_channel else None)
        else:
            if isinstance(layer, ReLU) and i > 0 and isinstance(src[i - 1], (Conv2D, Dense)):
                layers.append(activations())
            continue
        if not (i + 1 < len(src) and isinstance(src[i + 1], ReLU)):
            layers.append(activations())
    return Sequential(layers, copy.input_shape)


def activation_quantizers(model: Sequential) -> list[FakeQuant]:
    """The activation fake quantizers, in order (one per conv/dense output)."""
    return [layer for layer in model.layers if isinstance(layer, FakeQuant)]


def activation_ranges(model: Sequential) -> list[tuple[float, float]]:
    """The learned ``(min, max)`` of every conv/dense output, for ``quantize_model(ranges=)``."""
    return [(q.lo, q.hi) for q in activation_quantizers(model)]


def calibrate_ranges(model: Sequential, x: np.ndarray) -> None:
    """Set every activation range to its exact min/max over ``x`` (post-training calibration)."""
    h = x
    for layer in model.layers:
        h = layer.forward(h) if not isinstance(layer, FakeQuant) else h
        if isinstance(layer, FakeQuant):
            layer.lo, layer.hi = float(h.min()), float(h.max())
            h = layer.forward(h)


def strip(model: Sequential) -> Sequential:
    """The plain float model inside a fake-quant model (its float weights)."""
    layers = [layer for layer in model.layers if not isinstance(layer, (FakeQuant, InputQuant))]
    plain = from_spec({"input_shape": list(model.input_shape), "layers": [l.spec() for l in layers]})
    plain.load_parameters({f"{i}.{k}": v for i, layer in enumerate(layers)
                           for k, v in layer.params.items()})
    return plain


def snapshot(model: Sequential) -> dict:
    """Parameters and running ranges: everything fine-tuning may need to roll back to."""
    return {"params": {k: v.copy() for k, v in model.parameters().items()},
            "ranges": activation_ranges(model)}


def restore(model: Sequential, state: dict) -> None:
    model.load_parameters(state["params"])
    for q, (lo, hi) in zip(activation_quantizers(model), state["ranges"]):
        q.lo, q.hi = lo, hi
