"""Write a :class:`~tinykws.tflite.model.Graph` as a .tflite flatbuffer.

The layout is the one in :mod:`tinykws.tflite.schema` (our transcription of
schema.fbs); the ``flatbuffers`` package's ``Builder`` only does the byte
packing. What the file contains, following what TensorFlow's converter writes:

- schema ``version`` 3 and the ``TFL3`` identifier;
- ``operator_codes``: one per distinct operator, in order of first use, with
  the code in both ``builtin_code`` and the legacy int8 field (capped at 127);
- one subgraph with the tensors, the operators in execution order, the input
  and output tensor indices;
- ``buffers``: buffer 0 is the empty buffer every activation tensor points
  to; each constant tensor gets its own buffer whose bytes start on a 16-byte
  boundary (``force_align: 16`` in the schema; tflite-micro reads weights in
  place, so misaligned int32 biases would be unaligned loads);
- quantization per tensor: scales (float32), zero points (int64) and
  ``quantized_dimension`` for per-channel weights;
- metadata ``min_runtime_version``: a 16-byte NUL-padded ASCII string, as TF
  writes; then each of ``graph.metadata`` (e.g. tinykws's feature settings),
  a name and a buffer of its bytes.

The Builder writes back to front: every vector, string and child table must be
finished before the table that points to it is started.
"""

from __future__ import annotations

from pathlib import Path

import flatbuffers
import numpy as np

from tinykws.atomic import write_bytes
from tinykws.tflite import schema
from tinykws.tflite.model import Graph, Operator, Tensor
from tinykws.tflite.schema import Slot

BUFFER_ALIGNMENT = 16
# Operator versions TFLite assigns to these ops with int8 tensors.
OPERATOR_VERSION = {"CONV_2D": 3, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 4, "SOFTMAX": 2,
                    "RESHAPE": 1, "QUANTIZE": 2, "DEQUANTIZE": 2, "AVERAGE_POOL_2D": 2,
                    "MAX_POOL_2D": 2, "ADD": 2, "MEAN": 2, "SVDF": 3}


def write_tflite(graph: Graph, path: str | Path) -> Path:
    """Serialise ``graph`` to ``path`` (atomically)."""
    return write_bytes(path, serialize_tflite(graph))


def serialize_tflite(graph: Graph) -> bytes:
    """The .tflite bytes of ``graph``."""
    _check(graph)
    b = flatbuffers.Builder(4096)

    # Buffers: 0 is empty; then one per constant tensor; then the metadata string.
    buffer_of: dict[int, int] = {}
    payloads: list[bytes] = [b""]
    for i, t in enumerate(graph.tensors):
        if t.data is not None:
            buffer_of[i] = len(payloads)
            dtype = schema.NUMPY_DTYPE[t.dtype]
            payloads.append(np.ascontiguousarray(t.data, dtype=dtype).tobytes())
    metadata_entries = [("min_runtime_version",
                         graph.min_runtime_version.encode("ascii").ljust(16, b"\0"))]
    metadata_entries += list(graph.metadata)
    metadata_buffers = []
    for _, data in metadata_entries:
        metadata_buffers.append(len(payloads))
        payloads.append(data)
    buffer_offsets = [_buffer(b, data) for data in payloads]

    op_names = list(dict.fromkeys(op.op for op in graph.operators))
    opcode_offsets = [_operator_code(b, name) for name in op_names]
    tensor_offsets = [_tensor(b, t, buffer_of.get(i, 0)) for i, t in enumerate(graph.tensors)]
    operator_offsets = [_operator(b, op, op_names.index(op.op), graph) for op in graph.operators]

    tensors_vec = _offset_vector(b, tensor_offsets)
    inputs_vec = _int_vector(b, graph.inputs)
    outputs_vec = _int_vector(b, graph.outputs)
    operators_vec = _offset_vector(b, operator_offsets)
    sub_name = b.CreateString(graph.name)
    b.StartObject(5)
    b.PrependUOffsetTRelativeSlot(Slot.SUBGRAPH_TENSORS, tensors_vec, 0)
    b.PrependUOffsetTRelativeSlot(Slot.SUBGRAPH_INPUTS, inputs_vec, 0)
    b.PrependUOffsetTRelativeSlot(Slot.SUBGRAPH_OUTPUTS, outputs_vec, 0)
    b.PrependUOffsetTRelativeSlot(Slot.SUBGRAPH_OPERATORS, operators_vec, 0)
    b.PrependUOffsetTRelativeSlot(Slot.SUBGRAPH_NAME, sub_name, 0)
    subgraph = b.EndObject()

    metadata = [_metadata(b, name, buffer)
                for (name, _), buffer in zip(metadata_entries, metadata_buffers)]

    opcodes_vec = _offset_vector(b, opcode_offsets)
    subgraphs_vec = _offset_vector(b, [subgraph])
    description = b.CreateString(graph.description)
    buffers_vec = _offset_vector(b, buffer_offsets)
    metadata_vec = _offset_vector(b, metadata)
    b.StartObject(7)
    b.PrependUint32Slot(Slot.MODEL_VERSION, schema.SCHEMA_VERSION, 0)
    b.PrependUOffsetTRelativeSlot(Slot.MODEL_OPERATOR_CODES, opcodes_vec, 0)
    b.PrependUOffsetTRelativeSlot(Slot.MODEL_SUBGRAPHS, subgraphs_vec, 0)
    b.PrependUOffsetTRelativeSlot(Slot.MODEL_DESCRIPTION, description, 0)
    b.PrependUOffsetTRelativeSlot(Slot.MODEL_BUFFERS, buffers_vec, 0)
    b.PrependUOffsetTRelativeSlot(Slot.MODEL_METADATA, metadata_vec, 0)
    model = b.EndObject()
    b.Finish(model, file_identifier=schema.FILE_IDENTIFIER)
    return bytes(b.Output())


