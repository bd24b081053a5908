"""Graph rewrite: a one-input-channel CONV_2D as the DEPTHWISE_CONV_2D micro_speech registers."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from tinykws.tflite.model import Graph


def conv_as_depthwise(graph: Graph) -> Graph:
    """Rewrite every CONV_2D with one input channel as the equivalent DEPTHWISE_CONV_2D.

    With ``in_channels == 1`` a convolution's ``out`` filters all read the one
    input channel, which is a depthwise convolution with ``depth_multiplier =
    out``: weights ``(out, kh, kw, 1)`` become ``(1, kh, kw, out)`` (a
    transpose), their per-channel scales move to ``quantized_dimension`` 3,
    and padding, strides, dilation, activation and bias stay. The micro_speech
    example registers DEPTHWISE_CONV_2D (not CONV_2D) for TinyConv's first
    layer, so this is the form a microcontroller build expects. Both forms give
    identical int8 outputs (the accumulation is the same sum; the int8 runtime
    uses the reverse, :func:`tinykws.int8.depthwise_conv.as_conv`, for speed).
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
