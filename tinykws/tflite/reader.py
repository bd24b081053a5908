"""Parse a .tflite flatbuffer into a :class:`~tinykws.tflite.model.Graph`.

The bytes are read through the bounds-checked :mod:`tinykws.tflite.flatbuffer`
(so a truncated or corrupt file raises :class:`TinyKWSError` naming the
problem); this module knows TFLite's schema: the Model's subgraph, its
tensors with their buffers and quantization, and the operators with their
options (field slots in :mod:`tinykws.tflite.schema`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tinykws.errors import TinyKWSError
from tinykws.tflite import schema
from tinykws.tflite.flatbuffer import Flatbuffer, Table
from tinykws.tflite.model import Graph, Operator, Tensor
from tinykws.tflite.schema import Slot


# Metadata entries kept in Graph.metadata: ours. Others are dropped, notably
# TF's CONVERSION_METADATA, which describes a TF converter run and would be
# false in a file our writer produced from the graph.
TINYKWS_METADATA_PREFIX = "tinykws"


def read_tflite(path: str | Path) -> Graph:
    """Read a .tflite file; see :func:`parse_tflite`."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise TinyKWSError(f"cannot read TFLite model {path}: {err.strerror}") from None
    return parse_tflite(data, source=str(path))


MICRO_SPEECH_LABELS = ("_silence_", "_unknown_", "yes", "no")


def read_labelled_model(path: str | Path, labels=None) -> tuple[bytes, Graph, list[str]]:
    """``(bytes, graph, labels)`` of a ``.tflite`` model the commands run on clips.

    A ``.tflite`` does not name its outputs, so the caller does: ``labels`` is
    a list, a comma-separated string, or None for micro_speech's four. The
    file must exist and parse (:func:`parse_tflite`), and the labels must
    number its outputs; otherwise a one-line TinyKWSError.
    """
    path = Path(path)
    if not path.is_file():
        raise TinyKWSError(f"model {path} does not exist")
    blob = path.read_bytes()
    graph = parse_tflite(blob, str(path))
    if isinstance(labels, str):
        labels = [w.strip() for w in labels.split(",")]
    labels = list(labels or MICRO_SPEECH_LABELS)
    outputs = graph.tensors[graph.outputs[0]].shape[-1]
    if len(labels) != outputs:
        raise TinyKWSError(f"the model has {outputs} outputs but --labels names {len(labels)}")
    return blob, graph, labels


def parse_tflite(data: bytes, source: str = "<bytes>") -> Graph:
    """Parse the bytes of a single-subgraph TFLite model made of supported ops.

    Raises :class:`TinyKWSError` for a file that is truncated, lacks the
    ``TFL3`` identifier, has an offset or length outside the file, has a
    schema version other than 3, more than one subgraph, or an operator other
    than those in :data:`tinykws.tflite.schema.BUILTIN_OPERATOR`.
    """
    fb = Flatbuffer(bytes(data), source)
    if len(fb.data) < 8:
        raise fb.fail(f"only {len(fb.data)} bytes, too short for a flatbuffer header")
    if fb.data[4:8] != schema.FILE_IDENTIFIER:
        raise fb.fail(f"file identifier is {fb.data[4:8]!r}, expected {schema.FILE_IDENTIFIER!r}")
    model = fb.table(fb.follow(0, "root offset"), "Model")
    version = model.scalar(Slot.MODEL_VERSION, "I")
    if version != schema.SCHEMA_VERSION:
        raise fb.fail(f"schema version {version}, only {schema.SCHEMA_VERSION} is supported")

    op_names = [_operator_name(fb, code) for code in model.tables(Slot.MODEL_OPERATOR_CODES,
                                                                  "operator_codes")]
    buffers = [_buffer_bytes(fb, b) for b in model.tables(Slot.MODEL_BUFFERS, "buffers")]
    subgraphs = model.tables(Slot.MODEL_SUBGRAPHS, "subgraphs")
    if len(subgraphs) != 1:
        raise fb.fail(f"{len(subgraphs)} subgraphs, only single-subgraph models are supported")
    sub = subgraphs[0]

    tensors = tuple(_tensor(fb, t, buffers) for t in sub.tables(Slot.SUBGRAPH_TENSORS, "tensors"))
    operators = tuple(_operator(fb, op, op_names, len(tensors))
                      for op in sub.tables(Slot.SUBGRAPH_OPERATORS, "operators"))
    inputs = _indices(fb, sub.vector(Slot.SUBGRAPH_INPUTS, "i", "subgraph inputs"), len(tensors))
    outputs = _indices(fb, sub.vector(Slot.SUBGRAPH_OUTPUTS, "i", "subgraph outputs"), len(tensors))

    min_runtime, metadata = "", []
    for entry in model.tables(Slot.MODEL_METADATA, "metadata"):
        name = entry.string(Slot.METADATA_NAME, "metadata name")
        index = entry.scalar(Slot.METADATA_BUFFER, "I")
        if index >= len(buffers):
            raise fb.fail(f"metadata {name!r} names buffer {index} of {len(buffers)}")
        if name == "min_runtime_version":
            min_runtime = buffers[index].split(b"\0", 1)[0].decode("ascii", "replace")
        elif name.startswith(TINYKWS_METADATA_PREFIX):
            metadata.append((name, buffers[index]))
    return Graph(tensors=tensors, operators=operators, inputs=inputs, outputs=outputs,
                 name=sub.string(Slot.SUBGRAPH_NAME, "subgraph name"),
                 description=model.string(Slot.MODEL_DESCRIPTION, "description"),
                 min_runtime_version=min_runtime, metadata=tuple(metadata))


