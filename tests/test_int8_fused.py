"""The fused batch-1 TinyConv path gives tflite-micro's bits.

(The comparisons with tflite-micro skip without it, in
:func:`fixtures.assert_fused_equals_tflite_micro`; the others need only our runtime.)
"""

import numpy as np
import pytest
from fixtures import assert_fused_equals_tflite_micro

from tinykws.quant.ptq import quantize_model
from tinykws.errors import TinyKWSError
from tinykws.int8.fused import FusedTinyConv
from tinykws.int8.runtime import Int8Runtime
from tinykws.nn.model import tiny_conv
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
        FusedTinyConv(graph).run(np.zeros((2, 49, 40, 1), np.int8))
