"""Full-integer post-training quantization of a TinyConv-style model.

The recipe is TFLite's for int8 models (Jacob et al., 2018; TFLite's
quantization spec):

- **activations**: int8, affine per tensor, ``real = s (q - z)``, with the
  range measured on a representative set (calibration): ``s = (max - min) /
  255``, ``z = round(-128 - min / s)``, the range widened to include 0 so that
  0 is exact. A ReLU output has ``min = 0`` and so ``z = -128``.
- **the model input** of micro features takes micro_speech's feature
  quantization, ``s = 26/256``, ``z = -128`` (:mod:`tinykws.features.model_input`),
  so the model drops into the micro_speech sketch unchanged; the input of the
  other feature modes (``features``, a FeatureSpec) is quantized per tensor
  from the calibration inputs' range, asymmetric int8 as above, as TFLite's
  converter does with a representative data set.
- **convolution weights**: int8 symmetric per output channel, ``s_c = max|w_c|
  / 127``, ``z = 0``; **dense weights**: int8 symmetric per tensor (or per
  output row, ``dense_per_channel``). ``grid="full-range"`` swaps in the
  assignment's symmetric grid, which also uses code -2^(b-1).
- **biases**: int32 with ``s = s_input * s_weight`` (per channel for convs).
- **softmax output**: ``s = 1/256``, ``z = -128``.
- **batch norm** is folded into the convolution before it first
  (:func:`tinykws.nn.batch_norm.fold_batch_norms`); a convolution with
  ``groups == in_channels`` becomes DEPTHWISE_CONV_2D (weights ``(1, KH, KW, O)``,
  per-channel scales along dimension 3); an average pool becomes
  AVERAGE_POOL_2D, whose output keeps its input's quantization (TFLM requires it), a
  global average pool MEAN over height and width (the input's quantization kept too);
  an SVDF becomes TFLite's streaming SVDF op (:mod:`tinykws.quant.svdf`), and the
  graph then takes one frame per invocation.
- a **residual block** (:mod:`tinykws.quant.residual`) becomes its branches'
  convolutions and an ADD with a fused ReLU and an output scale of its own,
  calibrated on the sum; a :class:`~tinykws.nn.resnet.Reshape` becomes RESHAPE.

Both grids, and the rounding (half away from zero, ``TfLiteRound``), are
those of :mod:`tinykws.quant.grid`, which fake quantization uses too. The
integer multipliers and shifts are not stored: the runtime derives them
from these scales exactly as TFLite does (``tinykws.int8.quantize_multiplier``).
"""

from __future__ import annotations

import numpy as np

from tinykws.convert.depthwise import conv_as_depthwise
from tinykws.features.model_input import INT8_SCALE, INT8_ZERO_POINT
from tinykws.features.spec import MICRO_DEFAULT, FeatureSpec
from tinykws.nn.batch_norm import fold_batch_norms
from tinykws.nn.conv import Conv2D
from tinykws.nn.layers import Dense, Dropout, Flatten, ReLU
from tinykws.nn.model import Sequential
from tinykws.nn.pooling import AveragePool2D, GlobalAveragePool, MaxPool2D
from tinykws.nn.resnet import Reshape, ResidualBlock
from tinykws.nn.svdf import SVDF
from tinykws.quant.grid import asymmetric_params, check_grid, f32, symmetric_weights, tflite_round
from tinykws.quant.residual import add_residual_block, residual_ranges
from tinykws.quant.svdf import graph_input_shape, quantize_svdf, state_range
from tinykws.tflite.model import Graph, Operator, Tensor


def calibrate(model: Sequential, x: np.ndarray) -> list[tuple[float, float]]:
    """``(min, max)`` of every conv/dense/SVDF output (after its ReLU when one follows); a
    residual block's convolutions and sum in the order :func:`add_residual_block` reads them;
    an SVDF's is preceded by the range of what enters its memory."""
    ranges = []
    h = x
    layers = model.layers
    for i, layer in enumerate(layers):
        if isinstance(layer, SVDF):
            ranges.append(state_range(layer, h))
        before, h = h, layer.forward(h)
        if isinstance(layer, ResidualBlock):
            ranges += residual_ranges(layer, before)
        elif isinstance(layer, (Conv2D, Dense, SVDF)):
            out = h
            if i + 1 < len(layers) and isinstance(layers[i + 1], ReLU):
                out = np.maximum(out, 0)
            ranges.append((float(out.min()), float(out.max())))
    return ranges