def _check(graph: Graph) -> None:
    """Refuse graphs the file could not describe (indices, ops, data sizes)."""
    n = len(graph.tensors)
    for op in graph.operators:
        if op.op not in schema.BUILTIN_OPERATOR:
            raise ValueError(f"unsupported operator {op.op!r}")
        for i in op.inputs + op.outputs:
            if not -1 <= i < n:
                raise ValueError(f"{op.op} names tensor {i} of {n}")
    for i in graph.inputs + graph.outputs:
        if not 0 <= i < n:
            raise ValueError(f"graph input/output names tensor {i} of {n}")
    for t in graph.tensors:
        if t.dtype not in schema.TENSOR_TYPE:
            raise ValueError(f"tensor {t.name!r} has unsupported dtype {t.dtype!r}")
        if t.data is not None and tuple(np.shape(t.data)) != tuple(t.shape):
            raise ValueError(f"tensor {t.name!r}: data shape {np.shape(t.data)} != {t.shape}")
        if len(t.scale) != len(t.zero_point):
            raise ValueError(f"tensor {t.name!r}: {len(t.scale)} scales, "
                             f"{len(t.zero_point)} zero points")


def _buffer(b: flatbuffers.Builder, data: bytes) -> int:
    """A Buffer table; non-empty data starts on a 16-byte boundary of the file."""
    data_vec = None
    if data:
        # Aligned relative to the end of the buffer; Finish pads the whole
        # file to a multiple of the largest alignment used, so it is aligned
        # relative to the start as well.
        b.StartVector(1, len(data), BUFFER_ALIGNMENT)
        b.head -= len(data)
        b.Bytes[b.head:b.head + len(data)] = data
        data_vec = b.EndVector()
    b.StartObject(3)
    if data_vec is not None:
        b.PrependUOffsetTRelativeSlot(Slot.BUFFER_DATA, data_vec, 0)
    return b.EndObject()


def _metadata(b: flatbuffers.Builder, name: str, buffer: int) -> int:
    """A Metadata table: the entry's name and the index of the buffer holding its bytes."""
    name_offset = b.CreateString(name)
    b.StartObject(2)
    b.PrependUOffsetTRelativeSlot(Slot.METADATA_NAME, name_offset, 0)
    b.PrependUint32Slot(Slot.METADATA_BUFFER, buffer, 0)
    return b.EndObject()


