"""What every op's ``prepare`` reads from the graph and checks (TFLM's ``kernel_util``).

Each function raises ValueError (or TinyKWSError where the message is for the
user as it stands); :class:`tinykws.int8.runtime.Int8Runtime` reports both as
TinyKWSError naming the operator.
"""

from __future__ import annotations

import numpy as np

from tinykws.errors import TinyKWSError
from tinykws.tflite.model import Graph, Operator


def single_quantization(graph: Graph, index: int) -> tuple[float, int]:
    """``(scale, zero_point)`` of a per-tensor quantized tensor."""
    t = graph.tensors[index]
    if len(t.scale) != 1:
        raise TinyKWSError(f"tensor {t.name!r} needs one scale, has {len(t.scale)}")
    return t.scale[0], t.zero_point[0]


def require_int8(graph: Graph, op: Operator, indices) -> None:
    """Every tensor in ``indices`` is int8 (the only type these kernels take)."""
    for i in indices:
        if graph.tensors[i].dtype != "int8":
            raise TinyKWSError(f"{op.op}: tensor {graph.tensors[i].name!r} is "
                               f"{graph.tensors[i].dtype}; only int8 is supported")


def bias_or_zeros(graph: Graph, op: Operator, channels: int) -> np.ndarray:
    """The (channels,) int32 bias, input 2, or zeros when the model has none."""
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        return graph.constant(op.inputs[2]).astype(np.int32).reshape(-1)
    return np.zeros(channels, np.int32)


def check_same_size(graph: Graph, op: Operator) -> None:
    """Element-wise ops keep the shape; RESHAPE the batch dimension and element count."""
    in_shape = graph.tensors[op.inputs[0]].shape
    out_shape = graph.tensors[op.outputs[0]].shape
    same = (len(in_shape) >= 1 and len(out_shape) >= 1 and in_shape[0] == out_shape[0]
            and int(np.prod(in_shape, dtype=np.int64)) == int(np.prod(out_shape, dtype=np.int64)))
    if not same or (op.op != "RESHAPE" and in_shape != out_shape):
        raise ValueError(f"input shape {in_shape} and output shape {out_shape} do not match")
