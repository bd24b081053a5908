"""The residual block and TC-ResNet8: gradients, specs, sizes, and int8 export bit-exact in tflite-micro.

Backward passes agree with central finite differences (float64, through
:func:`test_nn_gradients.check_layer`) for blocks drawn by hypothesis, with an
identity or a projecting shortcut, batch norms in training or inference; the
whole TC-ResNet's parameter gradients too. The exported model is checked
tensor by tensor against tflite-micro on real clips.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from test_ds_cnn import real_clip_features  # noqa: F401 (a fixture: 18 real clips)
from test_nn_gradients import check_layer, check_model
from tinykws.nn.batch_norm import BatchNorm
from tinykws.nn.conv import Conv2D
from tinykws.nn.layers import ReLU
from tinykws.nn.model import Sequential, from_spec
from tinykws.nn.resnet import Reshape, ResidualBlock
from tinykws.nn.tc_resnet import WIDTHS, tc_resnet8
from tinykws.nn.zoo import build_model
from tinykws.quant.ptq import quantize_model
from tinykws.size import format_report, layer_sizes, peak_activation_bytes, size_report
from tinykws.tflite.reader import parse_tflite
from tinykws.tflite.writer import serialize_tflite

TC_RESNET8_OPS = (["RESHAPE", "CONV_2D"] + ["CONV_2D", "CONV_2D", "CONV_2D", "ADD"] * 3
                  + ["AVERAGE_POOL_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"])


def _conv(cin, cout, kernel, stride=(1, 1)):
    return Conv2D(cin, cout, kernel, stride, "SAME")


def _randomize(layers, rng):
    """Weights and batch-norm statistics away from their initial values (in place)."""
    for layer in layers:
        for v in layer.params.values():
            v[...] = rng.normal(0, 0.3, v.shape)
        for key, v in getattr(layer, "state", {}).items():
            v[...] = rng.normal(0, 0.5, v.shape) if key.endswith("moving_mean") else rng.uniform(0.5, 2, v.shape)


@st.composite
def blocks(draw):
    """A block ``ReLU(body(x) + shortcut(x))`` and an input for it."""
    cin, cout = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 2)))
    stride = (draw(st.integers(1, 2)), 1)
    identity = cin == cout and stride == (1, 1) and draw(st.booleans())
    norm = draw(st.booleans())
    training = norm and draw(st.booleans())
    bn = (lambda c: [BatchNorm(c)]) if norm else (lambda c: [])
    body = [_conv(cin, cout, kernel, stride), *bn(cout), ReLU(), _conv(cout, cout, kernel), *bn(cout)]
    shortcut = [] if identity else [_conv(cin, cout, (1, 1), stride), *bn(cout), ReLU()]
    n = draw(st.integers(2 if training else 1, 3))  # batch statistics need two values
    shape = (n, draw(st.integers(1, 6)), draw(st.integers(1, 3)), cin)
    return ResidualBlock(body, shortcut), shape, training, draw(st.integers(0, 2 ** 16))


@settings(max_examples=40, deadline=None)
@given(case=blocks())
def test_residual_block_backward_matches_finite_differences(case):
    block, shape, training, seed = case
    rng = np.random.default_rng(seed)
    _randomize([block], rng)
    check_layer(block, rng.normal(0, 1, shape), rng, training=training)


def test_block_is_the_relu_of_body_plus_shortcut():
    rng = np.random.default_rng(0)
    body = [_conv(2, 3, (3, 1), (2, 1)), BatchNorm(3), ReLU(), _conv(3, 3, (3, 1)), BatchNorm(3)]
    shortcut = [_conv(2, 3, (1, 1), (2, 1)), BatchNorm(3)]
    block = ResidualBlock(body, shortcut)
    _randomize([block], rng)
    x = rng.normal(0, 1, (2, 7, 1, 2))
    a = Sequential(body, (7, 1, 2)).forward(x)
    b = Sequential(shortcut, (7, 1, 2)).forward(x)
    y = block.forward(x)
    assert y.shape == (2, *block.output_shape((7, 1, 2))) == (2, 4, 1, 3)
    np.testing.assert_allclose(y, np.maximum(a + b, 0), rtol=1e-6)
    assert (y == 0).any() and (y > 0).any()  # the ReLU cut somewhere and passed somewhere


def test_block_params_grads_and_state_are_its_sublayers_arrays():
    block = ResidualBlock([_conv(2, 2, (3, 1)), BatchNorm(2)])  # identity shortcut
    assert sorted(block.params) == ["body.0.bias", "body.0.weight", "body.1.beta", "body.1.gamma"]
    assert block.params["body.0.weight"] is block.body[0].params["weight"]
    assert block.state["body.1.moving_mean"] is block.body[1].state["moving_mean"]
    x = np.random.default_rng(1).normal(0, 1, (2, 5, 1, 2)).astype(np.float32)
    block.backward(np.ones_like(block.forward(x)))
    assert block.grads["body.0.weight"] is block.body[0].grads["weight"]


def test_branches_of_different_shapes_are_refused():
    block = ResidualBlock([_conv(2, 3, (3, 1), (2, 1))])  # identity shortcut, stride 2
    with pytest.raises(ValueError, match="one shape"):
        block.output_shape((8, 1, 2))
    with pytest.raises(ValueError, match="at least one layer"):
        ResidualBlock([])


def test_reshape_keeps_the_values_and_sends_the_gradient_back():
    x = np.arange(2 * 4 * 3, dtype=np.float64).reshape(2, 4, 3, 1)
    layer = Reshape((4, 1, 3))
    y = layer.forward(x)
    assert y.shape == (2, 4, 1, 3) and y[1, 2, 0].tolist() == x[1, 2, :, 0].tolist()
    assert layer.backward(y).shape == x.shape
    with pytest.raises(ValueError, match="cannot reshape"):
        layer.output_shape((4, 2, 1))


def test_tc_resnet8_has_the_authors_shapes_and_parameter_count():
    model = tc_resnet8(12, np.random.default_rng(0), (49, 40, 1))
    c0, *widths = WIDTHS
    bn = lambda c: 2 * c  # noqa: E731 (gamma, beta)
    expected = 3 * 40 * c0 + c0 + bn(c0) + 48 * 12 + 12
    for cin, cout in zip(WIDTHS, widths):  # conv 9x1, conv 9x1, the 1x1 shortcut: each with BN
        expected += 9 * cin * cout + 9 * cout * cout + cin * cout + 3 * cout + 3 * bn(cout)
    assert sum(v.size for v in model.parameters().values()) == expected == 65_508
    shapes = model.shapes()
    assert shapes[0] == (49, 1, 40)  # bins as channels
    assert [s for s, l in zip(shapes, model.layers) if isinstance(l, ResidualBlock)] == [
        (25, 1, 24), (13, 1, 32), (7, 1, 48)]  # SAME, stride 2: ceil(49 / 2) ...
    assert shapes[-4:] == [(1, 1, 48), (1, 1, 48), (48,), (12,)]
    narrow = build_model("tc_resnet8_narrow", 12, np.random.default_rng(0))
    assert [l.body[0].out_channels for l in narrow.layers if isinstance(l, ResidualBlock)] == [8, 11, 17]


def test_spec_round_trips_and_a_checkpoint_keeps_the_blocks_statistics(tmp_path):
    from tinykws.train.checkpoint import load_checkpoint, save_checkpoint

    rng = np.random.default_rng(5)
    model = build_model("tc_resnet8_narrow", 4, rng)
    model.set_rng(rng)
    assert from_spec(model.spec()).spec() == model.spec()
    model.forward(rng.uniform(0, 26, (16, 49, 40, 1)).astype(np.float32), training=True)
    meta = {"labels": ["_silence_", "_unknown_", "yes", "no"]}
    loaded, _, _ = load_checkpoint(save_checkpoint(tmp_path / "m.npz", model, meta))
    x = rng.uniform(0, 26, (3, 49, 40, 1)).astype(np.float32)
    np.testing.assert_array_equal(loaded.forward(x), model.forward(x))
    block = loaded.layers[4]
    assert np.any(block.state["body.1.moving_mean"])  # the moved statistics came back


def test_whole_tc_resnet_gradient_matches_finite_differences():
    """A small TC-ResNet8 in training mode (batch statistics), dropout off."""
    rng = np.random.default_rng(1)
    model = tc_resnet8(3, rng, (6, 3, 1), width=0.125)  # widths 2, 3, 4, 6
    x, labels = rng.normal(0, 1, (4, 6, 3, 1)), np.array([0, 1, 2, 1])
    check_model(model, x, labels, rng)


def test_size_counts_the_blocks_convolutions_and_their_live_buffers():
    block = ResidualBlock([_conv(4, 6, (9, 1), (2, 1)), ReLU(), _conv(6, 6, (9, 1))],
                          [_conv(4, 6, (1, 1), (2, 1))])
    model = Sequential([block], (8, 1, 4))  # x: 32 values; each branch's result and y: 24
    row, = layer_sizes(model)
    assert row.macs == 24 * 9 * 4 + 24 * 9 * 6 + 24 * 4  # 2,256
    assert row.flops == 2 * row.macs + 3 * 24 + 24  # three biases, one add per output
    assert [(p.name, p.macs) for p in row.parts] == [
        ("body.0:conv2d", 24 * 9 * 4), ("body.1:relu", 0), ("body.2:conv2d", 24 * 9 * 6),
        ("shortcut.0:conv2d", 24 * 4), ("add", 0)]  # MACs per layer inside the block
    assert "  shortcut.0:conv2d" in format_report(size_report(model, measure_latency=False))
    assert size_report(model, measure_latency=False)["flash_int8_bytes"] == (
        (9 * 4 * 6 + 9 * 6 * 6 + 4 * 6) + 4 * 3 * 6 + 8 * 3 * 6)
    # body's second conv: its input and output, and x kept for the shortcut
    assert peak_activation_bytes(model, 1) == 24 + 24 + 32
    identity = ResidualBlock([_conv(6, 6, (9, 1)), ReLU(), _conv(6, 6, (9, 1))])
    # the ADD: the body's result, x (the identity) and y
    assert peak_activation_bytes(Sequential([identity], (4, 1, 6)), 1) == 3 * 24


def _trained_like(name, num_labels, x):
    """A zoo model with its batch norms' statistics moved by a few training passes on ``x``."""
    rng = np.random.default_rng(2)
    model = build_model(name, num_labels, rng, x.shape[1:])
    model.set_rng(rng)
    for _ in range(3):
        model.forward(x, training=True)
    return model


