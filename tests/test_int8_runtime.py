"""The int8 runtime as a program: batches, intermediate tensors, and refusals.

(Bit-exactness against tflite-micro is in ``test_int8_vs_tflm.py``; these
tests need no shared data and no other runtime.)
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from tinykws.errors import TinyKWSError
from tinykws.int8.runtime import Int8Runtime
from tinykws.tflite.model import Graph, Operator, Tensor


def f32(value: float) -> float:
    return float(np.float32(value))


def small_tinyconv() -> Graph:
    """CONV_2D(per-channel, SAME, stride 2, RELU) -> RESHAPE -> FC -> SOFTMAX on 9x7x1."""
    rng = np.random.default_rng(3)
    w_scales = (f32(0.02), f32(0.01))
    tensors = (
        Tensor("input", (1, 9, 7, 1), "int8", (f32(0.1),), (-128,)),
        Tensor("conv_w", (2, 3, 3, 1), "int8", w_scales, (0, 0), 0,
               rng.integers(-127, 128, (2, 3, 3, 1)).astype(np.int8)),
        Tensor("conv_b", (2,), "int32", tuple(f32(f32(0.1) * s) for s in w_scales), (0, 0), 0,
               rng.integers(-300, 300, 2).astype(np.int32)),
        Tensor("conv_out", (1, 5, 4, 2), "int8", (f32(0.05),), (-128,)),
        Tensor("shape", (2,), "int32", data=np.array([1, 40], np.int32)),
        Tensor("flat", (1, 40), "int8", (f32(0.05),), (-128,)),
        Tensor("fc_w", (3, 40), "int8", (f32(0.03),), (0,), 0,
               rng.integers(-127, 128, (3, 40)).astype(np.int8)),
        Tensor("fc_b", (3,), "int32", (f32(f32(0.05) * f32(0.03)),), (0,), 0,
               rng.integers(-300, 300, 3).astype(np.int32)),
        Tensor("logits", (1, 3), "int8", (f32(0.1),), (0,)),
        Tensor("probs", (1, 3), "int8", (1 / 256,), (-128,)),
    )
    ops = (
        Operator("CONV_2D", (0, 1, 2), (3,), dict(padding="SAME", stride_h=2, stride_w=2,
                                                    dilation_h=1, dilation_w=1,
                                                    activation="RELU")),
        Operator("RESHAPE", (3, 4), (5,), {"new_shape": (1, 40)}),
        Operator("FULLY_CONNECTED", (5, 6, 7), (8,), {"activation": "NONE"}),
        Operator("SOFTMAX", (8,), (9,), {"beta": 1.0}),
    )
    return Graph(tensors, ops, (0,), (9,))


def inputs(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(-128, 128, (n, 9, 7, 1)).astype(np.int8)


def test_keep_all_returns_input_and_every_operator_output():
    graph = small_tinyconv()
    values = Int8Runtime(graph).run(inputs(2), keep_all=True)
    assert sorted(values) == [0, 3, 5, 8, 9]
    shapes = {i: v.shape for i, v in values.items()}
    assert shapes == {0: (2, 9, 7, 1), 3: (2, 5, 4, 2), 5: (2, 40), 8: (2, 3), 9: (2, 3)}
    assert all(v.dtype == np.int8 for v in values.values())
    # RESHAPE moves no bytes.
    assert values[5].tobytes() == values[3].tobytes()


def test_batch_equals_examples_one_at_a_time():
    runtime = Int8Runtime(small_tinyconv())
    x = inputs(7)
    batched = runtime.run(x)
    single = np.concatenate([runtime.run(x[i:i + 1]) for i in range(7)])
    np.testing.assert_array_equal(batched, single)


def test_gemm_loop_and_numpy_backends_agree_on_every_tensor():
    graph = small_tinyconv()
    x = inputs(40, seed=1)  # more than one GEMM block of 32
    a = Int8Runtime(graph).run(x, keep_all=True)
    b = Int8Runtime(graph, gemm=False).run(x, keep_all=True)
    c = Int8Runtime(graph, backend="numpy").run(x, keep_all=True)
    for index in a:
        np.testing.assert_array_equal(a[index], b[index], err_msg=f"tensor {index}")
        np.testing.assert_array_equal(a[index], c[index], err_msg=f"tensor {index}")


def test_relu_output_never_below_zero_point():
    conv_out = Int8Runtime(small_tinyconv()).run(inputs(8), keep_all=True)[3]
    assert conv_out.min() >= -128 and (conv_out == -128).any() and (conv_out > -128).any()


def test_softmax_rows_sum_to_about_one():
    probs = Int8Runtime(small_tinyconv()).run(inputs(50)).astype(np.int64) + 128  # /256
    assert np.all(np.abs(probs.sum(axis=1) - 256) <= 3)


def test_wrong_input_shape_is_reported():
    with pytest.raises(TinyKWSError, match=r"input must be \(N, 9, 7, 1\) int8"):
        Int8Runtime(small_tinyconv()).run(np.zeros((1, 9, 8, 1), np.int8))
    with pytest.raises(TinyKWSError, match="int8"):
        Int8Runtime(small_tinyconv()).run(np.zeros((1, 9, 7, 1), np.float32))


def _with_tensor(graph: Graph, index: int, **changes) -> Graph:
    tensors = list(graph.tensors)
    tensors[index] = replace(tensors[index], **changes)
    return replace(graph, tensors=tuple(tensors))


def test_conv_output_of_the_wrong_size_is_refused():
    bad = _with_tensor(small_tinyconv(), 3, shape=(1, 4, 4, 2))
    with pytest.raises(TinyKWSError, match="CONV_2D.*do not fit"):
        Int8Runtime(bad)


def test_per_channel_scale_count_must_match_channels():
    bad = _with_tensor(small_tinyconv(), 1, scale=(0.1, 0.1, 0.1), zero_point=(0, 0, 0))
    with pytest.raises(TinyKWSError, match="3 scales for 2 channels"):
        Int8Runtime(bad)


def test_fully_connected_weights_that_do_not_fit_are_refused():
    bad = _with_tensor(small_tinyconv(), 6, shape=(3, 41), data=np.zeros((3, 41), np.int8))
    with pytest.raises(TinyKWSError, match="FULLY_CONNECTED"):
        Int8Runtime(bad)


def test_softmax_output_quantization_must_be_tflms():
    bad = _with_tensor(small_tinyconv(), 9, scale=(1 / 128,))
    with pytest.raises(TinyKWSError, match="1/256"):
        Int8Runtime(bad)


def test_softmax_input_scale_too_small_is_refused():
    """beta * scale * 2**26 must exceed 1 (TFLite's QuantizeMultiplierGreaterThanOne)."""
    bad = _with_tensor(small_tinyconv(), 8, scale=(2.0 ** -27,))
    with pytest.raises(TinyKWSError, match="too small"):
        Int8Runtime(bad)


def test_float_conv_is_refused():
    bad = _with_tensor(small_tinyconv(), 0, dtype="float32", scale=(), zero_point=())
    with pytest.raises(TinyKWSError, match="only int8"):
        Int8Runtime(bad)


def test_operators_out_of_execution_order_are_refused():
    graph = small_tinyconv()
    swapped = replace(graph, operators=(graph.operators[1], graph.operators[0])
                      + graph.operators[2:])
    with pytest.raises(TinyKWSError, match="before any operator computes it"):
        Int8Runtime(swapped)


def test_output_not_computed_is_refused():
    with pytest.raises(TinyKWSError, match="need one output"):
        Int8Runtime(replace(small_tinyconv(), outputs=(6,)))  # a weight, not an activation


def test_reshape_that_changes_the_element_count_is_refused():
    bad = _with_tensor(small_tinyconv(), 5, shape=(1, 39))
    with pytest.raises(TinyKWSError, match="RESHAPE.*do not match"):
        Int8Runtime(bad)


def test_missing_weights_are_refused():
    graph = small_tinyconv()
    ops = (replace(graph.operators[0], inputs=(0, -1, 2)),) + graph.operators[1:]
    with pytest.raises(TinyKWSError, match="CONV_2D needs 2 input"):
        Int8Runtime(replace(graph, operators=ops))


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="backend"):
        Int8Runtime(small_tinyconv(), backend="cuda")
