"""The .tflite writer: files that real runtimes load, and our reader round-trips."""

from __future__ import annotations

import numpy as np
import pytest

from tinykws.tflite.model import Graph, Operator, Tensor
from tinykws.tflite.reader import buffer_locations, parse_tflite, read_tflite
from tinykws.tflite.writer import serialize_tflite, write_tflite


def f32(value: float) -> float:
    """The float32 value nearest ``value``: scales are float32 in the file."""
    return float(np.float32(value))


def conv_fc_graph() -> Graph:
    """A small CONV_2D(per-channel) -> RESHAPE -> FULLY_CONNECTED -> SOFTMAX graph."""
    rng = np.random.default_rng(0)
    w_scales = (f32(0.01), f32(0.02), f32(0.005))
    tensors = (
        Tensor("input", (1, 6, 5, 1), "int8", (f32(0.1),), (-128,)),
        Tensor("conv_w", (3, 3, 3, 1), "int8", w_scales, (0, 0, 0), 0,
               rng.integers(-127, 128, (3, 3, 3, 1)).astype(np.int8)),
        Tensor("conv_b", (3,), "int32", tuple(float(np.float32(0.1) * np.float32(s))
                                              for s in w_scales), (0, 0, 0), 0,
               rng.integers(-500, 500, 3).astype(np.int32)),
        Tensor("conv_out", (1, 3, 3, 3), "int8", (f32(0.05),), (-128,)),
        Tensor("shape", (2,), "int32", data=np.array([1, 27], np.int32)),
        Tensor("flat", (1, 27), "int8", (f32(0.05),), (-128,)),
        Tensor("fc_w", (4, 27), "int8", (f32(0.02),), (0,), 0,
               rng.integers(-127, 128, (4, 27)).astype(np.int8)),
        Tensor("fc_b", (4,), "int32", (float(np.float32(0.05) * np.float32(0.02)),), (0,), 0,
               rng.integers(-500, 500, 4).astype(np.int32)),
        Tensor("logits", (1, 4), "int8", (f32(0.2),), (5,)),
        Tensor("probs", (1, 4), "int8", (1 / 256,), (-128,)),
    )
    ops = (
        Operator("CONV_2D", (0, 1, 2), (3,), dict(padding="SAME", stride_h=2, stride_w=2,
                                                    dilation_h=1, dilation_w=1,
                                                    activation="RELU")),
        Operator("RESHAPE", (3, 4), (5,), {"new_shape": (1, 27)}),
        Operator("FULLY_CONNECTED", (5, 6, 7), (8,), {"activation": "NONE",
                                                      "keep_num_dims": False}),
        Operator("SOFTMAX", (8,), (9,), {"beta": 1.0}),
    )
    return Graph(tensors, ops, (0,), (9,))


def assert_same_graph(a: Graph, b: Graph) -> None:
    assert a == b  # names, shapes, dtypes, quantization, operators, options, I/O
    for ta, tb in zip(a.tensors, b.tensors):
        assert (ta.data is None) == (tb.data is None)
        if ta.data is not None:
            assert ta.data.dtype == tb.data.dtype
            np.testing.assert_array_equal(ta.data, tb.data)


def test_reader_round_trips_writer_output():
    graph = conv_fc_graph()
    assert_same_graph(parse_tflite(serialize_tflite(graph)), graph)


def test_reference_models_round_trip(reference_models_dir):
    for path in sorted(reference_models_dir.glob("*.tflite")):
        graph = read_tflite(path)
        data = serialize_tflite(graph)
        assert_same_graph(parse_tflite(data), graph)
        # TensorFlow's files store every constant; so must ours, each aligned.
        locations = buffer_locations(data)
        assert locations[0] == (0, 0)
        assert sum(t.data is not None for t in graph.tensors) + 1 == len(locations) - 1
        assert all(offset % 16 == 0 for offset, size in locations if size)


def test_header_version_and_metadata():
    data = serialize_tflite(conv_fc_graph())
    assert data[4:8] == b"TFL3"
    graph = parse_tflite(data)
    assert graph.min_runtime_version == "1.14.0"


def test_buffer_zero_empty_and_data_16_byte_aligned():
    data = serialize_tflite(conv_fc_graph())
    locations = buffer_locations(data)
    assert locations[0] == (0, 0)
    sizes = [size for _, size in locations[1:]]
    # 5 constant tensors + the metadata string.
    assert sizes == [27, 12, 8, 108, 16, 16]
    for offset, size in locations[1:]:
        assert offset % 16 == 0, f"buffer at byte {offset} is not 16-byte aligned"


def test_write_tflite_writes_the_bytes(tmp_path):
    path = write_tflite(conv_fc_graph(), tmp_path / "m.tflite")
    assert path.read_bytes() == serialize_tflite(conv_fc_graph())


def test_written_model_runs_in_tflite_micro_and_litert_identically():
    tflm = pytest.importorskip("tflite_micro").runtime
    litert = pytest.importorskip("ai_edge_litert.interpreter")
    data = serialize_tflite(conv_fc_graph())
    micro = tflm.Interpreter.from_bytes(data, arena_size=64 * 1024)
    ref = litert.Interpreter(model_content=data, num_threads=1,
                             experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF)
    ref.allocate_tensors()
    rng = np.random.default_rng(1)
    outputs = set()
    for _ in range(20):
        x = rng.integers(-128, 128, (1, 6, 5, 1), dtype=np.int8)
        micro.set_input(x, 0)
        micro.invoke()
        ref.set_tensor(ref.get_input_details()[0]["index"], x)
        ref.invoke()
        expected = ref.get_tensor(ref.get_output_details()[0]["index"])
        np.testing.assert_array_equal(micro.get_output(0), expected)
        outputs.add(expected.tobytes())
    assert len(outputs) > 1  # the model really computes something input-dependent


def test_writer_refuses_data_of_the_wrong_shape():
    graph = conv_fc_graph()
    bad = list(graph.tensors)
    bad[1] = Tensor("conv_w", (3, 3, 3, 1), "int8", (f32(0.01),), (0,), 0,
                    np.zeros((3, 3, 1, 1), np.int8))
    with pytest.raises(ValueError, match="data shape"):
        serialize_tflite(Graph(tuple(bad), graph.operators, graph.inputs, graph.outputs))


def test_graph_built_from_lists_and_numpy_values_equals_the_read_back_graph():
    """A converter may pass lists, NumPy scalars and arrays; they are stored as
    plain tuples, so the graph compares equal to what the reader returns."""
    scales = np.array([0.01, 0.02], np.float32)
    tensors = [
        Tensor("x", [1, 3], np.int8, scale=[np.float32(0.5)], zero_point=[np.int64(2)]),
        Tensor("w", np.array([2, 3]), "int8", scale=scales, zero_point=np.zeros(2, np.int64),
               data=np.ones((2, 3), np.int8)),
        Tensor("y", (1, 2), "int8", (0.25,), (0,)),
    ]
    ops = [Operator("FULLY_CONNECTED", [0, 1, -1], np.array([2]), {"activation": "RELU"})]
    graph = Graph(tensors, ops, [0], [2])
    assert graph.tensors[1].shape == (2, 3) and graph.tensors[1].dtype == "int8"
    assert graph.tensors[1].scale == (float(scales[0]), float(scales[1]))
    back = parse_tflite(serialize_tflite(graph))
    assert back.tensors == graph.tensors
    assert back.operators[0].inputs == (0, 1, -1) and back.inputs == (0,)