def test_tc_resnet8_exports_and_every_tensor_is_bit_exact_in_tflm_on_real_clips(real_clip_features):
    """Full-int8 PTQ through our writer; every tensor on real clips equals tflite-micro's."""
    pytest.importorskip("tflite_micro")
    from test_int8_vs_tflm import _litert, _litert_run, tflm_interpreter
    from test_int8_zoo_ops_vs_tflm import assert_every_tensor_matches_tflm
    from tinykws.convert.c_array import c_source
    from tinykws.features.model_input import to_float_model_input, to_int8_model_input
    from tinykws.int8.runtime import Int8Runtime

    x = to_float_model_input(real_clip_features)[..., None]  # (18, 49, 40, 1) float32
    model = _trained_like("tc_resnet8", 12, x)
    graph = quantize_model(model, x)
    assert [op.op for op in graph.operators] == TC_RESNET8_OPS
    adds = [op for op in graph.operators if op.op == "ADD"]
    assert all(op.options["activation"] == "RELU" for op in adds)
    # each sum has a scale of its own, not either input's
    for op in adds:
        assert graph.tensors[op.outputs[0]].scale not in [graph.tensors[i].scale for i in op.inputs]
    blob = serialize_tflite(graph)
    q = to_int8_model_input(real_clip_features)[..., None]  # (18, 49, 40, 1) int8
    ours = Int8Runtime(parse_tflite(blob)).run(q, keep_all=True)
    assert len(ours) == len(TC_RESNET8_OPS) + 1
    assert_every_tensor_matches_tflm(tflm_interpreter(blob), ours, q)
    logits = ours[graph.operators[-2].outputs[0]]  # (18, 12) int8
    assert len(np.unique(logits)) > 20  # spread over the int8 range, not saturated
    assert (logits.argmax(1) == model.forward(x).argmax(1)).mean() >= 0.8
    assert f"g_model_len = {len(blob)};" in c_source(blob)
    pytest.importorskip("ai_edge_litert")
    litert = _litert(blob, reference=True)  # loads; its FULLY_CONNECTED may round 1 off
    scores = ours[graph.outputs[0]]
    for i in range(len(q)):
        assert np.abs(_litert_run(litert, q[i:i + 1]).astype(int) - scores[i:i + 1]).max() <= 1


