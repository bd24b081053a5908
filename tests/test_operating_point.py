"""The _unknown_ bias: a deployable knob between keyword recall and false accepts."""

import numpy as np

from tinykws.nn.model import tiny_conv
from tinykws.train.operating_point import (bias_for_false_accepts, false_accept_rate, operating_curve,
                                           shifted_predictions, with_unknown_bias)

NAMES = ["_silence_", "_unknown_", "yes", "no"]


def test_the_bias_moves_only_the_unknown_logit():
    logits = np.array([[0.0, 1.0, 1.5, 0.0], [0.0, 1.0, 0.2, 0.0]])
    assert list(shifted_predictions(logits, 0.0)) == [2, 1]
    assert list(shifted_predictions(logits, 1.0)) == [1, 1]
    assert list(shifted_predictions(logits, -1.0)) == [2, 2]


def test_a_larger_bias_never_raises_false_accepts_and_never_raises_keyword_recall():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 500)
    logits = rng.normal(0, 1, (500, 4)) + 2.0 * np.eye(4)[labels]
    curve = operating_curve(logits, labels, NAMES)
    fa = [p["false_accepts"] for p in curve]
    yes = [p["recall"]["yes"] for p in curve]
    assert all(a >= b for a, b in zip(fa, fa[1:])) and all(a >= b for a, b in zip(yes, yes[1:]))
    assert fa[0] > 0.3 and fa[-1] == 0.0


def test_the_calibrated_bias_is_the_smallest_meeting_the_target():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 4, 400)
    logits = rng.normal(0, 1, (400, 4)) + 1.5 * np.eye(4)[labels]
    b = bias_for_false_accepts(logits, labels, 0.05)
    assert false_accept_rate(shifted_predictions(logits, b), labels) <= 0.05
    assert false_accept_rate(shifted_predictions(logits, b - 0.25), labels) > 0.05


def test_the_bias_lives_in_the_dense_layer_so_the_graph_is_unchanged():
    model = tiny_conv(4, np.random.default_rng(2))
    x = np.random.default_rng(3).uniform(0, 20, (5, 49, 40, 1)).astype(np.float32)
    before = model.forward(x)
    after = with_unknown_bias(model, 1.25).forward(x)
    np.testing.assert_allclose(after - before, np.tile([0, 1.25, 0, 0], (5, 1)), atol=1e-5)
