"""Int8 SVDF against tflite-micro, bit for bit, over several invocations (the state carries over).

Hypothesis writes random single-SVDF models with our writer (int8 input and
feature weights, int16 time weights and variable activation state, int32
bias), our reader parses them back, and tflite-micro, our NumPy reference and
our Numba kernel (through :class:`Int8Runtime`, which keeps the state between
calls) must give the same output *and* the same state after every
invocation, over shapes, ranks, memory sizes and quantization parameters.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from test_int8_vs_tflm import SCALE, f32, int8_tensor, random_scale, seeds, tflm_interpreter
from tinykws.errors import TinyKWSError
from tinykws.int8.runtime import Int8Runtime
from tinykws.tflite.model import Graph, Operator, Tensor
from tinykws.tflite.reader import parse_tflite
from tinykws.tflite.writer import serialize_tflite

pytest.importorskip("tflite_micro", reason="tflite-micro not installed")

N_SVDF = 300 * SCALE
STATE = 4  # the state's tensor index in the graphs below


def svdf_graph(rng, batch, n_input, units, rank, memory, *, in_zp=0, out_zp=0, state_zp=0,
               e1=2.0 ** -6, e2=2.0 ** -14, time_spread=32767, bias_spread=2 ** 20,
               activation="NONE") -> Graph:
    """One SVDF op; ``e1``, ``e2`` are the effective scales (input x feature -> state,
    state x time -> output) the drawn float32 scales give, up to float32 rounding."""
    filters = units * rank
    s_in, s_wf, s_wt = (random_scale(rng, -8, 0) for _ in range(3))
    s_state = f32(s_in * s_wf / e1)
    s_out = f32(s_state * s_wt / e2)
    s_bias = float(np.float32(s_state) * np.float32(s_wt))
    wf = rng.integers(-127, 128, (filters, n_input)).astype(np.int8)
    wt = rng.integers(-time_spread, time_spread + 1, (filters, memory)).astype(np.int16)
    bias = rng.integers(-bias_spread, bias_spread + 1, units).astype(np.int32)
    tensors = (int8_tensor("input", (batch, n_input), s_in, in_zp),
               int8_tensor("weights_feature", wf.shape, s_wf, 0, wf),
               Tensor("weights_time", wt.shape, "int16", (s_wt,), (0,), data=wt),
               Tensor("bias", (units,), "int32", (s_bias,), (0,), data=bias),
               Tensor("state", (batch, memory * filters), "int16", (s_state,), (state_zp,),
                      is_variable=True),
               int8_tensor("output", (batch, units), s_out, out_zp))
    op = Operator("SVDF", (0, 1, 2, 3, STATE), (5,), {"rank": rank, "activation": activation})
    return Graph(tensors, (op,), (0,), (5,))


@st.composite
def svdf_cases(draw):
    rng = np.random.default_rng(draw(seeds))
    shape = dict(batch=draw(st.integers(1, 2)), n_input=draw(st.integers(1, 12)),
                 units=draw(st.integers(1, 4)), rank=draw(st.integers(1, 3)),
                 memory=draw(st.integers(1, 8)))
    e1, time_spread = 2.0 ** rng.uniform(-14, 3), draw(st.sampled_from([100, 4000, 32767]))
    # e2 around the one that brings a typical time sum into int8's range, 16x either way
    typical = e1 * 80 * 75 * np.sqrt(shape["n_input"]) * time_spread * np.sqrt(shape["memory"])
    quant = dict(in_zp=draw(st.integers(-128, 127)), out_zp=draw(st.integers(-128, 127)),
                 state_zp=draw(st.sampled_from([0, 0, 0, 5, -300])), e1=e1,
                 e2=2.0 ** rng.uniform(-4, 4) * 60 / min(typical, 2 ** 31), time_spread=time_spread,
                 bias_spread=int(min(typical, 2 ** 30)),
                 activation=draw(st.sampled_from(["NONE", "RELU"])))
    graph = svdf_graph(rng, **shape, **quant)
    # tflite-micro's svdf_common.cc requires |bias scale - state scale * time scale| < 1e-5
    # (an absolute bound, in double): a float32 bias scale meets it only for products below
    # about 100, so draws with a larger state scale are models it would refuse.
    s_wt, s_bias, s_state = (graph.tensors[i].scale[0] for i in (2, 3, STATE))
    assume(abs(s_bias - s_state * s_wt) < 1e-5)
    frames = rng.integers(-128, 128, (draw(st.integers(1, 2 * shape["memory"] + 2)),
                                      shape["batch"], shape["n_input"])).astype(np.int8)
    return graph, frames


def assert_streams_like_tflm(graph: Graph, frames: np.ndarray) -> None:
    """Every invocation's output and state equal tflite-micro's, both backends."""
    model = serialize_tflite(graph)
    parsed = parse_tflite(model)
    assert parsed.tensors[STATE].is_variable
    interpreter = tflm_interpreter(model)
    runtimes = (Int8Runtime(parsed, backend="numpy"), Int8Runtime(parsed))
    for t, x in enumerate(frames):
        interpreter.set_input(x, 0)
        interpreter.invoke()
        expected = interpreter.get_output(0)
        expected_state = interpreter.GetTensor(STATE, 0)["tensor_data"]
        for runtime in runtimes:
            values = runtime.run(x, keep_all=True)
            np.testing.assert_array_equal(values[5], expected,
                                          err_msg=f"{runtime.backend}, frame {t}: output")
            np.testing.assert_array_equal(values[STATE], expected_state,
                                          err_msg=f"{runtime.backend}, frame {t}: state")


@settings(max_examples=N_SVDF, deadline=None)
@given(svdf_cases())
def test_svdf_random_models_match_tflm_over_several_invocations(case):
    assert_streams_like_tflm(*case)


def test_svdf_time_sum_wraps_in_int32_as_tflm_does():
    """Full-range time weights over a long memory of saturated states overflow int32."""
    rng = np.random.default_rng(4)
    graph = svdf_graph(rng, 1, 8, 2, 1, 40, e1=1.0, e2=2.0 ** -30)
    wt = np.full((2, 40), 32767, np.int16)
    tensors = list(graph.tensors)
    tensors[2] = Tensor("weights_time", wt.shape, "int16", tensors[2].scale, (0,), data=wt)
    graph = Graph(tensors, graph.operators, graph.inputs, graph.outputs)
    frames = np.full((40, 1, 8), 127, np.int8)
    assert_streams_like_tflm(graph, frames)  # 40 * 32767**2 > 2**31: the sum wraps


def test_effective_scales_are_the_double_products_of_the_float32_scales():
    """svdf_common.cc multiplies the float scales as floats, yet the tflite-micro
    build measured here rounds as if the products were taken in double: on these
    scales the two give multipliers that round one feature output differently
    (-18673 in double, -18674 in float32), and tflite-micro says -18673."""
    s_in, s_wf, s_state = 0.004281170666217804, 0.3550666868686676, 0.0009112384868785739
    wf, wt = np.array([[58]], np.int8), np.array([[1]], np.int16)
    tensors = (int8_tensor("input", (1, 1), s_in, 65), int8_tensor("weights_feature", (1, 1), s_wf, 0, wf),
               Tensor("weights_time", (1, 1), "int16", (0.01,), (0,), data=wt),
               Tensor("bias", (1,), "int32", (f32(np.float32(s_state) * np.float32(0.01)),), (0,),
                      data=np.zeros(1, np.int32)),
               Tensor("state", (1, 1), "int16", (s_state,), (0,), is_variable=True),
               int8_tensor("output", (1, 1), 1.0, 0))
    graph = Graph(tensors, (Operator("SVDF", (0, 1, 2, 3, 4), (5,), {"rank": 1}),), (0,), (5,))
    x = np.array([[-128]], np.int8)  # dot = 58 * (-128 - 65) = -11194
    assert Int8Runtime(graph).run(x, keep_all=True)[STATE].item() == -18673
    assert_streams_like_tflm(graph, x[None])


def test_reset_state_starts_a_new_stream_as_tflm_reset_does():
    rng = np.random.default_rng(1)
    graph = svdf_graph(rng, 1, 5, 3, 2, 4)
    model = serialize_tflite(graph)
    frames = rng.integers(-128, 128, (6, 1, 5)).astype(np.int8)
    runtime, interpreter = Int8Runtime(parse_tflite(model)), tflm_interpreter(model)
    first = [runtime.run(x) for x in frames]
    runtime.reset_state()
    interpreter.reset()
    for x, before in zip(frames, first):
        interpreter.set_input(x, 0)
        interpreter.invoke()
        again = runtime.run(x)
        np.testing.assert_array_equal(again, before)
        np.testing.assert_array_equal(again, interpreter.get_output(0))
    assert not np.array_equal(runtime.run(frames[0]), first[0])  # the memory is not empty


def test_run_clip_feeds_the_frames_from_a_fresh_state():
    rng = np.random.default_rng(2)
    runtime = Int8Runtime(svdf_graph(rng, 1, 5, 3, 2, 4))
    clips = rng.integers(-128, 128, (3, 7, 5, 1)).astype(np.int8)  # (N, frames, bins, 1)
    runtime.run(clips[:, 0, :, 0])  # leftover state must not leak into the clip
    expected = None
    runtime.reset_state()
    for t in range(7):
        expected = runtime.run(clips[:, t, :, 0])
    np.testing.assert_array_equal(runtime.run_clip(clips), expected)
    assert runtime.is_streaming


def test_a_stream_is_not_continued_with_another_batch_size():
    rng = np.random.default_rng(3)
    runtime = Int8Runtime(svdf_graph(rng, 1, 5, 3, 2, 4))
    runtime.run(np.zeros((2, 5), np.int8))
    with pytest.raises(TinyKWSError, match="reset_state"):
        runtime.run(np.zeros((3, 5), np.int8))
    runtime.reset_state()
    assert runtime.run(np.zeros((3, 5), np.int8)).shape == (3, 3)


def test_svdf_refuses_a_state_that_is_not_variable_and_a_wrong_bias_scale():
    rng = np.random.default_rng(5)
    graph = svdf_graph(rng, 1, 5, 3, 2, 4)
    tensors = list(graph.tensors)
    state = tensors[STATE]
    tensors[STATE] = Tensor(state.name, state.shape, "int16", state.scale, state.zero_point)
    with pytest.raises(TinyKWSError, match="variable"):
        Int8Runtime(Graph(tensors, graph.operators, graph.inputs, graph.outputs))
    tensors[STATE] = state
    bias = tensors[3]
    tensors[3] = Tensor(bias.name, bias.shape, "int32", (bias.scale[0] * 2 + 1e-4,), (0,),
                        data=bias.data)
    with pytest.raises(TinyKWSError, match="bias scale"):
        Int8Runtime(Graph(tensors, graph.operators, graph.inputs, graph.outputs))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_activation_bits_keep_the_svdf_output_on_its_grid(backend):
    """The quantization study's b-bit activations: the output clamp narrows to -129 + 2**b."""
    rng = np.random.default_rng(6)
    graph = svdf_graph(rng, 1, 6, 8, 2, 3, e2=2.0 ** -8)
    frames = rng.integers(-128, 128, (5, 1, 6)).astype(np.int8)
    full, narrow = Int8Runtime(graph, backend=backend), Int8Runtime(graph, backend=backend, activation_bits=4)
    for x in frames:
        wide, four = full.run(x), narrow.run(x)
        assert four.max() <= -129 + 2 ** 4 < wide.max()
        np.testing.assert_array_equal(four, np.minimum(wide, -129 + 2 ** 4))