def _operator_name(fb: Flatbuffer, code: Table) -> str:
    # Old files only fill the int8 field; new ones fill both (the int8 one
    # saturating at 127), so the larger of the two is the real code.
    builtin = max(code.scalar(Slot.OPCODE_DEPRECATED_BUILTIN_CODE, "b"),
                  code.scalar(Slot.OPCODE_BUILTIN_CODE, "i"))
    custom = code.string(Slot.OPCODE_CUSTOM_CODE, "custom_code")
    if custom:
        raise fb.fail(f"custom operator {custom!r} is not supported")
    if builtin not in schema.OPERATOR_NAME:
        raise fb.fail(f"unsupported operator (builtin code {builtin}); supported: "
                      f"{', '.join(schema.BUILTIN_OPERATOR)}")
    return schema.OPERATOR_NAME[builtin]


def _buffer_bytes(fb: Flatbuffer, buf: Table) -> bytes:
    data = buf.vector(Slot.BUFFER_DATA, "B", "buffer data")
    if data is not None:
        return data.tobytes()
    offset = buf.scalar(Slot.BUFFER_OFFSET, "Q")
    size = buf.scalar(Slot.BUFFER_SIZE, "Q")
    if offset > 1:  # data stored after the flatbuffer (models over 2 GB)
        fb._check(offset, size, "external buffer")
        return fb.data[offset:offset + size]
    return b""


def _indices(fb: Flatbuffer, values: np.ndarray | None, n_tensors: int) -> tuple[int, ...]:
    if values is None:
        return ()
    for v in values:
        if not -1 <= v < n_tensors:
            raise fb.fail(f"tensor index {v} out of range (model has {n_tensors} tensors)")
    return tuple(int(v) for v in values)