def add_conv(tensors: list[Tensor], ops: list[Operator], layer: Conv2D, name: str, current: int,
             scale: float, out_range: tuple[float, float], relu: bool, bits: int,
             grid: str) -> tuple[int, float]:
    """Append ``layer`` reading tensor ``current`` (of scale ``scale``) as CONV_2D, or as
    DEPTHWISE_CONV_2D when ``groups == in_channels``; its output's index and scale.

    ``out_range`` is the calibrated ``(min, max)`` of the output (after the ReLU
    that ``relu`` fuses into the op).
    """
    depthwise = layer.groups == layer.in_channels > 1
    if layer.groups != 1 and not depthwise:
        raise ValueError("grouped convolutions are exported only as depthwise ones")
    w_q, w_s = symmetric_weights(layer.params["weight"].astype(np.float64), axis=0, bits=bits,
                                 grid=grid)
    b_scales = np.array([f32(scale * s) for s in w_s])
    b_q = tflite_round(layer.params["bias"].astype(np.float64) / b_scales).astype(np.int32)
    out_scale, out_zp = asymmetric_params(*out_range, bits)
    oh, ow, oc = layer.output_shape(tensors[current].shape[1:])
    if depthwise:  # (O, KH, KW, 1) -> TFLite's (1, KH, KW, O)
        w_q = np.ascontiguousarray(np.transpose(w_q, (3, 1, 2, 0)))
    tensors += [
        Tensor(f"{name}/weights", w_q.shape, "int8", tuple(map(float, w_s)),
               (0,) * len(w_s), 3 if depthwise else 0, w_q),
        Tensor(f"{name}/bias", b_q.shape, "int32", tuple(map(float, b_scales)),
               (0,) * len(w_s), 0, b_q),
        Tensor(f"{name}/output", (1, oh, ow, oc), "int8", (out_scale,), (out_zp,)),
    ]
    n = len(tensors)
    options = {"padding": layer.padding, "stride_h": layer.stride[0],
               "stride_w": layer.stride[1], "dilation_h": 1, "dilation_w": 1,
               "activation": "RELU" if relu else "NONE"}
    if depthwise:
        options["depth_multiplier"] = layer.out_channels // layer.in_channels
    ops.append(Operator("DEPTHWISE_CONV_2D" if depthwise else "CONV_2D",
                        (current, n - 3, n - 2), (n - 1,), options))
    return n - 1, out_scale


def add_reshape(tensors: list[Tensor], ops: list[Operator], name: str, current: int,
                shape: tuple[int, ...]) -> int:
    """Append a RESHAPE of tensor ``current`` to ``(1, *shape)`` (same quantization); its index."""
    t = tensors[current]
    tensors += [Tensor(f"{name}/shape", (len(shape) + 1,), "int32",
                       data=np.array([1, *shape], np.int32)),
                Tensor(f"{name}/output", (1, *shape), "int8", t.scale, t.zero_point)]
    n = len(tensors)
    ops.append(Operator("RESHAPE", (current, n - 2), (n - 1,), {"new_shape": None}))
    return n - 1


def input_quantization(features: FeatureSpec, calibration_x: np.ndarray | None) -> tuple[float, int]:
    """``(scale, zero_point)`` of the model input: micro_speech's fixed 26/256, -128 for micro
    features (the sketch hard-codes it), else the calibration inputs' range, 8-bit asymmetric."""
    if features.mode == "micro":
        return INT8_SCALE, INT8_ZERO_POINT
    if calibration_x is None:
        raise ValueError(f"{features.mode} inputs are quantized from calibration_x: give it")
    return asymmetric_params(float(np.min(calibration_x)), float(np.max(calibration_x)), 8)