def _operator_code(b: flatbuffers.Builder, name: str) -> int:
    code = schema.BUILTIN_OPERATOR[name]
    b.StartObject(4)
    b.PrependInt8Slot(Slot.OPCODE_DEPRECATED_BUILTIN_CODE,
                      min(code, schema.PLACEHOLDER_FOR_GREATER_OP_CODES), 0)
    b.PrependInt32Slot(Slot.OPCODE_VERSION, OPERATOR_VERSION[name], 1)
    b.PrependInt32Slot(Slot.OPCODE_BUILTIN_CODE, code, 0)
    return b.EndObject()


def _int_vector(b: flatbuffers.Builder, values) -> int:
    return b.CreateNumpyVector(np.asarray(values, dtype=np.int32).reshape(-1))


def _offset_vector(b: flatbuffers.Builder, offsets: list[int]) -> int:
    b.StartVector(4, len(offsets), 4)
    for off in reversed(offsets):
        b.PrependUOffsetTRelative(off)
    return b.EndVector()


def _tensor(b: flatbuffers.Builder, t: Tensor, buffer: int) -> int:
    quant = None
    if t.scale:
        scale_vec = b.CreateNumpyVector(np.asarray(t.scale, dtype=np.float32))
        zp_vec = b.CreateNumpyVector(np.asarray(t.zero_point, dtype=np.int64))
        b.StartObject(7)
        b.PrependUOffsetTRelativeSlot(Slot.QUANT_SCALE, scale_vec, 0)
        b.PrependUOffsetTRelativeSlot(Slot.QUANT_ZERO_POINT, zp_vec, 0)
        b.PrependInt32Slot(Slot.QUANT_QUANTIZED_DIMENSION, t.quantized_dimension, 0)
        quant = b.EndObject()
    shape_vec = _int_vector(b, t.shape)
    name = b.CreateString(t.name)
    b.StartObject(6)
    b.PrependUOffsetTRelativeSlot(Slot.TENSOR_SHAPE, shape_vec, 0)
    # Write the type even when it is the default (FLOAT32 = 0) so the field is explicit.
    b.PrependInt8Slot(Slot.TENSOR_TYPE, schema.TENSOR_TYPE[t.dtype], -1)
    b.PrependUint32Slot(Slot.TENSOR_BUFFER, buffer, 0)
    b.PrependUOffsetTRelativeSlot(Slot.TENSOR_NAME, name, 0)
    if quant is not None:
        b.PrependUOffsetTRelativeSlot(Slot.TENSOR_QUANTIZATION, quant, 0)
    b.PrependBoolSlot(Slot.TENSOR_IS_VARIABLE, t.is_variable, False)
    return b.EndObject()


def _operator(b: flatbuffers.Builder, op: Operator, opcode_index: int, graph: Graph) -> int:
    options = _options(b, op)
    inputs_vec = _int_vector(b, op.inputs)
    outputs_vec = _int_vector(b, op.outputs)
    b.StartObject(5)
    b.PrependUint32Slot(Slot.OPERATOR_OPCODE_INDEX, opcode_index, 0)
    b.PrependUOffsetTRelativeSlot(Slot.OPERATOR_INPUTS, inputs_vec, 0)
    b.PrependUOffsetTRelativeSlot(Slot.OPERATOR_OUTPUTS, outputs_vec, 0)
    b.PrependUint8Slot(Slot.OPERATOR_BUILTIN_OPTIONS_TYPE,
                       schema.BUILTIN_OPTIONS[schema.OPTIONS_OF[op.op]], 0)
    b.PrependUOffsetTRelativeSlot(Slot.OPERATOR_BUILTIN_OPTIONS, options, 0)
    return b.EndObject()


