"""How much work one operator does: multiply-accumulates, window taps, outputs.

The counts a cycle model needs, from shapes alone (weights' values never
matter: a zero weight costs a kernel as much as any other):

- ``CONV_2D``, weights ``(O, KH, KW, C)``: MACs = outputs * KH * KW * C and
  taps = outputs * KH * KW, the filter-window positions visited; each tap
  then runs an inner loop of C MACs;
- ``DEPTHWISE_CONV_2D``, weights ``(1, KH, KW, C * M)``: MACs = taps =
  outputs * KH * KW (each output channel reads one input channel, so every
  tap is a single MAC);
- ``FULLY_CONNECTED``, weights ``(O, I)``: MACs = batch * O * I = outputs * I;
- ``AVERAGE_POOL_2D`` / ``MAX_POOL_2D``: "MACs" = outputs * FH * FW, the adds
  or compares of the window;
- ``MEAN`` (over height and width, a global average pool): "MACs" = the input
  elements, one add each;
- ``SVDF``, weights_feature ``(F, D)`` and weights_time ``(F, M)``, one frame
  per invocation: MACs = batch * F * (D + M) (the feature filter on the frame,
  the time filter over the memory); "taps" = batch * F * M, the int16 state
  elements the left shift moves; outputs = batch * (F + units), the
  requantizations (each filter's new state value, each unit's output);
- ``ADD`` (a residual sum, broadcasting or not), ``SOFTMAX``, ``RESHAPE``,
  ``QUANTIZE``, ``DEQUANTIZE``: no MACs; their cost is per output element.

Taps exist for the convolutions only: a kernel pays a fixed cost per window
position (the padding test, index set-up, the inner loop's entry) on top of
its cost per MAC, and this is what makes a one-input-channel convolution
(TinyConv's) several times dearer per MAC than a 64-channel pointwise one.

Convolution MACs count every tap of the window, also those SAME padding
puts outside the image: the reference kernels test each of them (and skip
the multiply), so they cost about as much. This is also the course's
convention (``tinykws.size``): TinyConv's convolution is 320,000 MACs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinykws.errors import TinyKWSError
from tinykws.tflite.model import Graph, Operator

SUPPORTED_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D",
                 "MAX_POOL_2D", "MEAN", "ADD", "SOFTMAX", "RESHAPE", "QUANTIZE", "DEQUANTIZE",
                 "SVDF")


@dataclass(frozen=True)
class Work:
    macs: int
    taps: int
    outputs: int


def op_work(graph: Graph, op: Operator) -> Work:
    """MACs, taps and output elements of ``op`` in ``graph`` (raises for an unsupported op)."""
    if op.op not in SUPPORTED_OPS:
        raise TinyKWSError(f"the MCU cost model does not support operator {op.op}; "
                           f"supported: {', '.join(SUPPORTED_OPS)}")
    outputs = int(np.prod(graph.tensors[op.outputs[0]].shape, dtype=np.int64))
    if op.op == "CONV_2D":
        _, kh, kw, c = graph.tensors[op.inputs[1]].shape
        return Work(outputs * kh * kw * c, outputs * kh * kw, outputs)
    if op.op == "DEPTHWISE_CONV_2D":
        _, kh, kw, _ = graph.tensors[op.inputs[1]].shape
        return Work(outputs * kh * kw, outputs * kh * kw, outputs)
    if op.op == "FULLY_CONNECTED":
        return Work(outputs * graph.tensors[op.inputs[1]].shape[-1], 0, outputs)
    if op.op == "SVDF":
        batch, units = graph.tensors[op.outputs[0]].shape
        filters, memory = graph.tensors[op.inputs[2]].shape
        n_input = graph.tensors[op.inputs[1]].shape[1]
        return Work(batch * filters * (n_input + memory), batch * filters * memory,
                    batch * (filters + units))
    if op.op in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        window = op.options["filter_height"] * op.options["filter_width"]
        return Work(outputs * window, 0, outputs)
    if op.op == "MEAN":
        return Work(int(np.prod(graph.tensors[op.inputs[0]].shape, dtype=np.int64)), 0, outputs)
    return Work(0, 0, outputs)
