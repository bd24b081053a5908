"""Per-channel int8 DEPTHWISE_CONV_2D, as TFLM's ``reference_integer_ops::DepthwiseConvPerChannel``.

Each input channel ``ic`` is convolved with ``depth_multiplier`` filters of
its own; output channel ``oc = ic * depth_multiplier + m``
(``reference/integer_ops/depthwise_conv.h``)::

    acc  = sum over (filter_y, filter_x) inside the image of
           filter[0, fy, fx, oc] * (input[b, in_y, in_x, ic] + input_offset)
    acc += bias[oc]
    acc  = MultiplyByQuantizedMultiplier(acc, output_multiplier[oc], output_shift[oc])
    out  = clamp(acc + output_offset, output_activation_min, output_activation_max)

Weights are (1, KH, KW, C_in * depth_multiplier), quantized per output
channel along dimension 3. Padding and output size as in
:mod:`tinykws.int8.conv`.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from tinykws.int8.quantize_multiplier import multiply_by_quantized_multiplier
from tinykws.tflite.model import Graph


def depthwise_conv2d_per_channel(x: np.ndarray, filters: np.ndarray, bias: np.ndarray | None,
                                 depth_multiplier: int, input_offset: int, output_offset: int,
                                 output_multiplier: np.ndarray, output_shift: np.ndarray,
                                 output_activation_min: int, output_activation_max: int,
                                 stride_h: int, stride_w: int, pad_h: int, pad_w: int,
                                 out_h: int, out_w: int, dilation_h: int = 1,
                                 dilation_w: int = 1) -> np.ndarray:
    """Int8 depthwise convolution with one (multiplier, shift) per output channel.

    x : (N, H, W, C_in) int8; filters : (1, KH, KW, C_in * depth_multiplier) int8;
    bias : (C_out,) int32 or None. Returns (N, out_h, out_w, C_out) int8.
    """
    n, h, w, c_in = x.shape
    _, kh, kw, c_out = filters.shape
    # Repeat each input channel depth_multiplier times so channel oc reads ic = oc // dm.
    shifted = np.repeat(x.astype(np.int64) + input_offset, depth_multiplier, axis=3)
    # shifted: (N, H, W, C_out) int64; zero in the padding == skipped taps.
    eff_h, eff_w = (kh - 1) * dilation_h + 1, (kw - 1) * dilation_w + 1
    need_h = (out_h - 1) * stride_h + eff_h
    need_w = (out_w - 1) * stride_w + eff_w
    padded = np.zeros((n, max(need_h, pad_h + h), max(need_w, pad_w + w), c_out), np.int64)
    padded[:, pad_h:pad_h + h, pad_w:pad_w + w, :] = shifted
    w64 = filters[0].astype(np.int64)  # (KH, KW, C_out) int64
    acc = np.zeros((n, out_h, out_w, c_out), np.int64)
    for fy in range(kh):
        for fx in range(kw):
            y0, x0 = fy * dilation_h, fx * dilation_w
            patch = padded[:, y0:y0 + (out_h - 1) * stride_h + 1:stride_h,
                           x0:x0 + (out_w - 1) * stride_w + 1:stride_w, :]  # (N, oh, ow, C_out)
            acc += patch * w64[fy, fx]
    if bias is not None:
        acc += bias.astype(np.int64)
    acc = multiply_by_quantized_multiplier(acc, output_multiplier.astype(np.int64),
                                           output_shift.astype(np.int64))
    acc += output_offset
    return np.clip(acc, output_activation_min, output_activation_max).astype(np.int8)


def conv_as_depthwise(graph: Graph) -> Graph:
    """Rewrite every CONV_2D with one input channel as the equivalent DEPTHWISE_CONV_2D.

    With ``in_channels == 1`` a convolution's ``out`` filters all read the one
    input channel, which is a depthwise convolution with ``depth_multiplier =
    out``: weights ``(out, kh, kw, 1)`` become ``(1, kh, kw, out)`` (a
    transpose), their per-channel scales move to ``quantized_dimension`` 3,
    and padding, strides, dilation, activation and bias stay. The micro_speech
    example registers DEPTHWISE_CONV_2D (not CONV_2D) for TinyConv's first
    layer, so this is the form a microcontroller build expects. Both forms give
    identical int8 outputs (the accumulation is the same sum).
    """
    tensors = list(graph.tensors)
    operators = []
    for op in graph.operators:
        w_index = op.inputs[1] if len(op.inputs) > 1 else -1
        w = tensors[w_index] if w_index >= 0 else None
        if op.op != "CONV_2D" or w is None or w.shape[3] != 1 or w.data is None:
            operators.append(op)
            continue
        out_channels = w.shape[0]
        # (out, kh, kw, 1) -> (1, kh, kw, out)
        weights = np.ascontiguousarray(np.transpose(w.data, (3, 1, 2, 0)))
        tensors[w_index] = replace(w, shape=tuple(weights.shape), data=weights,
                                   quantized_dimension=3 if w.is_per_channel else 0)
        options = {key: op.options[key] for key in
                   ("padding", "stride_h", "stride_w", "dilation_h", "dilation_w", "activation")}
        options["depth_multiplier"] = out_channels
        # A missing bias is listed as two inputs, not as -1: tflite-micro's
        # depthwise Prepare reads three inputs as "has a bias" and crashes on -1.
        inputs = op.inputs[:2] if len(op.inputs) > 2 and op.inputs[2] < 0 else op.inputs
        operators.append(replace(op, op="DEPTHWISE_CONV_2D", inputs=inputs, options=options))
    return replace(graph, tensors=tuple(tensors), operators=tuple(operators))