def _options(b: flatbuffers.Builder, op: Operator) -> int:
    """The builtin options table of ``op`` (an empty table for QUANTIZE/DEQUANTIZE)."""
    o = op.options
    if op.op == "CONV_2D":
        b.StartObject(7)
        b.PrependInt8Slot(Slot.CONV_PADDING, schema.PADDING[o["padding"]], -1)
        b.PrependInt32Slot(Slot.CONV_STRIDE_W, o["stride_w"], 0)
        b.PrependInt32Slot(Slot.CONV_STRIDE_H, o["stride_h"], 0)
        b.PrependInt8Slot(Slot.CONV_ACTIVATION, schema.ACTIVATION[o.get("activation", "NONE")], -1)
        b.PrependInt32Slot(Slot.CONV_DILATION_W, o.get("dilation_w", 1), 1)
        b.PrependInt32Slot(Slot.CONV_DILATION_H, o.get("dilation_h", 1), 1)
        return b.EndObject()
    if op.op == "DEPTHWISE_CONV_2D":
        b.StartObject(7)
        b.PrependInt8Slot(Slot.DW_PADDING, schema.PADDING[o["padding"]], -1)
        b.PrependInt32Slot(Slot.DW_STRIDE_W, o["stride_w"], 0)
        b.PrependInt32Slot(Slot.DW_STRIDE_H, o["stride_h"], 0)
        b.PrependInt32Slot(Slot.DW_DEPTH_MULTIPLIER, o["depth_multiplier"], 0)
        b.PrependInt8Slot(Slot.DW_ACTIVATION, schema.ACTIVATION[o.get("activation", "NONE")], -1)
        b.PrependInt32Slot(Slot.DW_DILATION_W, o.get("dilation_w", 1), 1)
        b.PrependInt32Slot(Slot.DW_DILATION_H, o.get("dilation_h", 1), 1)
        return b.EndObject()
    if op.op == "FULLY_CONNECTED":
        b.StartObject(3)
        b.PrependInt8Slot(Slot.FC_ACTIVATION, schema.ACTIVATION[o.get("activation", "NONE")], -1)
        b.PrependBoolSlot(Slot.FC_KEEP_NUM_DIMS, bool(o.get("keep_num_dims", False)), False)
        return b.EndObject()
    if op.op == "SOFTMAX":
        b.StartObject(1)
        b.PrependFloat32Slot(Slot.SOFTMAX_BETA, float(o.get("beta", 1.0)), float("nan"))
        return b.EndObject()
    if op.op == "RESHAPE":
        new_shape = o.get("new_shape")
        shape_vec = None if new_shape is None else _int_vector(b, new_shape)
        b.StartObject(1)
        if shape_vec is not None:
            b.PrependUOffsetTRelativeSlot(Slot.RESHAPE_NEW_SHAPE, shape_vec, 0)
        return b.EndObject()
    if op.op in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        b.StartObject(6)
        b.PrependInt8Slot(Slot.POOL_PADDING, schema.PADDING[o["padding"]], -1)
        b.PrependInt32Slot(Slot.POOL_STRIDE_W, o["stride_w"], 0)
        b.PrependInt32Slot(Slot.POOL_STRIDE_H, o["stride_h"], 0)
        b.PrependInt32Slot(Slot.POOL_FILTER_WIDTH, o["filter_width"], 0)
        b.PrependInt32Slot(Slot.POOL_FILTER_HEIGHT, o["filter_height"], 0)
        b.PrependInt8Slot(Slot.POOL_ACTIVATION, schema.ACTIVATION[o.get("activation", "NONE")], -1)
        return b.EndObject()
    if op.op == "ADD":
        b.StartObject(2)  # pot_scale_int16 left at its default: int8 ignores it
        b.PrependInt8Slot(Slot.ADD_ACTIVATION, schema.ACTIVATION[o.get("activation", "NONE")], -1)
        return b.EndObject()
    if op.op == "MEAN":
        b.StartObject(1)
        b.PrependBoolSlot(Slot.REDUCER_KEEP_DIMS, bool(o.get("keep_dims", False)), None)
        return b.EndObject()
    if op.op == "SVDF":
        b.StartObject(3)  # asymmetric_quantize_inputs left false: a full-int8 model
        b.PrependInt32Slot(Slot.SVDF_RANK, o["rank"], 0)
        b.PrependInt8Slot(Slot.SVDF_ACTIVATION, schema.ACTIVATION[o.get("activation", "NONE")], -1)
        return b.EndObject()
    b.StartObject(0)  # QuantizeOptions / DequantizeOptions have no fields
    return b.EndObject()
