"""Quantization-aware models: any zoo model with fake quantizers where the integer model rounds.

:func:`fake_quant_model` copies a float model and places a fake quantizer at
every point where the b-bit integer model (``tinykws.quant.ptq`` with
``bits=b``) loses precision, so the float forward pass computes what the
integer model will:

- the input, exactly as the device quantizes micro features (8 bits, scale
  26/256, :class:`InputQuant`);
- each convolution's weights, symmetric per output channel (depthwise ones
  too: one scale per channel, as PTQ writes DEPTHWISE_CONV_2D); the dense
  layers' weights, symmetric per tensor (or per output row);
- each convolution's and dense layer's output (after the ReLU when one
  follows), asymmetric unsigned, with a running range;
- an average pool keeps its input's quantization, as PTQ and TFLM do: it
  becomes :class:`QuantAveragePool`, the integer AVERAGE_POOL_2D itself on its
  input's grid. A max pool of values on a grid is on that grid already, so
  it stays as it is.

**Batch norm is folded first**: each :class:`~tinykws.nn.batch_norm.BatchNorm`
is folded into the convolution before it (with its moving statistics) when
QAT starts, and the fake quantizer sees the folded weights — the weights the
integer model will have. That is the simplest honest rule: the training that
follows updates the folded convolution directly and no longer normalises by
batch statistics (which at batch sizes of a hundred would make the quantized
weights move from batch to batch). The model QAT returns (:func:`strip`) is
therefore the folded one; its inference function is the original's.

Biases stay float: the integer model stores them as int32 at scale
``s_input * s_weight``, whose rounding error (at most half that) is far below
one output step — TensorFlow's QAT leaves them unquantized too.

A layer the integer model has no rule for here (the global average pool's
MEAN, which requantizes; a residual block) is refused with a ValueError.

After training, :func:`strip` returns the plain float model (the float
"shadow" weights) and :func:`activation_ranges` the learned ranges: exactly
what ``quantize_model(model, ranges=..., bits=b)`` needs to build the integer
model.
"""

from __future__ import annotations

import numpy as np

from tinykws.features.model_input import float_to_int8_input, int8_input_to_float
from tinykws.int8.pooling import average_pool
from tinykws.nn.batch_norm import fold_batch_norms
from tinykws.nn.conv import Conv2D
from tinykws.nn.layers import Dense, Dropout, Flatten, Parameterless, ReLU
from tinykws.nn.model import Sequential, from_spec
from tinykws.nn.pooling import AveragePool2D, MaxPool2D
from tinykws.padding import compute_padding_height_width
from tinykws.quant.fake_quant import FakeQuant, QConfig
from tinykws.quant.grid import asymmetric_codes, asymmetric_params, tflite_round
from tinykws.quant.minifloat import MinifloatFormat

_QAT_LAYERS = (Conv2D, Dense, ReLU, Dropout, Flatten, MaxPool2D, AveragePool2D)


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


class QuantAveragePool(Parameterless):
    """An average pool as the integer model runs it: AVERAGE_POOL_2D on its input's grid.

    TFLite's int8 AVERAGE_POOL_2D keeps its input's scale ``s`` and zero point
    ``z`` and averages the raw int8 codes, rounding half away from zero
    (:func:`tinykws.int8.pooling.average_pool`). A float average of values on
    the grid mostly falls between grid points, so this layer computes the
    integer op itself: the codes of ``x`` on the grid of ``source`` (the
    activation quantizer ``x`` came through, its running range read at every
    call), their integer average, dequantized ``s * (q - z)``. The fake-quant
    forward is then the integer model's, bit for bit, here. Backward is the
    float pool's: straight through the rounding.

    Its spec is the pool's, so :func:`strip` leaves the plain pool.
    """

    def __init__(self, pool: AveragePool2D, source: FakeQuant, bits: int):
        super().__init__()
        self.pool, self.source, self.bits = pool, source, bits

    def spec(self) -> dict:
        return self.pool.spec()

    def output_shape(self, input_shape):
        return self.pool.output_shape(input_shape)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.pool.forward(x, training)  # what backward needs
        s, z = asymmetric_params(self.source.lo, self.source.hi, self.bits)
        qmin, qmax = asymmetric_codes(self.bits)
        codes = np.clip(tflite_round(x.astype(np.float64) / s) + z, qmin, qmax).astype(np.int8)
        pool = self.pool
        pad, oh, ow = compute_padding_height_width(pool.padding, *pool.stride, 1, 1, *x.shape[1:3],
                                                   *pool.pool)
        q = average_pool(codes, pool.stride[0], pool.stride[1], pool.pool[0], pool.pool[1], pad,
                         qmin, qmax, oh, ow)  # (N, OH, OW, C) int8
        return ((q.astype(np.float64) - z) * s).astype(x.dtype)

    def backward(self, dy: np.ndarray, need_input_grad: bool = True) -> np.ndarray:
        return self.pool.backward(dy)


def fake_quant_model(model: Sequential, bits: int, ste: str = "identity",
                     percentile: float | None = None,
                     fmt: MinifloatFormat | None = None,
                     dense_per_channel: bool = False, grid: str = "tflite") -> Sequential:
    """A copy of ``model``, batch norms folded, with fake quantizers; ``fmt`` switches to minifloat grids.

    ``dense_per_channel`` quantizes the dense weights per output row, as
    ``quantize_model(dense_per_channel=True)`` does; ``grid`` names the
    weights' symmetric grid, as ``quantize_model(grid=...)``. With minifloat
    grids there is no integer model to follow, and an average pool stays a
    float average.
    """
    src = fold_batch_norms(model.copy().layers)  # new folded convs; the rest copied

    def weights(axis):
        if fmt is not None:
            return FakeQuant(QConfig(fmt.bits, "minifloat", axis=axis, ste=ste, fmt=fmt))
        return FakeQuant(QConfig(bits, "symmetric", axis=axis, ste=ste, grid=grid))

    def activations():
        if fmt is not None:
            return FakeQuant(QConfig(fmt.bits, "minifloat", None, ste, percentile=percentile, fmt=fmt))
        return FakeQuant(QConfig(bits, "asymmetric", None, ste, percentile=percentile))

    layers: list = [InputQuant()]
    for i, layer in enumerate(src):
        if not isinstance(layer, _QAT_LAYERS):
            raise ValueError(f"quantization-aware training has no rule for layer {i} "
                             f"({type(layer).__name__})")
        quantized = [q for q in layers if isinstance(q, FakeQuant)]
        if isinstance(layer, AveragePool2D) and fmt is None:
            if not quantized:
                raise ValueError("an average pool before any convolution or dense layer has no "
                                 "quantized input to keep")
            layers.append(QuantAveragePool(layer, quantized[-1], bits))
            continue
        layers.append(layer)
        if isinstance(layer, Conv2D):
            layer.weight_quant = weights(axis=0)  # (O, KH, KW, C/groups): per output channel
        elif isinstance(layer, Dense):
            layer.weight_quant = weights(axis=0 if dense_per_channel else None)
        else:
            if isinstance(layer, ReLU) and i > 0 and isinstance(src[i - 1], (Conv2D, Dense)):
                layers.append(activations())
            continue
        if not (i + 1 < len(src) and isinstance(src[i + 1], ReLU)):
            layers.append(activations())
    return Sequential(layers, model.input_shape)


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