def test_narrow_tc_resnet8_fits_tiny_convs_flash_and_arena(real_clip_features):
    """The narrow model's .tflite is within micro_speech's and its arena within TinyConv's;
    the MCU estimate plans that arena to the byte."""
    pytest.importorskip("tflite_micro")
    from tinykws.convert.run import MICRO_SPEECH_MODEL_BYTES
    from tinykws.features.model_input import to_float_model_input
    from tinykws.mcu.estimate import estimate_model
    from tinykws.tflite.interpreters import tflm_arena_bytes

    x = to_float_model_input(real_clip_features)[..., None]
    narrow = serialize_tflite(quantize_model(_trained_like("tc_resnet8_narrow", 12, x), x))
    tiny = serialize_tflite(quantize_model(_trained_like("tiny_conv", 4, x), x))
    assert len(narrow) <= MICRO_SPEECH_MODEL_BYTES == 18_712
    arena = tflm_arena_bytes(narrow)["total"]
    assert arena <= tflm_arena_bytes(tiny)["total"]
    # the MCU estimate covers ADD, and plans the same arena as tflite-micro (ADD's op data: 136 B)
    assert estimate_model(parse_tflite(narrow), model_bytes=len(narrow)).arena_bytes == arena


def test_tc_resnet8_mcu_fits_twelve_label_tiny_convs_flash_and_arena(real_clip_features):
    """Sized for the 12-class task: its .tflite and tflite-micro arena are within TinyConv's
    with 12 outputs, and its graph starts with the convolution (no RESHAPE, no input copy)."""
    pytest.importorskip("tflite_micro")
    from tinykws.features.model_input import to_float_model_input
    from tinykws.tflite.interpreters import tflm_arena_bytes

    x = to_float_model_input(real_clip_features)[..., None]
    graph = quantize_model(_trained_like("tc_resnet8_mcu", 12, x), x)
    mcu = serialize_tflite(graph)
    tiny = serialize_tflite(quantize_model(_trained_like("tiny_conv", 12, x), x))
    assert "RESHAPE" not in [op.op for op in graph.operators[:1]]
    assert len(mcu) <= len(tiny)
    assert tflm_arena_bytes(mcu)["total"] <= tflm_arena_bytes(tiny)["total"]
