"""Size estimation reproduces the course's numbers from the formulas."""

import math

import numpy as np
import pytest

from tinykws import size, timing
from tinykws.nn.model import tiny_conv
from tinykws.size import size_report


def test_tiny_conv_counts_follow_from_its_layer_shapes():
    """Parameters and FLOPs worked out here from the weight shapes, then the course's numbers."""
    model = tiny_conv(4, np.random.default_rng(0))
    conv, dense = model.layers[0], model.layers[4]
    out_c, kh, kw, in_c = conv.params["weight"].shape  # (8, 10, 8, 1)
    oh, ow = math.ceil(49 / 2), math.ceil(40 / 2)  # SAME, stride 2: 25 x 20
    conv_outputs = oh * ow * out_c
    conv_flops = 2 * conv_outputs * kh * kw * in_c + conv_outputs  # a multiply-add per tap, + bias
    classes, features = dense.params["weight"].shape  # (4, 4000)
    assert features == conv_outputs
    dense_flops = 2 * features * classes + classes
    params = out_c * kh * kw * in_c + out_c + features * classes + classes
    r = size_report(model, measure_latency=False)
    assert [layer["flops"] for layer in r["layers"]] == [conv_flops, 0, 0, 0, dense_flops]
    assert r["params"] == params and r["flops"] == conv_flops + dense_flops
    assert (params, conv_flops, dense_flops) == (16_652, 644_000, 32_004)  # the course's


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


def test_latency_is_the_median_of_the_timed_forward_passes(monkeypatch):
    """A fake clock whose passes last 1, 3, 2, 10, 2, 1, 3, ... ms: the median is 2 ms."""
    durations = [0.001, 0.003, 0.002, 0.010, 0.002] * 80  # 400 passes
    starts = np.arange(len(durations)) * 1.0  # one pass a second, so no gap is a duration
    ticks = iter(np.ravel(np.column_stack([starts, starts + durations])))
    monkeypatch.setattr(timing.time, "perf_counter", lambda: float(next(ticks)))  # the timer size uses
    model = tiny_conv(4, np.random.default_rng(0))
    assert size.float_latency_seconds(model, repeats=5) == pytest.approx(0.002)
    with_latency = size_report(model)  # 200 more passes
    assert with_latency.pop("float_latency_batch1_seconds") == pytest.approx(0.002)
    assert with_latency == size_report(model, measure_latency=False)
