"""Parse a .tflite flatbuffer into a :class:`~tinykws.tflite.model.Graph`.

A flatbuffer is a little-endian byte string of tables, vectors and strings
that point at one another with 32-bit offsets:

- the file starts with a uint32 offset to the root table (``Model``) and the
  4-byte identifier ``TFL3``;
- a table starts with an int32 *soffset*; ``table - soffset`` is its vtable:
  uint16 vtable size, uint16 table size, then one uint16 per field slot giving
  the field's offset inside the table (0 = absent, use the default);
- a field holding a table, vector or string stores a uint32 offset relative
  to the field's own position; a vector is a uint32 length then its elements,
  a string the same plus a terminating NUL.

Every offset and length read here is checked against the file size before it
is followed, so a truncated or corrupt file raises :class:`TinyKWSError`
naming the problem instead of reading garbage or crashing. We parse by hand
(not with generated code) precisely to make those checks explicit.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from tinykws.errors import TinyKWSError
from tinykws.tflite import schema
from tinykws.tflite.model import Graph, Operator, Tensor
from tinykws.tflite.schema import Slot


class _Flatbuffer:
    """Bounds-checked little-endian access to the bytes of one file."""

    def __init__(self, data: bytes, source: str):
        self.data = data
        self.source = source

    def fail(self, what: str) -> TinyKWSError:
        return TinyKWSError(f"{self.source}: not a valid TFLite model: {what}")

    def _check(self, pos: int, size: int, what: str) -> None:
        if pos < 0 or size < 0 or pos + size > len(self.data):
            raise self.fail(f"{what} at byte {pos} (+{size}) lies outside the "
                            f"{len(self.data)}-byte file")

    def scalar(self, fmt: str, pos: int, what: str):
        size = struct.calcsize(fmt)
        self._check(pos, size, what)
        return struct.unpack_from("<" + fmt, self.data, pos)[0]

    def follow(self, pos: int, what: str) -> int:
        """Position an offset field at ``pos`` points to."""
        return pos + self.scalar("I", pos, what)

    def table(self, pos: int, what: str) -> "_Table":
        vtable = pos - self.scalar("i", pos, what)
        vtable_size = self.scalar("H", vtable, f"vtable of {what}")
        if vtable_size < 4 or vtable_size % 2:
            raise self.fail(f"vtable of {what} has bad size {vtable_size}")
        self._check(vtable, vtable_size, f"vtable of {what}")
        table_size = self.scalar("H", vtable + 2, f"vtable of {what}")
        self._check(pos, table_size, what)
        return _Table(self, pos, vtable, vtable_size, table_size, what)

    def vector(self, pos: int, elem_size: int, what: str) -> tuple[int, int]:
        """(start of elements, count) of the vector at ``pos``."""
        count = self.scalar("I", pos, f"length of {what}")
        self._check(pos + 4, count * elem_size, what)
        return pos + 4, count


class _Table:
    """One table: read fields by slot, with their schema defaults."""

    def __init__(self, fb: _Flatbuffer, pos: int, vtable: int, vtable_size: int,
                 table_size: int, what: str):
        self.fb, self.pos, self.vtable = fb, pos, vtable
        self.vtable_size, self.table_size, self.what = vtable_size, table_size, what

    def _field(self, slot: int) -> int | None:
        entry = 4 + 2 * slot
        if entry >= self.vtable_size:
            return None
        offset = self.fb.scalar("H", self.vtable + entry, f"vtable of {self.what}")
        if offset == 0:
            return None
        if offset >= self.table_size:
            raise self.fb.fail(f"field {slot} of {self.what} lies outside its table")
        return self.pos + offset

    def scalar(self, slot: int, fmt: str, default=0):
        pos = self._field(slot)
        return default if pos is None else self.fb.scalar(fmt, pos, f"field {slot} of {self.what}")

    def table(self, slot: int, what: str) -> "_Table | None":
        pos = self._field(slot)
        return None if pos is None else self.fb.table(self.fb.follow(pos, what), what)

    def vector(self, slot: int, fmt: str, what: str) -> np.ndarray | None:
        """A vector of scalars as a NumPy array (None when absent)."""
        pos = self._field(slot)
        if pos is None:
            return None
        dtype = np.dtype("<" + fmt)
        start, count = self.fb.vector(self.fb.follow(pos, what), dtype.itemsize, what)
        return np.frombuffer(self.fb.data, dtype, count, start).copy()

    def tables(self, slot: int, what: str) -> list["_Table"]:
        pos = self._field(slot)
        if pos is None:
            return []
        start, count = self.fb.vector(self.fb.follow(pos, what), 4, what)
        return [self.fb.table(self.fb.follow(start + 4 * i, f"{what}[{i}]"), f"{what}[{i}]")
                for i in range(count)]

    def string(self, slot: int, what: str) -> str:
        pos = self._field(slot)
        if pos is None:
            return ""
        start, count = self.fb.vector(self.fb.follow(pos, what), 1, what)
        try:
            return self.fb.data[start:start + count].decode("utf-8")
        except UnicodeDecodeError:
            raise self.fb.fail(f"{what} is not UTF-8") from None


def read_tflite(path: str | Path) -> Graph:
    """Read a .tflite file; see :func:`parse_tflite`."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise TinyKWSError(f"cannot read TFLite model {path}: {err.strerror}") from None
    return parse_tflite(data, source=str(path))


