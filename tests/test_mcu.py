"""The MCU cost model: what its estimates must do, and how close they are to measurements."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinykws.convert.ptq import quantize_model
from tinykws.mcu.arena import Buffer, align, live_bytes_lower_bound, plan_greedy, tensor_buffers
from tinykws.mcu.persistent import persistent_bytes
from tinykws.nn.model import tiny_conv
from tinykws.tflite.interpreters import tflm_arena_bytes
from tinykws.tflite.reader import read_tflite
from tinykws.tflite.writer import serialize_tflite

REFERENCE_MODELS = ("tiny_conv_int8.tflite", "tiny_conv_int8_fc_per_tensor.tflite",
                    "tiny_conv_int8_logits.tflite")


@pytest.fixture(scope="module")
def pruned():
    """int8 TinyConv (DEPTHWISE_CONV_2D, as micro_speech has it) with 1..8 filters, by count."""
    x = np.random.default_rng(0).uniform(0.0, 26.0, (4, 49, 40, 1)).astype(np.float32)
    return {k: quantize_model(tiny_conv(4, np.random.default_rng(k), filters=k), x)
            for k in range(1, 9)}


# --- the arena planner ---------------------------------------------------------------------

buffer_lists = st.lists(
    st.tuples(st.integers(1, 5000), st.integers(0, 9), st.integers(0, 4)).map(
        lambda t: Buffer("b", t[0], t[1], t[1] + t[2])),
    min_size=0, max_size=25)


@given(buffer_lists)
def test_greedy_plan_never_overlaps_two_buffers_alive_at_once(buffers):
    plan = plan_greedy(buffers)
    spans = [(o, o + align(b.size)) for b, o in zip(plan.buffers, plan.offsets)]
    for i, a in enumerate(buffers):
        for j in range(i):
            if a.overlaps_in_time(buffers[j]):
                assert spans[i][1] <= spans[j][0] or spans[j][1] <= spans[i][0]


@given(buffer_lists)
def test_greedy_plan_never_uses_less_than_the_live_bytes_lower_bound(buffers):
    assert plan_greedy(buffers).head_bytes >= live_bytes_lower_bound(buffers)


@given(buffer_lists)
def test_greedy_plan_puts_every_buffer_on_a_16_byte_boundary(buffers):
    assert all(o % 16 == 0 for o in plan_greedy(buffers).offsets)


def test_greedy_plan_reuses_the_memory_of_a_dead_buffer():
    plan = plan_greedy([Buffer("a", 1000, 0, 0), Buffer("b", 1000, 1, 1)])
    assert plan.offsets == (0, 0) and plan.head_bytes == 1008


def test_greedy_plan_puts_the_largest_buffer_at_offset_zero():
    plan = plan_greedy([Buffer("small", 100, 0, 1), Buffer("large", 4000, 0, 1)])
    assert plan.offsets == (4000, 0)


def test_greedy_plan_fills_the_gap_below_a_live_buffer():
    # "b" is pushed above "a"; "c" lives only with "b", so it fits below it, where "a" was.
    plan = plan_greedy([Buffer("a", 3000, 0, 0), Buffer("b", 2000, 0, 1), Buffer("c", 1000, 1, 1)])
    assert plan.offsets == (0, 3008, 0)


def test_tinyconv_lifetimes_run_from_writer_to_last_reader(reference_models_dir):
    graph = read_tflite(reference_models_dir / "tiny_conv_int8.tflite")
    lifetimes = [(b.size, b.first, b.last) for b in tensor_buffers(graph)]
    # input, conv output, reshape output, dense output, softmax output; no weights.
    assert lifetimes == [(1960, 0, 0), (4000, 0, 1), (4000, 1, 2), (4, 2, 3), (4, 3, 3)]


def _arena(graph):
    """Our (head, total) arena bytes for ``graph`` under the reference kernels."""
    head = plan_greedy(tensor_buffers(graph)).head_bytes
    return head, head + persistent_bytes(graph)


@pytest.mark.parametrize("name", REFERENCE_MODELS)
def test_arena_equals_tflite_micros_on_the_reference_models(reference_models_dir, name):
    tflm = tflm_arena_bytes((reference_models_dir / name).read_bytes())
    if tflm is None:
        pytest.skip("tflite-micro is not installed")
    head, total = _arena(read_tflite(reference_models_dir / name))
    assert head == tflm["head"]
    assert abs(total - tflm["total"]) <= 16  # stated tolerance: 16 bytes


@pytest.mark.parametrize("filters", [1, 3, 5, 8])
def test_arena_equals_tflite_micros_on_pruned_tinyconv(pruned, filters):
    tflm = tflm_arena_bytes(serialize_tflite(pruned[filters]))
    if tflm is None:
        pytest.skip("tflite-micro is not installed")
    assert _arena(pruned[filters]) == (tflm["head"], tflm["total"])
