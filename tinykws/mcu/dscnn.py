"""MLPerf Tiny's keyword-spotting DS-CNN as an int8 graph, shapes only.

The network of ``mlcommons/tiny`` ``benchmark/training/keyword_spotting/
keras_model.py`` (``model_name == 'ds_cnn'``), as TFLite's converter lays it
out (batch norm folded, ReLU fused, dropout gone, flatten a RESHAPE)::

    input (1, 49, 10, 1)  int8 MFCCs
    CONV_2D 10x4, 64 filters, stride 2, SAME, ReLU      -> (1, 25, 5, 64)
    4 x [DEPTHWISE_CONV_2D 3x3, SAME, ReLU              -> (1, 25, 5, 64)
         CONV_2D 1x1, 64 filters, SAME, ReLU]           -> (1, 25, 5, 64)
    AVERAGE_POOL_2D 24x5 (= int(49/2), int(10/2)), VALID -> (1, 1, 1, 64)
    RESHAPE                                             -> (1, 64)
    FULLY_CONNECTED 12                                  -> (1, 12)
    SOFTMAX                                             -> (1, 12)

2.66 M MACs; 22,604 weights and biases (Keras counts 23,756 parameters
before batch norm is folded into the convolutions). Weights are zeros with unit
scales: the cost model reads shapes, never values, so no trained DS-CNN is
needed to estimate one.
"""

from __future__ import annotations

import numpy as np

from tinykws.tflite.model import Graph, Operator, Tensor

FILTERS = 64
LABELS = 12


class _Builder:
    """Append tensors and operators; ``x`` is the running activation's index."""

    def __init__(self, input_shape: tuple[int, ...]):
        self.tensors = [Tensor("input", input_shape, "int8", (1.0,), (0,))]
        self.ops: list[Operator] = []
        self.x = 0

    def add(self, name: str, shape, dtype: str = "int8", data=None, channels: int = 1) -> int:
        self.tensors.append(Tensor(name, shape, dtype, (1.0,) * channels, (0,) * channels,
                                   data=data))
        return len(self.tensors) - 1

    def const(self, name: str, shape, dtype: str = "int8", channels: int = 1) -> int:
        return self.add(name, shape, dtype, np.zeros(shape, dtype), channels)

    def op(self, op: str, inputs, out_shape, options: dict) -> None:
        out = self.add(f"{op.lower()}{len(self.ops)}/output", out_shape)
        self.ops.append(Operator(op, (self.x, *inputs), (out,), options))
        self.x = out


def ds_cnn_graph() -> Graph:
    """The MLPerf Tiny KWS DS-CNN (shape-only int8 graph; see the module doc)."""
    b = _Builder((1, 49, 10, 1))
    relu_same = {"padding": "SAME", "dilation_h": 1, "dilation_w": 1, "activation": "RELU"}
    w = b.const("conv0/weights", (FILTERS, 10, 4, 1), channels=FILTERS)
    bias = b.const("conv0/bias", (FILTERS,), "int32", FILTERS)
    b.op("CONV_2D", (w, bias), (1, 25, 5, FILTERS), {**relu_same, "stride_h": 2, "stride_w": 2})
    for block in range(1, 5):
        w = b.const(f"dw{block}/weights", (1, 3, 3, FILTERS), channels=FILTERS)
        bias = b.const(f"dw{block}/bias", (FILTERS,), "int32", FILTERS)
        b.op("DEPTHWISE_CONV_2D", (w, bias), (1, 25, 5, FILTERS),
             {**relu_same, "stride_h": 1, "stride_w": 1, "depth_multiplier": 1})
        w = b.const(f"pw{block}/weights", (FILTERS, 1, 1, FILTERS), channels=FILTERS)
        bias = b.const(f"pw{block}/bias", (FILTERS,), "int32", FILTERS)
        b.op("CONV_2D", (w, bias), (1, 25, 5, FILTERS), {**relu_same, "stride_h": 1, "stride_w": 1})
    b.op("AVERAGE_POOL_2D", (), (1, 1, 1, FILTERS), {
        "padding": "VALID", "stride_h": 24, "stride_w": 5, "filter_height": 24, "filter_width": 5,
        "activation": "NONE"})
    shape = b.const("flatten/shape", (2,), "int32")
    b.op("RESHAPE", (shape,), (1, FILTERS), {"new_shape": None})
    w = b.const("fc/weights", (LABELS, FILTERS))
    bias = b.const("fc/bias", (LABELS,), "int32")
    b.op("FULLY_CONNECTED", (w, bias), (1, LABELS), {"activation": "NONE", "keep_num_dims": False})
    b.op("SOFTMAX", (), (1, LABELS), {"beta": 1.0})
    return Graph(b.tensors, b.ops, (0,), (b.x,), description="MLPerf Tiny KWS DS-CNN (shapes)")
