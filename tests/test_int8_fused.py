"""The fused TinyConv path gives tflite-micro's bits, one example or a batch.

(The comparisons with tflite-micro skip without it, in
:func:`fixtures.assert_fused_equals_tflite_micro`; the others need only our runtime.)
"""

import numpy as np
import pytest
from fixtures import assert_fused_equals_tflite_micro
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tinykws.quant.ptq import quantize_model
from tinykws.errors import TinyKWSError
from tinykws.int8.fused import FusedTinyConv
from tinykws.int8.runtime import Int8Runtime
from tinykws.nn.model import tiny_conv
from tinykws.padding import compute_out_size
from tinykws.tflite.model import Graph, Operator, Tensor
from tinykws.tflite.reader import parse_tflite, read_tflite
from tinykws.tflite.writer import serialize_tflite

NAMES = ["tiny_conv_int8.tflite", "tiny_conv_int8_fc_per_tensor.tflite", "tiny_conv_int8_logits.tflite"]


@pytest.mark.parametrize("name", NAMES)
def test_fused_path_equals_tflite_micro_on_reference_models(reference_models_dir, name):
    assert_fused_equals_tflite_micro((reference_models_dir / name).read_bytes())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fused_path_equals_tflite_micro_on_our_depthwise_models(seed):
    rng = np.random.default_rng(seed)
    model = tiny_conv(4, rng)
    for p in model.parameters().values():
        p[...] = rng.normal(0, 0.05, p.shape)
    calibration = rng.uniform(0, 26, (100, 49, 40, 1)).astype(np.float32)
    blob = serialize_tflite(quantize_model(model, calibration))
    assert [op.op for op in parse_tflite(blob).operators][0] == "DEPTHWISE_CONV_2D"
    assert_fused_equals_tflite_micro(blob)


def test_fused_path_equals_the_op_by_op_runtime_on_feature_like_inputs(reference_models_dir):
    graph = read_tflite(reference_models_dir / NAMES[0])
    fused, runtime = FusedTinyConv(graph), Int8Runtime(graph)
    for fill in (-128, 127, 0):
        x = np.full((1, 49, 40, 1), fill, np.int8)
        np.testing.assert_array_equal(fused.run(x), runtime.run(x))


def test_fused_path_refuses_other_graphs_and_inputs(reference_models_dir):
    graph = read_tflite(reference_models_dir / NAMES[0])
    with pytest.raises(TinyKWSError, match="TinyConv-shaped"):
        FusedTinyConv(graph.__class__(graph.tensors, graph.operators[1:], graph.inputs, graph.outputs))
    with pytest.raises(TinyKWSError, match="input must be"):
        FusedTinyConv(graph).run(np.zeros((2, 49, 41, 1), np.int8))
    with pytest.raises(TinyKWSError, match="input must be"):
        FusedTinyConv(graph).run(np.zeros((49, 40, 1), np.int8))
    with pytest.raises(TinyKWSError, match="sparse path runs one example"):
        FusedTinyConv(graph, sparse=True).run(np.zeros((2, 49, 40, 1), np.int8))


def test_fused_path_on_a_batch_equals_one_example_at_a_time(reference_models_dir):
    graph = read_tflite(reference_models_dir / NAMES[0])
    fused, runtime = FusedTinyConv(graph), Int8Runtime(graph)
    x = np.random.default_rng(3).integers(-128, 128, (7, 49, 40, 1)).astype(np.int8)
    batch = fused.run(x)
    assert batch.shape == (7, 4)
    np.testing.assert_array_equal(batch, np.concatenate([fused.run(x[i:i + 1]) for i in range(7)]))
    np.testing.assert_array_equal(batch, runtime.run(x))


# --------------------------------------------------------------------------
# Random TinyConv-shaped graphs: the fused kernel against the NumPy reference
# runtime and tflite-micro
# --------------------------------------------------------------------------

def _int8(name, shape, scale, zero_point, data=None, axis=0) -> Tensor:
    scale = tuple(float(np.float32(v)) for v in np.atleast_1d(scale))
    zp = tuple(int(v) for v in np.atleast_1d(zero_point))
    return Tensor(name, tuple(shape), "int8", scale, zp, axis, data)