def quantize_model(model: Sequential, calibration_x: np.ndarray | None = None, softmax: bool = True,
                   single_channel_as_depthwise: bool = True, bits: int = 8,
                   ranges: list[tuple[float, float]] | None = None,
                   dense_per_channel: bool = False, grid: str = "tflite",
                   features: FeatureSpec = MICRO_DEFAULT) -> Graph:
    """Build the int8 TFLite :class:`Graph` of ``model`` (conv/ReLU/dropout/flatten/dense).

    Activation ranges come from ``calibration_x`` (post-training
    quantization) or are given as ``ranges``, one ``(min, max)`` per
    conv/dense output (quantization-aware training's learned ranges).
    ``bits < 8`` puts weights and activations on ``bits``-bit grids held in
    int8 (for the quantization study; run such a graph with
    ``Int8Runtime(graph, activation_bits=bits)`` so activations stay on
    their grid). The input stays 8-bit: micro_speech's quantization for micro
    ``features``, the calibration inputs' range for the other modes.

    ``dense_per_channel`` gives each dense output row its own weight scale
    (TensorFlow 2.21's converter does by default; micro_speech's model and
    older TFLM builds, such as the course's Arduino library, use one scale).
    ``grid`` names the weights' symmetric grid (:data:`tinykws.quant.grid.SYMMETRIC_GRIDS`).
    """
    if not 2 <= bits <= 8:
        raise ValueError(f"bits must be between 2 and 8, not {bits}")
    check_grid(grid)
    model = Sequential(fold_batch_norms(model.layers), model.input_shape)
    in_scale, in_zp = input_quantization(features, calibration_x)
    if ranges is None:
        if calibration_x is None:
            raise ValueError("give calibration_x or ranges")
        ranges = calibrate(model, calibration_x)
    ranges = iter(ranges)
    tensors: list[Tensor] = [Tensor("input", graph_input_shape(model), "int8", (in_scale,),
                                    (in_zp,))]
    ops: list[Operator] = []
    current, scale = 0, in_scale  # tensor index and scale of the running activation
    layers = model.layers
    for i, layer in enumerate(layers):
        fused_relu = i + 1 < len(layers) and isinstance(layers[i + 1], ReLU)
        if isinstance(layer, (ReLU, Dropout)):
            continue  # fused into the layer before / identity at inference
        if isinstance(layer, Conv2D):
            current, scale = add_conv(tensors, ops, layer, f"conv{i}", current, scale, next(ranges),
                                      fused_relu, bits, grid)
        elif isinstance(layer, ResidualBlock):  # its convolutions, then ADD (tinykws.quant.residual)
            current, scale = add_residual_block(tensors, ops, layer, f"block{i}", current, scale,
                                                ranges, bits, grid)
        elif isinstance(layer, Reshape):
            current = add_reshape(tensors, ops, f"reshape{i}", current, layer.shape)
        elif isinstance(layer, (AveragePool2D, MaxPool2D)):  # same scale in and out, as TFLM requires
            t = tensors[current]
            tensors.append(Tensor(f"pool{i}/output", (1, *layer.output_shape(t.shape[1:])),
                                  "int8", t.scale, t.zero_point))
            kind = "AVERAGE_POOL_2D" if isinstance(layer, AveragePool2D) else "MAX_POOL_2D"
            ops.append(Operator(kind, (current,), (len(tensors) - 1,), {
                "padding": layer.padding, "stride_h": layer.stride[0], "stride_w": layer.stride[1],
                "filter_height": layer.pool[0], "filter_width": layer.pool[1],
                "activation": "NONE"}))
            current = len(tensors) - 1
        elif isinstance(layer, GlobalAveragePool):  # MEAN over H, W; the input's scale kept
            t = tensors[current]
            tensors += [Tensor(f"mean{i}/axis", (2,), "int32", data=np.array([1, 2], np.int32)),
                        Tensor(f"mean{i}/output", (1, *layer.output_shape(t.shape[1:])), "int8",
                               t.scale, t.zero_point)]
            n = len(tensors)
            ops.append(Operator("MEAN", (current, n - 2), (n - 1,), {"keep_dims": layer.keep_dims}))
            current = n - 1
        elif isinstance(layer, Flatten):
            current = add_reshape(tensors, ops, f"flatten{i}", current,
                                  (int(np.prod(tensors[current].shape[1:])),))
        elif isinstance(layer, Dense):
            w_q, w_s = symmetric_weights(layer.params["weight"].astype(np.float64),
                                         axis=0 if dense_per_channel else None, bits=bits, grid=grid)
            b_scales = np.array([f32(scale * s) for s in w_s])  # (1,) or (K,)
            b_q = tflite_round(layer.params["bias"].astype(np.float64) / b_scales).astype(np.int32)
            out_scale, out_zp = asymmetric_params(*next(ranges), bits)
            tensors += [
                Tensor(f"dense{i}/weights", w_q.shape, "int8", tuple(map(float, w_s)), (0,) * len(w_s), 0, w_q),
                Tensor(f"dense{i}/bias", b_q.shape, "int32", tuple(map(float, b_scales)), (0,) * len(w_s), 0, b_q),
                Tensor(f"dense{i}/output", (1, layer.out_features), "int8", (out_scale,), (out_zp,)),
            ]
            n = len(tensors)
            ops.append(Operator("FULLY_CONNECTED", (current, n - 3, n - 2), (n - 1,),
                                {"activation": "RELU" if fused_relu else "NONE", "keep_num_dims": False}))
            current, scale = n - 1, out_scale
        elif isinstance(layer, SVDF):  # a streaming op: the graph then takes one frame per call
            new, op = quantize_svdf(layer, f"svdf{i}", len(tensors), current, next(ranges),
                                    next(ranges), fused_relu, bits, grid)
            tensors += new
            ops.append(op)
            current, scale = len(tensors) - 1, new[-1].scale[0]
        else:
            raise ValueError(f"cannot export layer {type(layer).__name__}")
    if softmax:
        tensors.append(Tensor("probabilities", tensors[current].shape, "int8", (1.0 / 256,), (-128,)))
        ops.append(Operator("SOFTMAX", (current,), (len(tensors) - 1,), {"beta": 1.0}))
        current = len(tensors) - 1
    graph = Graph(tuple(tensors), tuple(ops), (0,), (current,), description="tinykws TinyConv int8")
    return conv_as_depthwise(graph) if single_channel_as_depthwise else graph

