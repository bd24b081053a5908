"""A TFLite model as plain data: tensors, operators, one graph.

This is what :mod:`tinykws.tflite.reader` returns, what
:mod:`tinykws.tflite.writer` takes and what :mod:`tinykws.int8.runtime` runs.
A post-training converter builds a :class:`Graph` by listing tensors (weights
carry ``data``, activations do not) and operators that name tensors by their
index in that list.

Conventions (TFLite's):
- NHWC activations; CONV_2D weights (out, kh, kw, in); DEPTHWISE_CONV_2D
  weights (1, kh, kw, in * depth_multiplier); FULLY_CONNECTED weights
  (out, in); biases int32 with scale input_scale * weight_scale.
- Quantization is affine, ``real = scale * (q - zero_point)``. A per-tensor
  tensor has one scale and one zero point; a per-channel one has one of each
  per index along ``quantized_dimension`` (0 for conv and FC weights, 3 for
  depthwise weights). Scales are float32 in the file; we keep them as the
  Python floats of those float32 values.
- An absent optional input (a bias) is -1, TFLite's convention; but give a
  DEPTHWISE_CONV_2D without bias just two inputs: tflite-micro's depthwise
  Prepare takes three inputs to mean "has a bias" and crashes on -1.
- Operator ``options`` are a small dict of the op's builtin options, with
  names as in schema.fbs (``padding`` "SAME"/"VALID", ``stride_h``,
  ``stride_w``, ``dilation_h``, ``dilation_w``, ``depth_multiplier``,
  ``activation`` "NONE"/"RELU"/"RELU6"/"RELU_N1_TO_1", ``keep_num_dims``,
  ``beta``, ``new_shape``; the poolings' ``filter_height``/``filter_width``;
  MEAN's ``keep_dims``; SVDF's ``rank``).

Building a graph, e.g. in a post-training converter (lists, NumPy scalars and
arrays are accepted and stored as tuples of Python numbers)::

    tensors = [
        Tensor("logits", (1, 4), "int8", scale=(0.17,), zero_point=(-17,)),
        Tensor("probs", (1, 4), "int8", scale=(1 / 256,), zero_point=(-128,)),
    ]
    ops = [Operator("SOFTMAX", inputs=(0,), outputs=(1,), options={"beta": 1.0})]
    graph = Graph(tensors, ops, inputs=(0,), outputs=(1,))
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Tensor:
    """One tensor of the graph: a constant (``data`` set) or an activation.

    ``shape`` is the full static shape (batch first); ``dtype`` a NumPy dtype
    name ("int8", "int32", "float32", ...); ``scale``/``zero_point`` are
    empty tuples for a tensor without quantization. ``is_variable`` marks a
    state the interpreter keeps between invocations (SVDF's activation state).
    """

    name: str
    shape: tuple[int, ...]
    dtype: str
    scale: tuple[float, ...] = ()
    zero_point: tuple[int, ...] = ()
    quantized_dimension: int = 0
    data: np.ndarray | None = field(default=None, compare=False, repr=False)
    is_variable: bool = False

    def __post_init__(self):
        # Normalise what a converter may pass (lists, NumPy numbers) so that
        # tensors compare equal to what the reader returns.
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))
        object.__setattr__(self, "dtype", str(np.dtype(self.dtype)))
        object.__setattr__(self, "scale", tuple(float(v) for v in np.ravel(self.scale)))
        object.__setattr__(self, "zero_point", tuple(int(v) for v in np.ravel(self.zero_point)))
        object.__setattr__(self, "quantized_dimension", int(self.quantized_dimension))

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def is_per_channel(self) -> bool:
        return len(self.scale) > 1


@dataclass(frozen=True)
class Operator:
    """One builtin operator: its name (schema.fbs spelling) and tensor indices."""

    op: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: dict = field(default_factory=dict, compare=True)

    def __post_init__(self):
        object.__setattr__(self, "inputs", tuple(int(i) for i in self.inputs))
        object.__setattr__(self, "outputs", tuple(int(i) for i in self.outputs))
        object.__setattr__(self, "options", dict(self.options))


@dataclass(frozen=True)
class Graph:
    """A single-subgraph model: tensors, operators in execution order, I/O indices.

    ``min_runtime_version`` is the value of the model's metadata entry of that
    name (TFLite's converter writes e.g. "1.14.0"); ``description`` is the
    model's free-text description. ``metadata`` holds tinykws's own
    metadata entries, ``(name, bytes)`` in file order (the schema's
    ``Model.metadata``: a name and the index of a buffer holding the bytes);
    tinykws writes its feature settings there
    (:mod:`tinykws.tflite.feature_metadata`).
    """

    tensors: tuple[Tensor, ...]
    operators: tuple[Operator, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    name: str = "main"
    description: str = "tinykws"
    min_runtime_version: str = "1.14.0"
    metadata: tuple[tuple[str, bytes], ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "tensors", tuple(self.tensors))
        object.__setattr__(self, "operators", tuple(self.operators))
        object.__setattr__(self, "inputs", tuple(int(i) for i in self.inputs))
        object.__setattr__(self, "outputs", tuple(int(i) for i in self.outputs))
        object.__setattr__(self, "metadata", tuple((str(k), bytes(v)) for k, v in self.metadata))

    def constant(self, index: int) -> np.ndarray:
        """The data of constant tensor ``index`` (raises if it is an activation)."""
        data = self.tensors[index].data
        if data is None:
            raise ValueError(f"tensor {index} ({self.tensors[index].name}) has no data")
        return data