def parse_tflite(data: bytes, source: str = "<bytes>") -> Graph:
    """Parse the bytes of a single-subgraph TFLite model made of supported ops.

    Raises :class:`TinyKWSError` for a file that is truncated, lacks the
    ``TFL3`` identifier, has an offset or length outside the file, has a
    schema version other than 3, more than one subgraph, or an operator other
    than those in :data:`tinykws.tflite.schema.BUILTIN_OPERATOR`.
    """
    fb = _Flatbuffer(bytes(data), source)
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

    min_runtime = ""
    for entry in model.tables(Slot.MODEL_METADATA, "metadata"):
        if entry.string(Slot.METADATA_NAME, "metadata name") == "min_runtime_version":
            index = entry.scalar(Slot.METADATA_BUFFER, "I")
            if index >= len(buffers):
                raise fb.fail(f"metadata names buffer {index} of {len(buffers)}")
            min_runtime = buffers[index].split(b"\0", 1)[0].decode("ascii", "replace")
    return Graph(tensors=tensors, operators=operators, inputs=inputs, outputs=outputs,
                 name=sub.string(Slot.SUBGRAPH_NAME, "subgraph name"),
                 description=model.string(Slot.MODEL_DESCRIPTION, "description"),
                 min_runtime_version=min_runtime)


def _operator_name(fb: _Flatbuffer, code: _Table) -> str:
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


def _buffer_bytes(fb: _Flatbuffer, buf: _Table) -> bytes:
    data = buf.vector(Slot.BUFFER_DATA, "B", "buffer data")
    if data is not None:
        return data.tobytes()
    offset = buf.scalar(Slot.BUFFER_OFFSET, "Q")
    size = buf.scalar(Slot.BUFFER_SIZE, "Q")
    if offset > 1:  # data stored after the flatbuffer (models over 2 GB)
        fb._check(offset, size, "external buffer")
        return fb.data[offset:offset + size]
    return b""


def _indices(fb: _Flatbuffer, values: np.ndarray | None, n_tensors: int) -> tuple[int, ...]:
    if values is None:
        return ()
    for v in values:
        if not -1 <= v < n_tensors:
            raise fb.fail(f"tensor index {v} out of range (model has {n_tensors} tensors)")
    return tuple(int(v) for v in values)


def _tensor(fb: _Flatbuffer, t: _Table, buffers: list[bytes]) -> Tensor:
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
                  quantized_dimension=axis, data=data)


def _operator(fb: _Flatbuffer, op: _Table, op_names: list[str], n_tensors: int) -> Operator:
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


def _activation(fb: _Flatbuffer, code: int, op: str) -> str:
    if code not in schema.ACTIVATION_NAME:
        raise fb.fail(f"{op} has unsupported fused activation {code}")
    return schema.ACTIVATION_NAME[code]


def _options(fb: _Flatbuffer, op: str, t: _Table | None) -> dict:
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
    return {}


def buffer_locations(data: bytes) -> list[tuple[int, int]]:
    """(byte offset, length) of each buffer's data inside the file, in buffer order.

    Lets a test check the 16-byte alignment the schema asks for
    (``data:[ubyte] (force_align: 16)``); empty buffers give length 0.
    """
    fb = _Flatbuffer(bytes(data), "<bytes>")
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
