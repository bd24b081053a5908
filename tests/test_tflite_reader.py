"""The .tflite reader: what it finds in TensorFlow's files, and how it fails.

Every malformed input must raise TinyKWSError naming the problem, never an
IndexError, struct.error or a silent wrong parse.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinykws.errors import TinyKWSError
from tinykws.tflite.model import Graph, Operator, Tensor
from tinykws.tflite.reader import parse_tflite, read_tflite
from tinykws.tflite.writer import serialize_tflite


@pytest.fixture(scope="module")
def tiny_conv_bytes(reference_models_dir) -> bytes:
    return (reference_models_dir / "tiny_conv_int8.tflite").read_bytes()


def small_model() -> bytes:
    """A one-op SOFTMAX model written by our writer (no shared data needed)."""
    tensors = (Tensor("x", (1, 4), "int8", (0.1,), (3,)),
               Tensor("y", (1, 4), "int8", (1 / 256,), (-128,)))
    graph = Graph(tensors, (Operator("SOFTMAX", (0,), (1,), {"beta": 1.0}),), (0,), (1,))
    return serialize_tflite(graph)


def test_reads_tinyconv_structure_described_in_shared_readme(tiny_conv_bytes):
    graph = parse_tflite(tiny_conv_bytes)
    assert [op.op for op in graph.operators] == ["CONV_2D", "RESHAPE", "FULLY_CONNECTED",
                                                 "SOFTMAX"]
    assert graph.tensors[graph.inputs[0]].shape == (1, 49, 40, 1)
    assert graph.tensors[graph.inputs[0]].dtype == "int8"
    conv = graph.operators[0]
    weights = graph.tensors[conv.inputs[1]]
    assert weights.shape == (8, 10, 8, 1) and weights.data.dtype == np.int8
    assert len(weights.scale) == 8 and weights.quantized_dimension == 0
    assert conv.options["padding"] == "SAME" and conv.options["activation"] == "RELU"
    assert (conv.options["stride_h"], conv.options["stride_w"]) == (2, 2)
    out = graph.tensors[graph.outputs[0]]
    assert out.shape == (1, 4) and out.scale == (1 / 256,) and out.zero_point == (-128,)
    assert graph.min_runtime_version  # TF's converter always records it


def test_weights_equal_the_raw_little_endian_bytes_in_the_file(tiny_conv_bytes):
    """The conv bias (int32) read back is found verbatim in the file's bytes."""
    graph = parse_tflite(tiny_conv_bytes)
    bias = graph.tensors[graph.operators[0].inputs[2]].data
    assert bias.dtype == np.int32 and bias.shape == (8,)
    assert struct.pack("<8i", *bias.tolist()) in tiny_conv_bytes


def test_read_tflite_names_a_missing_file(tmp_path):
    with pytest.raises(TinyKWSError, match="missing.tflite"):
        read_tflite(tmp_path / "missing.tflite")


def test_bad_identifier_is_reported():
    data = bytearray(small_model())
    data[4:8] = b"ABCD"
    with pytest.raises(TinyKWSError, match="identifier"):
        parse_tflite(bytes(data))


def test_too_short_file_is_reported():
    with pytest.raises(TinyKWSError, match="too short"):
        parse_tflite(b"TFL3")


def test_every_truncation_is_reported():
    data = small_model()
    for cut in range(0, len(data) - 1, 3):
        with pytest.raises(TinyKWSError):
            parse_tflite(data[:cut])


def test_root_offset_outside_file_is_reported():
    data = bytearray(small_model())
    data[0:4] = struct.pack("<I", len(data) + 100)
    with pytest.raises(TinyKWSError, match="outside"):
        parse_tflite(bytes(data))


def test_unsupported_operator_is_named():
    """Patch the SOFTMAX opcode (25) of a written model to MUL (18), which we do not have."""
    data = small_model()
    graph = parse_tflite(data)
    assert graph.operators[0].op == "SOFTMAX"
    patched = bytearray(data)
    # builtin_code is an int32 25 and deprecated_builtin_code an int8 25 in the
    # OperatorCode table; replace both (the only 25s stored as such).
    index = bytes(patched).find(struct.pack("<i", 25))
    assert index >= 0
    patched[index:index + 4] = struct.pack("<i", 18)
    byte_index = bytes(patched).find(bytes([25]))
    patched[byte_index] = 18
    with pytest.raises(TinyKWSError, match=r"unsupported operator \(builtin code 18\)"):
        parse_tflite(bytes(patched))


@settings(max_examples=300)
@given(st.data())
def test_corrupted_bytes_raise_tinykws_error_or_parse(data):
    """Random byte corruption never escapes as anything but TinyKWSError."""
    model = bytearray(small_model())
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, len(model) - 1))
        model[pos] = data.draw(st.integers(0, 255))
    try:
        graph = parse_tflite(bytes(model))
    except TinyKWSError:
        return
    assert isinstance(graph, Graph)