@st.composite
def tiny_conv_graphs(draw):
    """A one-channel convolution (CONV_2D or DEPTHWISE_CONV_2D) of any geometry, RESHAPE,
    FULLY_CONNECTED (per tensor or per channel) and an optional SOFTMAX, with scales
    that keep the outputs off the clamp bounds, and a random input."""
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    kh, kw = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dh, dw = draw(st.sampled_from([1, 1, 2])), draw(st.sampled_from([1, 1, 2]))
    padding = draw(st.sampled_from(["SAME", "VALID"]))
    h = draw(st.integers((kh - 1) * dh + 1, 16))
    w = draw(st.integers((kw - 1) * dw + 1, 16))
    c, k = draw(st.integers(1, 9)), draw(st.integers(1, 5))
    depthwise, with_softmax, fc_per_channel = (draw(st.booleans()) for _ in range(3))
    oh, ow = (compute_out_size(padding, h, kh, sh, dh), compute_out_size(padding, w, kw, sw, dw))
    in_scale, in_zp = 2.0 ** rng.uniform(-3, 1), int(rng.integers(-128, 128))
    w_scales = 2.0 ** rng.uniform(-9, -5, c)
    # A sum of kh * kw products of two ~U(int8) values is ~5500 * sqrt(taps) in size.
    conv_scale = in_scale * w_scales.max() * 5500 * np.sqrt(kh * kw) / 40
    conv_zp = int(rng.integers(-128, 0))
    weights = rng.integers(-128, 128, (c, kh, kw, 1)).astype(np.int8)
    bias = rng.integers(-3000, 3000, c).astype(np.int32)
    fc_w_scales = 2.0 ** rng.uniform(-9, -5, k if fc_per_channel else 1)
    fc_scale = conv_scale * fc_w_scales.max() * 5500 * np.sqrt(oh * ow * c) / 40
    fc_weights = rng.integers(-128, 128, (k, oh * ow * c)).astype(np.int8)
    fc_bias = rng.integers(-3000, 3000, k).astype(np.int32)
    if depthwise:
        conv_w = _int8("conv_w", (1, kh, kw, c), w_scales, [0] * c,
                       np.transpose(weights, (3, 1, 2, 0)), axis=3)
    else:
        conv_w = _int8("conv_w", (c, kh, kw, 1), w_scales, [0] * c, weights)
    tensors = [
        _int8("input", (1, h, w, 1), in_scale, in_zp), conv_w,
        Tensor("conv_b", (c,), "int32", tuple(np.float32(in_scale) * np.float32(w_scales)),
               (0,) * c, 0, bias),
        _int8("conv_out", (1, oh, ow, c), conv_scale, conv_zp),
        Tensor("shape", (2,), "int32", data=np.array([1, oh * ow * c], np.int32)),
        _int8("flat", (1, oh * ow * c), conv_scale, conv_zp),
        _int8("fc_w", (k, oh * ow * c), fc_w_scales, [0] * len(fc_w_scales), fc_weights),
        Tensor("fc_b", (k,), "int32", tuple(np.float32(conv_scale) * np.float32(
            np.broadcast_to(fc_w_scales, (k,)))), (0,) * k, 0, fc_bias),
        _int8("logits", (1, k), fc_scale, int(rng.integers(-20, 20))),
        _int8("probabilities", (1, k), 1 / 256, -128)]
    conv_options = dict(padding=padding, stride_h=sh, stride_w=sw, dilation_h=dh, dilation_w=dw,
                        activation=draw(st.sampled_from(["NONE", "RELU"])))
    if depthwise:
        conv_options["depth_multiplier"] = c
    operators = [
        Operator("DEPTHWISE_CONV_2D" if depthwise else "CONV_2D", (0, 1, 2), (3,), conv_options),
        Operator("RESHAPE", (3, 4), (5,), {"new_shape": (1, oh * ow * c)}),
        Operator("FULLY_CONNECTED", (5, 6, 7), (8,), {"activation": "NONE",
                                                       "keep_num_dims": False})]
    if with_softmax:
        operators.append(Operator("SOFTMAX", (8,), (9,), {"beta": 1.0}))
    graph = Graph(tuple(tensors), tuple(operators), (0,), (9 if with_softmax else 8,))
    x = np.clip(in_zp + rng.integers(-90, 91, (1, h, w, 1)), -128, 127).astype(np.int8)
    return graph, x


@settings(max_examples=150, deadline=None)
@given(tiny_conv_graphs())
def test_fused_kernel_equals_reference_and_tflite_micro_on_random_graphs(case):
    graph, x = case
    blob = serialize_tflite(graph)
    parsed = parse_tflite(blob)  # run what the file says
    got = FusedTinyConv(parsed).run(x)
    runtime = Int8Runtime(parsed, backend="numpy")
    expected = runtime.run(x)
    np.testing.assert_array_equal(got, expected)
    conv_out = runtime.run(x, keep_all=True)[parsed.operators[0].outputs[0]]
    # A saturated layer (a few outputs all at the floor) tells tflite-micro nothing new: the
    # generator can draw one, so such a draw is rejected rather than failed.
    assume(len(np.unique(conv_out)) > 2 or conv_out.size < 8)
    try:
        from tflite_micro import runtime as tflm
    except ImportError:
        return
    interpreter = tflm.Interpreter.from_bytes(blob, arena_size=max(64 * 1024, 10 * len(blob)))
    interpreter.set_input(x, 0)
    interpreter.invoke()
    np.testing.assert_array_equal(got, interpreter.get_output(0))