def _tensor(fb: Flatbuffer, t: Table, buffers: list[bytes]) -> Tensor:
    name = t.string(Slot.TENSOR_NAME, "tensor name")
    shape = t.vector(Slot.TENSOR_SHAPE, "i", f"shape of tensor {name!r}")
    shape = () if shape is None else tuple(int(d) for d in shape)
    type_code = t.scalar(Slot.TENSOR_TYPE, "b")
    if type_code not in schema.TENSOR_TYPE_NAME:
        raise fb.fail(f"tensor {name!r} has unsupported type code {type_code}")
    dtype = schema.TENSOR_TYPE_NAME[type_code]
    if t.table(Slot.TENSOR_SPARSITY, "sparsity") is not None:
        raise fb.fail(f"tensor {name!r} is sparse; sparse tensors are not supported")

    scale, zero_point, axis = (), (), 0
    quant = t.table(Slot.TENSOR_QUANTIZATION, f"quantization of {name!r}")
    if quant is not None:
        s = quant.vector(Slot.QUANT_SCALE, "f", f"scales of {name!r}")
        z = quant.vector(Slot.QUANT_ZERO_POINT, "q", f"zero points of {name!r}")
        if s is not None and len(s):
            scale = tuple(float(v) for v in s)
            zero_point = tuple(int(v) for v in z) if z is not None else (0,) * len(s)
            if len(zero_point) != len(scale):
                raise fb.fail(f"tensor {name!r} has {len(scale)} scales but "
                              f"{len(zero_point)} zero points")
        axis = int(quant.scalar(Slot.QUANT_QUANTIZED_DIMENSION, "i"))
        if len(scale) > 1 and not (0 <= axis < len(shape) and shape[axis] == len(scale)):
            raise fb.fail(f"tensor {name!r}: {len(scale)} scales do not match dimension "
                          f"{axis} of shape {shape}")

    index = t.scalar(Slot.TENSOR_BUFFER, "I")
    if index >= len(buffers):
        raise fb.fail(f"tensor {name!r} names buffer {index} of {len(buffers)}")
    data = None
    raw = buffers[index]
    if raw:
        if any(d < 0 for d in shape):
            raise fb.fail(f"constant tensor {name!r} has a negative dimension in {shape}")
        dt = schema.NUMPY_DTYPE[dtype]
        count = int(np.prod(shape, dtype=np.int64))
        if len(raw) != count * dt.itemsize:
            raise fb.fail(f"tensor {name!r} of shape {shape} {dtype} needs "
                          f"{count * dt.itemsize} bytes, its buffer has {len(raw)}")
        data = np.frombuffer(raw, dt).astype(dtype).reshape(shape)
        data.flags.writeable = False
    return Tensor(name=name, shape=shape, dtype=dtype, scale=scale, zero_point=zero_point,
                  quantized_dimension=axis, data=data,
                  is_variable=bool(t.scalar(Slot.TENSOR_IS_VARIABLE, "B")))


def _operator(fb: Flatbuffer, op: Table, op_names: list[str], n_tensors: int) -> Operator:
    index = op.scalar(Slot.OPERATOR_OPCODE_INDEX, "I")
    if index >= len(op_names):
        raise fb.fail(f"operator uses opcode {index} of {len(op_names)}")
    name = op_names[index]
    inputs = _indices(fb, op.vector(Slot.OPERATOR_INPUTS, "i", f"{name} inputs"), n_tensors)
    outputs = _indices(fb, op.vector(Slot.OPERATOR_OUTPUTS, "i", f"{name} outputs"), n_tensors)
    tag = op.scalar(Slot.OPERATOR_BUILTIN_OPTIONS_TYPE, "B")
    table = op.table(Slot.OPERATOR_BUILTIN_OPTIONS, f"{name} options")
    expected = schema.BUILTIN_OPTIONS[schema.OPTIONS_OF[name]]
    if table is not None and tag != expected:
        raise fb.fail(f"{name} carries options of union type {tag}, expected {expected}")
    return Operator(op=name, inputs=inputs, outputs=outputs,
                    options=_options(fb, name, table))


def _activation(fb: Flatbuffer, code: int, op: str) -> str:
    if code not in schema.ACTIVATION_NAME:
        raise fb.fail(f"{op} has unsupported fused activation {code}")
    return schema.ACTIVATION_NAME[code]


