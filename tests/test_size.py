"""Size estimation reproduces the course's numbers from the formulas."""

import numpy as np

from tinykws.nn.model import tiny_conv
from tinykws.size import size_report


def test_tiny_conv_size_in_the_course_convention():
    r = size_report(tiny_conv(4, np.random.default_rng(0)), measure_latency=False)
    conv, dense = r["layers"][0], r["layers"][4]
    # conv: 25*20*8 outputs, each 10*8*1 MACs; FLOPs = 2 per MAC + 1 per output (bias)
    assert conv["macs"] == 25 * 20 * 8 * 80 and conv["flops"] == 644_000
    assert dense["macs"] == 4000 * 4 and dense["flops"] == 32_004
    assert r["flops"] == 676_004
    assert r["params"] == 16_652 and r["flash_float32_bytes"] == 66_608
    assert r["ram_course_bytes"] == 49 * 40 * 4 + 4 * 4 == 7_856
    # peak, deployed (ReLU fused): the conv's 49x40 input and 25x20x8 output
    assert r["ram_peak_float32_bytes"] == (1960 + 4000) * 4 == 23_840
    assert r["ram_peak_int8_bytes"] == 1960 + 4000
    # int8: 16,640 weight bytes, 12 int32 biases, 8 + 1 quantization channels of 8 bytes
    assert r["flash_int8_bytes"] == 16_640 + 4 * 12 + 8 * 9


def test_size_follows_the_model_a_narrower_conv_and_zeros():
    model = tiny_conv(4, np.random.default_rng(0), filters=3)
    model.layers[0].params["weight"][0] = 0
    r = size_report(model, measure_latency=False)
    assert r["params"] == 3 * 80 + 3 + 1500 * 4 + 4
    assert r["nonzero_params"] == r["params"] - 80 - 3 - 4  # the zeroed filter and the zero biases
    assert r["layers"][0]["flops"] == 2 * 25 * 20 * 3 * 80 + 1500


def test_latency_is_measured_positive():
    r = size_report(tiny_conv(4, np.random.default_rng(0)))
    assert r["float_latency_batch1_seconds"] > 0
