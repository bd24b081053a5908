"""MLPerf Tiny's DS-CNN: trainable here, batch norm folded at export, bit-exact in tflite-micro."""

import numpy as np
import pytest

from test_nn_gradients import check_model
from tinykws.nn.batch_norm import BatchNorm
from tinykws.nn.ds_cnn import ds_cnn
from tinykws.nn.model import from_spec
from tinykws.quant.ptq import quantize_model
from tinykws.tflite.reader import parse_tflite
from tinykws.tflite.writer import serialize_tflite

DS_CNN_OPS = (["CONV_2D"] + ["DEPTHWISE_CONV_2D", "CONV_2D"] * 4
              + ["AVERAGE_POOL_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"])


def test_ds_cnn_has_mlperfs_shapes_and_keras_parameter_count():
    model = ds_cnn(12, np.random.default_rng(0))
    assert sum(v.size for v in model.parameters().values()) == 23_756  # Keras' trainable count
    shapes = model.shapes()
    assert shapes[0] == (25, 5, 64) and shapes[-3:] == [(1, 1, 64), (64,), (12,)]
    assert sum(isinstance(layer, BatchNorm) for layer in model.layers) == 9
    assert from_spec(model.spec()).spec() == model.spec()


def test_ds_cnn_refuses_an_input_its_pool_cannot_reduce_to_one_position():
    with pytest.raises(ValueError, match="after pooling"):
        ds_cnn(12, np.random.default_rng(0), (3, 10, 1))


def test_whole_ds_cnn_gradient_matches_finite_differences():
    """A small DS-CNN in training mode (batch statistics), dropout off: dL/dparam by backprop."""
    rng = np.random.default_rng(1)
    model = ds_cnn(3, rng, (9, 6, 1), filters=4, blocks=2)
    x, labels = rng.normal(0, 1, (4, 9, 6, 1)), np.array([0, 1, 2, 1])
    check_model(model, x, labels, rng)


@pytest.fixture(scope="module")
def real_clip_features(real_test_dir):
    """Micro-frontend features of 18 real clips of six words: (18, 49, 40) uint16."""
    from tinykws.audio import fit_length, load_wav, to_int16
    from tinykws.data.pipeline import micro_features

    words = ("yes", "no", "up", "down", "_silence_", "_unknown_")
    paths = [p for w in words for p in sorted((real_test_dir / w).glob("*.wav"))[:3]]
    return micro_features(np.stack([fit_length(to_int16(load_wav(p)), 16000) for p in paths]))


def test_ds_cnn_exports_with_batch_norm_folded_and_runs_bit_exactly_in_tflm(real_clip_features):
    """Full-int8 PTQ through our writer; every tensor on real clips equals tflite-micro's."""
    pytest.importorskip("tflite_micro")
    from test_int8_vs_tflm import _litert, _litert_run, tflm_interpreter
    from test_int8_zoo_ops_vs_tflm import assert_every_tensor_matches_tflm
    from tinykws.features.model_input import to_float_model_input, to_int8_model_input
    from tinykws.int8.runtime import Int8Runtime

    rng = np.random.default_rng(2)
    model = ds_cnn(12, rng, (49, 40, 1))
    model.set_rng(rng)
    x = to_float_model_input(real_clip_features)[..., None]  # (18, 49, 40, 1) float32
    for _ in range(3):  # move the batch norms' statistics away from (0, 1)
        model.forward(x, training=True)
    graph = quantize_model(model, x, single_channel_as_depthwise=False)
    assert [op.op for op in graph.operators] == DS_CNN_OPS
    blob = serialize_tflite(graph)
    q = to_int8_model_input(real_clip_features)[..., None]  # (18, 49, 40, 1) int8
    ours = Int8Runtime(parse_tflite(blob)).run(q, keep_all=True)
    assert len(ours) == len(DS_CNN_OPS) + 1
    assert_every_tensor_matches_tflm(tflm_interpreter(blob), ours, q)
    logits = ours[graph.operators[-2].outputs[0]]  # (18, 12) int8, FULLY_CONNECTED's output
    assert len(np.unique(logits)) > 20  # spread over the int8 range, not saturated
    # The folded, quantized model ranks the classes as the float one does (at inference).
    assert (logits.argmax(1) == model.forward(x).argmax(1)).mean() >= 0.8
    scores = ours[graph.outputs[0]]  # (18, 12) int8 probabilities
    # ai-edge-litert loads the file and, with its reference kernels, nearly agrees: on
    # some clips one FULLY_CONNECTED logit is 1 off. On the clips checked its per-tensor
    # FULLY_CONNECTED output equals rounding once, (acc * M + 2**(30 - shift)) >> (31 - shift),
    # where tflite-micro (the device's runtime, our ground truth) rounds twice.
    pytest.importorskip("ai_edge_litert")
    litert = _litert(blob, reference=True)
    for i in range(len(q)):
        diff = _litert_run(litert, q[i:i + 1]).astype(int) - scores[i:i + 1]
        assert np.abs(diff).max() <= 1
