"""RESHAPE: the bytes do not change, only the shape (TFLM copies the buffer).

The target shape is the output tensor's static shape (TFLite's converter
stores it there, and in a second "shape" input or in ReshapeOptions). When
running a batch of N examples through a graph made for batch 1, the leading
dimension becomes N and the rest is kept. There is no Numba twin: the one
function serves as reference and kernel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tinykws.int8 import kernel_util
from tinykws.tflite.model import Graph, Operator


@dataclass(frozen=True)
class ReshapeParams:
    """The output tensor's shape (made for batch 1)."""

    output_shape: tuple[int, ...]


def prepare(graph: Graph, op: Operator) -> ReshapeParams:
    """RESHAPE keeps the batch dimension and the element count."""
    kernel_util.check_same_size(graph, op)
    return ReshapeParams(tuple(graph.tensors[op.outputs[0]].shape))


def reshape(input_data: np.ndarray, output_shape: tuple[int, ...]) -> np.ndarray:
    """``input_data`` with ``output_shape``, whose dimension 0 becomes the input's batch."""
    shape = tuple(output_shape)
    if shape:
        shape = (input_data.shape[0],) + shape[1:]
    if math.prod(shape) != input_data.size:
        raise ValueError(f"cannot reshape {input_data.shape} to {shape}")
    return input_data.reshape(shape)
