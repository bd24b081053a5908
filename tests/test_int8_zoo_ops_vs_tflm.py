"""The zoo's int8 ops against tflite-micro, bit for bit: pooling, ADD, MEAN.

As in ``test_int8_vs_tflm.py``: hypothesis writes random single-op models with
our writer, our reader parses the bytes back, and the NumPy reference, the
Numba kernel and tflite-micro must give the same int8 output, over shapes,
windows, strides, paddings, fused activations and quantization parameters.
ADD reads two activations: its single-op models have two graph inputs, which
tflite-micro takes but our runtime (one input) does not, so there the op's
``prepare`` and both kernels are called directly on the parsed graph; the
runtime's two-input path is tested on residual graphs with one input.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels import int8_add
from test_int8_vs_tflm import (
    SCALE, activations, assert_bit_exact, f32, int8_tensor, random_scale, seeds,
    tflm_interpreter, zero_points)
from tinykws.errors import TinyKWSError
from tinykws.int8 import add
from tinykws.int8.mean import mean_multiplier
from tinykws.int8.runtime import Int8Runtime
from tinykws.padding import compute_out_size
from tinykws.tflite.model import Graph, Operator, Tensor
from tinykws.tflite.reader import parse_tflite
from tinykws.tflite.writer import serialize_tflite

pytest.importorskip("tflite_micro", reason="tflite-micro not installed")

N_POOL, N_ADD, N_MEAN = (n * SCALE for n in (600, 600, 400))


@st.composite
def pool_cases(draw, op: str):
    rng = np.random.default_rng(draw(seeds))
    fh, fw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    stride_h, stride_w = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    padding = draw(st.sampled_from(["SAME", "VALID"]))
    h, w = draw(st.integers(fh, 10)), draw(st.integers(fw, 10))
    c, batch = draw(st.integers(1, 4)), 1
    scale, zp = random_scale(rng, -8, 1), draw(zero_points)
    out_h, out_w = (compute_out_size(padding, h, fh, stride_h),
                    compute_out_size(padding, w, fw, stride_w))
    tensors = (int8_tensor("input", (batch, h, w, c), scale, zp),
               int8_tensor("output", (batch, out_h, out_w, c), scale, zp))
    options = dict(padding=padding, stride_h=stride_h, stride_w=stride_w, filter_height=fh,
                   filter_width=fw, activation=draw(activations))
    x = rng.integers(-128, 128, (batch, h, w, c))
    if draw(st.booleans()):  # around the zero point, where RELU and RELU6 clip
        x = np.clip(zp + rng.integers(-round(8 / scale) - 1, round(8 / scale) + 2, x.shape),
                    -128, 127)
    return Graph(tensors, (Operator(op, (0,), (1,), options),), (0,), (1,)), x.astype(np.int8)


@settings(max_examples=N_POOL)
@given(pool_cases("AVERAGE_POOL_2D"))
def test_average_pool_random_models_match_tflm(case):
    assert_bit_exact(*case)


@settings(max_examples=N_POOL)
@given(pool_cases("MAX_POOL_2D"))
def test_max_pool_random_models_match_tflm(case):
    assert_bit_exact(*case)


def test_average_pool_rounds_half_away_from_zero():
    """Windows of two pixels: sums 7 and -7 give 4 and -4 (TFLM's ``(acc +- n/2) / n``)."""
    x = np.array([3, 4, -3, -4, 1, -2], np.int8).reshape(1, 1, 6, 1)
    tensors = (int8_tensor("input", (1, 1, 6, 1), 0.5, 0),
               int8_tensor("output", (1, 1, 3, 1), 0.5, 0))
    options = dict(padding="VALID", stride_h=1, stride_w=2, filter_height=1, filter_width=2,
                   activation="NONE")
    graph = Graph(tensors, (Operator("AVERAGE_POOL_2D", (0,), (1,), options),), (0,), (1,))
    assert Int8Runtime(graph).run(x).ravel().tolist() == [4, -4, -1]
    assert_bit_exact(graph, x)


@st.composite
def mean_cases(draw):
    rng = np.random.default_rng(draw(seeds))
    h, w, c = draw(st.integers(1, 12)), draw(st.integers(1, 12)), draw(st.integers(1, 4))
    keep_dims = draw(st.booleans())
    axes = draw(st.sampled_from([(1, 2), (2, 1), (-3, -2), (1, -2)]))
    exact = draw(st.integers(0, 3)) == 0
    in_scale = random_scale(rng, -8, 1, exact)
    out_scale = f32(in_scale * 2.0 ** (rng.integers(-3, 4) if exact else rng.uniform(-3, 3)))
    in_zp, out_zp = draw(zero_points), draw(zero_points)
    tensors = (int8_tensor("input", (1, h, w, c), in_scale, in_zp),
               Tensor("axis", (len(axes),), "int32", data=np.array(axes, np.int32)),
               int8_tensor("output", (1, 1, 1, c) if keep_dims else (1, c), out_scale, out_zp))
    graph = Graph(tensors, (Operator("MEAN", (0, 1), (2,), {"keep_dims": keep_dims}),), (0,),
                  (2,))
    # Spread around the input zero point so that the mean is often inside int8's range.
    spread = draw(st.sampled_from([3, 20, 128]))
    x = np.clip(in_zp + rng.integers(-spread, spread + 1, (1, h, w, c)), -128, 127)
    return graph, x.astype(np.int8)


@settings(max_examples=N_MEAN)
@given(mean_cases())
def test_mean_random_models_match_tflm(case):
    assert_bit_exact(*case)


@pytest.mark.parametrize("n, expected", [(1, (1 << 30, 0)), (8, (1 << 30, -3)),
                                         (3, (715827882, -1)), (120, (572662306, -6))])
def test_mean_folds_one_over_n_by_integer_division(n, expected):
    """Factor 1/2 (multiplier 2**30, shift 0) over n values: ``(2**30 << k) // n``, k = floor(log2 n).

    For n = 3 the exact ``2**31 / 3 = 715827882.67`` is truncated, not rounded.
    """
    assert mean_multiplier(1 << 30, 0, n) == expected


@st.composite
def add_cases(draw):
    """Two-input ADD models (broadcasting sometimes) and their two inputs."""
    rng = np.random.default_rng(draw(seeds))
    full = (1, draw(st.integers(1, 5)), draw(st.integers(1, 5)), draw(st.integers(1, 4)))
    kind = draw(st.sampled_from(["same", "same", "channel", "row", "rank2"]))
    if kind == "same":
        shapes = [full, full]
    elif kind == "channel":  # (1, H, W, C) + (1, 1, 1, C): a per-channel offset
        shapes = [full, (1, 1, 1, full[3])]
    elif kind == "row":
        shapes = [(1, full[1], 1, full[3]), full]
    else:  # NumPy aligns at the right: (1, H, W, C) + (1, C)
        shapes = [full, (1, full[3])]
    exact = draw(st.integers(0, 3)) == 0
    s1, s2 = random_scale(rng, -10, 1, exact), random_scale(rng, -10, 1, exact)
    exponent = rng.integers(-3, 4) if exact else rng.uniform(-3, 3)
    s_out = f32(max(s1, s2) * 2.0 ** exponent)
    tensors = (int8_tensor("input1", shapes[0], s1, draw(zero_points)),
               int8_tensor("input2", shapes[1], s2, draw(zero_points)),
               int8_tensor("output", np.broadcast_shapes(*shapes), s_out, draw(zero_points)))
    graph = Graph(tensors, (Operator("ADD", (0, 1), (2,), {"activation": draw(activations)}),),
                  (0, 1), (2,))
    inputs = [rng.integers(-128, 128, shape).astype(np.int8) for shape in shapes]
    return graph, inputs


@settings(max_examples=N_ADD)
@given(add_cases())
def test_add_random_models_match_tflm(case):
    graph, (x1, x2) = case
    model = serialize_tflite(graph)
    interpreter = tflm_interpreter(model)
    interpreter.set_input(x1, 0)
    interpreter.set_input(x2, 1)
    interpreter.invoke()
    expected = interpreter.get_output(0)
    parsed = parse_tflite(model)
    params = add.prepare(parsed, parsed.operators[0])
    for function in (add.add, int8_add.add):
        got = function(x1, x2, **vars(params))
        assert got.dtype == np.int8
        np.testing.assert_array_equal(got, expected, err_msg=function.__module__)


def _residual_graph(shortcut: str) -> Graph:
    """``x + f(x)``, one graph input: f is a requantization, or MEAN (broadcast back)."""
    x = int8_tensor("x", (1, 4, 3, 2), 0.05, -10)
    out = int8_tensor("sum", (1, 4, 3, 2), 0.09, 3)
    if shortcut == "requantize":
        y = int8_tensor("y", (1, 4, 3, 2), 0.02, 7)
        tensors, first = (x, y, out), Operator("QUANTIZE", (0,), (1,), {})
        return Graph(tensors, (first, Operator("ADD", (1, 0), (2,), {"activation": "RELU"})),
                     (0,), (2,))
    axis = Tensor("axis", (2,), "int32", data=np.array([1, 2], np.int32))
    y = int8_tensor("mean", (1, 1, 1, 2), 0.03, 0)
    tensors = (x, axis, y, out)
    first = Operator("MEAN", (0, 1), (2,), {"keep_dims": True})
    return Graph(tensors, (first, Operator("ADD", (0, 2), (3,), {"activation": "NONE"})),
                 (0,), (3,))


def assert_every_tensor_matches_tflm(interpreter, ours: dict, x: np.ndarray) -> None:
    """``ours`` (tensor index -> batch of values, from ``run(x, keep_all=True)``) equals
    what tflite-micro's ``interpreter`` computes for each example of ``x`` alone."""
    for i in range(len(x)):
        interpreter.set_input(x[i:i + 1], 0)
        interpreter.invoke()
        for index, value in ours.items():
            np.testing.assert_array_equal(value[i:i + 1],
                                          interpreter.GetTensor(index, 0)["tensor_data"],
                                          err_msg=f"example {i}, tensor {index}")


@pytest.mark.parametrize("shortcut", ["requantize", "mean"])
def test_runtime_runs_residual_graphs_like_tflm_batched(shortcut):
    graph = _residual_graph(shortcut)
    x = np.random.default_rng(3).integers(-128, 128, (16, 4, 3, 2)).astype(np.int8)
    interpreter = tflm_interpreter(serialize_tflite(graph))
    for runtime in (Int8Runtime(graph, backend="numpy"), Int8Runtime(graph)):
        # the whole batch at once
        assert_every_tensor_matches_tflm(interpreter, runtime.run(x, keep_all=True), x)


def test_runtime_refuses_an_add_reading_a_tensor_not_yet_computed():
    graph = _residual_graph("requantize")
    swapped = Graph(graph.tensors, graph.operators[::-1], graph.inputs, graph.outputs)
    with pytest.raises(TinyKWSError, match="reads tensor 1 before"):
        Int8Runtime(swapped)


def _pool_graph(in_quant, out_quant) -> Graph:
    tensors = (int8_tensor("input", (1, 4, 4, 1), *in_quant),
               int8_tensor("output", (1, 2, 2, 1), *out_quant))
    options = dict(padding="VALID", stride_h=2, stride_w=2, filter_height=2, filter_width=2,
                   activation="NONE")
    return Graph(tensors, (Operator("MAX_POOL_2D", (0,), (1,), options),), (0,), (1,))


@pytest.mark.parametrize("out_quant", [(0.25, 1), (0.5, 0)])
def test_pooling_with_another_output_quantization_is_refused(out_quant):
    with pytest.raises(TinyKWSError, match="input's scale and zero point"):
        Int8Runtime(_pool_graph((0.25, 0), out_quant))


def test_add_whose_output_scale_is_too_fine_is_refused():
    """TFLite aborts on a rescaling factor >= 1; we raise instead."""
    tensors = (int8_tensor("a", (1, 2), 1.0, 0), int8_tensor("b", (1, 2), 1.0, 0),
               int8_tensor("out", (1, 2), 2.0 ** -20, 0))
    graph = Graph(tensors, (Operator("ADD", (0, 1), (2,), {"activation": "NONE"}),), (0,),
                  (2,))
    with pytest.raises(ValueError, match=r"factors in \(0, 1\)"):
        add.prepare(graph, graph.operators[0])


def test_mean_over_other_axes_is_refused():
    tensors = (int8_tensor("input", (1, 4, 3, 2), 0.1, 0),
               Tensor("axis", (1,), "int32", data=np.array([3], np.int32)),
               int8_tensor("output", (1, 4, 3), 0.1, 0))
    graph = Graph(tensors, (Operator("MEAN", (0, 1), (2,), {"keep_dims": False}),), (0,), (2,))
    with pytest.raises(TinyKWSError, match="axes 1 and 2"):
        Int8Runtime(graph)


@pytest.mark.parametrize("op, options", [
    ("AVERAGE_POOL_2D", dict(padding="SAME", stride_h=1, stride_w=3, filter_height=24,
                             filter_width=5, activation="RELU6")),
    ("MAX_POOL_2D", dict(padding="VALID", stride_h=2, stride_w=1, filter_height=3,
                         filter_width=2, activation="NONE")),
    ("ADD", dict(activation="RELU")),
    ("MEAN", dict(keep_dims=True)),
    ("MEAN", dict(keep_dims=False)),
])
def test_writer_and_reader_round_trip_the_new_options(op, options):
    tensors = (int8_tensor("a", (1, 2), 1.0, 0), int8_tensor("b", (1, 2), 1.0, 0))
    graph = Graph(tensors, (Operator(op, (0, 1), (1,), options),), (0,), (1,))
    parsed = parse_tflite(serialize_tflite(graph))
    assert parsed.operators[0].op == op and parsed.operators[0].options == options