def _options(fb: Flatbuffer, op: str, t: Table | None) -> dict:
    """The builtin options of ``op`` as a dict, with schema defaults if absent."""
    if op in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        if t is None:
            raise fb.fail(f"{op} has no options")
        conv = op == "CONV_2D"
        padding = t.scalar(Slot.CONV_PADDING if conv else Slot.DW_PADDING, "b")
        if padding not in schema.PADDING_NAME:
            raise fb.fail(f"{op} has unknown padding {padding}")
        options = {
            "padding": schema.PADDING_NAME[padding],
            "stride_h": t.scalar(Slot.CONV_STRIDE_H if conv else Slot.DW_STRIDE_H, "i"),
            "stride_w": t.scalar(Slot.CONV_STRIDE_W if conv else Slot.DW_STRIDE_W, "i"),
            "dilation_h": t.scalar(Slot.CONV_DILATION_H if conv else Slot.DW_DILATION_H, "i", 1),
            "dilation_w": t.scalar(Slot.CONV_DILATION_W if conv else Slot.DW_DILATION_W, "i", 1),
            "activation": _activation(
                fb, t.scalar(Slot.CONV_ACTIVATION if conv else Slot.DW_ACTIVATION, "b"), op),
        }
        if not conv:
            options["depth_multiplier"] = t.scalar(Slot.DW_DEPTH_MULTIPLIER, "i")
        if min(options["stride_h"], options["stride_w"], options["dilation_h"],
               options["dilation_w"]) < 1:
            raise fb.fail(f"{op} has a stride or dilation below 1: {options}")
        return options
    if op == "FULLY_CONNECTED":
        if t is None:
            return {"activation": "NONE", "keep_num_dims": False}
        if t.scalar(Slot.FC_WEIGHTS_FORMAT, "b") != 0:
            raise fb.fail("FULLY_CONNECTED with shuffled weights is not supported")
        return {"activation": _activation(fb, t.scalar(Slot.FC_ACTIVATION, "b"), op),
                "keep_num_dims": bool(t.scalar(Slot.FC_KEEP_NUM_DIMS, "B"))}
    if op == "SOFTMAX":
        return {"beta": float(t.scalar(Slot.SOFTMAX_BETA, "f", 0.0)) if t is not None else 0.0}
    if op == "RESHAPE":
        shape = None if t is None else t.vector(Slot.RESHAPE_NEW_SHAPE, "i", "new_shape")
        return {"new_shape": None if shape is None else tuple(int(d) for d in shape)}
    if op in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        return _pool_options(fb, op, t)
    if op == "ADD":
        activation = 0 if t is None else t.scalar(Slot.ADD_ACTIVATION, "b")
        return {"activation": _activation(fb, activation, op)}
    if op == "MEAN":
        return {"keep_dims": t is not None and bool(t.scalar(Slot.REDUCER_KEEP_DIMS, "B"))}
    if op == "SVDF":
        if t is None:
            raise fb.fail("SVDF has no options")
        return {"rank": t.scalar(Slot.SVDF_RANK, "i"),
                "activation": _activation(fb, t.scalar(Slot.SVDF_ACTIVATION, "b"), op)}
    return {}


def _pool_options(fb: Flatbuffer, op: str, t: Table | None) -> dict:
    """Pool2DOptions: padding, strides, window, fused activation."""
    if t is None:
        raise fb.fail(f"{op} has no options")
    padding = t.scalar(Slot.POOL_PADDING, "b")
    if padding not in schema.PADDING_NAME:
        raise fb.fail(f"{op} has unknown padding {padding}")
    options = {"padding": schema.PADDING_NAME[padding],
               "stride_h": t.scalar(Slot.POOL_STRIDE_H, "i"),
               "stride_w": t.scalar(Slot.POOL_STRIDE_W, "i"),
               "filter_height": t.scalar(Slot.POOL_FILTER_HEIGHT, "i"),
               "filter_width": t.scalar(Slot.POOL_FILTER_WIDTH, "i"),
               "activation": _activation(fb, t.scalar(Slot.POOL_ACTIVATION, "b"), op)}
    if min(options["stride_h"], options["stride_w"], options["filter_height"],
           options["filter_width"]) < 1:
        raise fb.fail(f"{op} has a stride or window below 1: {options}")
    return options


def buffer_locations(data: bytes) -> list[tuple[int, int]]:
    """(byte offset, length) of each buffer's data inside the file, in buffer order.

    Lets a test check the 16-byte alignment the schema asks for
    (``data:[ubyte] (force_align: 16)``); empty buffers give length 0.
    """
    fb = Flatbuffer(bytes(data), "<bytes>")
    model = fb.table(fb.follow(0, "root offset"), "Model")
    out = []
    for buf in model.tables(Slot.MODEL_BUFFERS, "buffers"):
        pos = buf._field(Slot.BUFFER_DATA)
        if pos is None:
            out.append((0, 0))
            continue
        start, count = fb.vector(fb.follow(pos, "buffer data"), 1, "buffer data")
        out.append((start, count))
    return out
