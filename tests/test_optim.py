"""Optimizers follow their update rules; schedules switch at their boundaries."""

import numpy as np
import pytest

from tinykws.train.optim import SGD, Adam, piecewise_lr


def test_sgd_step():
    p = {"w": np.array([1.0, -2.0])}
    SGD().step(p, {"w": np.array([0.5, 0.5])}, lr=0.1)
    np.testing.assert_allclose(p["w"], [0.95, -2.05])


def test_adam_first_steps_match_the_formula_with_l2_weight_decay():
    p = {"w": np.array([1.0])}
    opt = Adam(weight_decay=0.1)
    g1 = 0.5 + 0.1 * 1.0  # gradient plus L2 term
    opt.step(p, {"w": np.array([0.5])}, lr=0.01)
    # first bias-corrected step is lr * g / (|g| + eps) = lr * sign(g)
    np.testing.assert_allclose(p["w"], [1.0 - 0.01 * g1 / (abs(g1) + 1e-8)])
    w1 = p["w"][0]
    g2 = -0.2 + 0.1 * w1
    m = 0.9 * 0.1 * g1 + 0.1 * g2
    v = 0.999 * 0.001 * g1 ** 2 + 0.001 * g2 ** 2
    opt.step(p, {"w": np.array([-0.2])}, lr=0.01)
    expected = w1 - 0.01 * (m / (1 - 0.9 ** 2)) / (np.sqrt(v / (1 - 0.999 ** 2)) + 1e-8)
    np.testing.assert_allclose(p["w"], [expected])


def test_adam_state_round_trip_continues_identically():
    rng = np.random.default_rng(0)
    grads = [{"w": rng.normal(size=3)} for _ in range(6)]
    a, pa = Adam(), {"w": np.ones(3)}
    for g in grads:
        a.step(pa, g, 1e-3)
    b, pb = Adam(), {"w": np.ones(3)}
    for g in grads[:3]:
        b.step(pb, g, 1e-3)
    c = Adam()
    c.load_state({k: v.copy() for k, v in b.state().items()})
    for g in grads[3:]:
        c.step(pb, g, 1e-3)
    np.testing.assert_array_equal(pa["w"], pb["w"])


@pytest.mark.parametrize("step,rate", [(0, 1e-3), (11999, 1e-3), (12000, 1e-4), (14999, 1e-4)])
def test_tf_schedule(step, rate):
    assert piecewise_lr(step, [12000, 15000], [1e-3, 1e-4]) == rate
