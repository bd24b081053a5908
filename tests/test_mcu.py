"""The MCU cost model: what its estimates must do, and how close they are to measurements."""

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinykws.quant.ptq import quantize_model
from tinykws.errors import TinyKWSError
from tinykws.mcu import estimate_model
from tinykws.mcu.arena import Buffer, align, live_bytes_lower_bound, plan_greedy, tensor_buffers
from tinykws.mcu.calibration import ERROR_BOUND_PERCENT, calibration_table, solve_plain_c_constants
from tinykws.mcu.clip import clip_breakdown, frames_per_clip
from tinykws.mcu.dscnn import ds_cnn_graph
from tinykws.mcu.footprint import RUNTIME_RAM_BYTES, runtime_flash_bytes
from tinykws.mcu.kernels import PLAIN_C_CYCLES_PER_MAC, PLAIN_C_CYCLES_PER_TAP
from tinykws.mcu.persistent import persistent_bytes
from tinykws.nn.model import tiny_conv
from tinykws.tflite.interpreters import tflm_arena_bytes
from tinykws.tflite.model import Graph, Operator, Tensor
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


# --- latency ---------------------------------------------------------------------------------

def test_tinyconv_work_follows_the_course_convention(pruned):
    est = estimate_model(pruned[8])
    assert [(r.op, r.macs) for r in est.ops] == [
        ("DEPTHWISE_CONV_2D", 320_000), ("RESHAPE", 0), ("FULLY_CONNECTED", 16_000), ("SOFTMAX", 0)]


def test_latency_grows_with_macs(pruned):
    est = [estimate_model(pruned[k]) for k in (2, 4, 8)]
    assert est[0].macs < est[1].macs < est[2].macs
    assert est[0].network_ms < est[1].network_ms < est[2].network_ms


@pytest.mark.parametrize("graph", ["tinyconv as CONV_2D", "ds-cnn"])
def test_cmsis_nn_is_several_times_faster_than_reference(reference_models_dir, graph):
    g = (read_tflite(reference_models_dir / "tiny_conv_int8.tflite") if graph != "ds-cnn"
         else ds_cnn_graph())
    ref = estimate_model(g, "reference", model_bytes=1)
    cmsis = estimate_model(g, "cmsis-nn", model_bytes=1)
    assert cmsis.network_ms < ref.network_ms / 3


def test_cmsis_nn_gains_little_on_a_depthwise_conv_with_depth_multiplier_8(pruned):
    # arm_depthwise_conv_s8 has no DSP path for a multiplier > 1: plain C, like reference.
    ref, cmsis = (estimate_model(pruned[8], k).ops[0] for k in ("reference", "cmsis-nn"))
    assert cmsis.kernel == "DEPTHWISE_CONV_2D*"
    assert 0.95 * ref.cycles < cmsis.cycles < ref.cycles


def test_fewer_filters_take_fewer_cycles(pruned):
    for kernels in ("reference", "cmsis-nn"):
        cycles = [estimate_model(pruned[k], kernels).network_cycles for k in range(1, 9)]
        assert all(a < b for a, b in zip(cycles, cycles[1:])), (kernels, cycles)


def test_fewer_filters_need_a_smaller_arena(pruned):
    arenas = [estimate_model(pruned[k]).arena_bytes for k in range(1, 9)]
    assert all(a < b for a, b in zip(arenas, arenas[1:])), arenas


def test_zeroed_weights_do_not_change_the_estimate(pruned):
    graph = pruned[8]
    rng = np.random.default_rng(0)
    tensors = [dataclasses.replace(t, data=np.where(rng.random(t.data.shape) < 0.9, 0, t.data))
               if t.is_constant and t.dtype == "int8" else t for t in graph.tensors]
    sparse = dataclasses.replace(graph, tensors=tuple(tensors))
    assert estimate_model(sparse) == estimate_model(graph)


def test_doubling_the_clock_halves_the_time_not_the_cycles(pruned):
    slow, fast = estimate_model(pruned[8], clock_hz=64e6), estimate_model(pruned[8], clock_hz=128e6)
    assert fast.network_cycles == slow.network_cycles
    assert fast.network_ms == pytest.approx(slow.network_ms / 2)


def test_a_one_channel_conv_costs_as_much_as_its_depthwise_form(reference_models_dir, pruned):
    # TensorFlow writes TinyConv's convolution as CONV_2D, micro_speech as DEPTHWISE_CONV_2D:
    # with one input channel both reference kernels do the same loop per tap.
    conv = estimate_model(read_tflite(reference_models_dir / "tiny_conv_int8.tflite"))
    assert conv.ops[0].op == "CONV_2D"
    assert conv.ops[0].cycles == estimate_model(pruned[8]).ops[0].cycles


def test_cmsis_nn_conv_asks_for_an_im2col_scratch_buffer(reference_models_dir):
    graph = read_tflite(reference_models_dir / "tiny_conv_int8.tflite")
    assert estimate_model(graph, "cmsis-nn").ops[0].scratch_bytes == 2 * (1 * 10 * 8) * 2
    assert estimate_model(graph, "reference").ops[0].scratch_bytes == 0


def test_cmsis_nn_scratch_buffers_enlarge_the_ds_cnn_arena():
    ref = estimate_model(ds_cnn_graph(), "reference", model_bytes=1)
    cmsis = estimate_model(ds_cnn_graph(), "cmsis-nn", model_bytes=1)
    # The depthwise layers' 1152-byte buffers find no gap beside two live 8000-byte activations.
    assert cmsis.planned_bytes == ref.planned_bytes + 1152


# --- calibration against published measurements ----------------------------------------------

@pytest.mark.parametrize("row", calibration_table(), ids=lambda r: r.point.name)
def test_published_latencies_are_reproduced_within_the_stated_bound(row):
    assert abs(row.error_percent) <= ERROR_BOUND_PERCENT, (row.estimated_ms, row.point.published_ms)


def test_stored_plain_c_constants_are_the_solved_ones_rounded():
    per_mac, per_tap = solve_plain_c_constants()
    assert (round(per_mac), round(per_tap)) == (PLAIN_C_CYCLES_PER_MAC, PLAIN_C_CYCLES_PER_TAP)


def test_ds_cnn_graph_has_the_mlperf_tiny_shapes():
    est = estimate_model(ds_cnn_graph(), model_bytes=1)
    assert [r.op for r in est.ops] == (["CONV_2D"] + ["DEPTHWISE_CONV_2D", "CONV_2D"] * 4
                                      + ["AVERAGE_POOL_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"])
    conv_macs = 25 * 5 * 64 * 10 * 4 + 4 * (25 * 5 * 64 * 9 + 25 * 5 * 64 * 64) + 64 * 12
    assert sum(r.macs for r in est.ops if r.op != "AVERAGE_POOL_2D") == conv_macs


# --- memory totals and the clip ---------------------------------------------------------------

def test_flash_is_the_model_bytes_plus_the_runtime(reference_models_dir):
    blob = (reference_models_dir / "tiny_conv_int8.tflite").read_bytes()
    est = estimate_model(read_tflite(reference_models_dir / "tiny_conv_int8.tflite"),
                         model_bytes=len(blob))
    assert est.flash_bytes == 19_000 + est.runtime_flash_bytes
    assert 16 * 1024 < est.runtime_flash_bytes < 64 * 1024


def test_arena_is_the_plan_plus_the_persistent_bytes(pruned):
    est = estimate_model(pruned[8])
    assert (est.planned_bytes, est.arena_bytes) == _arena(pruned[8])


def test_runtime_flash_for_micro_speech_ops_is_tflms_published_22_kb():
    micro_speech = runtime_flash_bytes("reference", {"DEPTHWISE_CONV_2D", "FULLY_CONNECTED",
                                                     "SOFTMAX"})
    assert micro_speech == pytest.approx(22 * 1024, rel=0.05)


def test_ram_is_the_arena_plus_the_runtime(pruned):
    est = estimate_model(pruned[8])
    assert est.ram_bytes == est.arena_bytes + RUNTIME_RAM_BYTES
    assert est.ram_percent == pytest.approx(100 * est.ram_bytes / 262_144)


def test_a_clip_is_49_frames_and_its_stages_add_up():
    clip = clip_breakdown(88.0, 64e6, labels=4)
    assert frames_per_clip() == clip.frames == 49
    assert clip.total_ms == pytest.approx(clip.preprocess_ms + 88.0 + clip.postprocess_ms)


def test_postprocessing_is_negligible_beside_the_network():
    assert clip_breakdown(88.0, 64e6, labels=4).postprocess_ms < 0.1


def _pooled_graph() -> Graph:
    """float (1, 8, 8, 4) -> QUANTIZE -> MAX_POOL_2D 2x2 stride 2 -> DEQUANTIZE -> float."""
    tensors = [Tensor("x", (1, 8, 8, 4), "float32"), Tensor("q", (1, 8, 8, 4), "int8"),
               Tensor("p", (1, 4, 4, 4), "int8"), Tensor("y", (1, 4, 4, 4), "float32")]
    ops = [Operator("QUANTIZE", (0,), (1,)),
           Operator("MAX_POOL_2D", (1,), (2,), {"padding": "VALID", "stride_h": 2, "stride_w": 2,
                                                "filter_height": 2, "filter_width": 2}),
           Operator("DEQUANTIZE", (2,), (3,))]
    return Graph(tensors, ops, (0,), (3,))


def test_max_pool_macs_are_its_window_elements():
    est = estimate_model(_pooled_graph(), model_bytes=1)
    assert [r.macs for r in est.ops] == [0, 4 * 4 * 4 * (2 * 2), 0]


def test_a_float_model_input_may_enter_through_quantize():
    est = estimate_model(_pooled_graph(), model_bytes=1)
    assert [r.outputs for r in est.ops] == [256, 64, 64]
    assert est.planned_bytes == align(256 * 4) + align(256)  # float input beside its int8 copy


def test_an_unsupported_operator_is_a_user_error():
    tensors = [Tensor("a", (1, 4), "int8"), Tensor("b", (1, 4), "int8")]
    graph = Graph(tensors, [Operator("TANH", (0,), (1,))], (0,), (1,))
    with pytest.raises(TinyKWSError, match="TANH"):
        estimate_model(graph, model_bytes=1)


def test_a_float_model_is_a_user_error():
    tensors = [Tensor("x", (1, 4), "float32"),
               Tensor("w", (2, 4), "float32", data=np.zeros((2, 4), np.float32)),
               Tensor("y", (1, 2), "float32")]
    graph = Graph(tensors, [Operator("FULLY_CONNECTED", (0, 1, -1), (2,))], (0,), (2,))
    with pytest.raises(TinyKWSError, match="int8"):
        estimate_model(graph, model_bytes=1)


def test_an_unknown_kernel_library_is_a_user_error(pruned):
    with pytest.raises(TinyKWSError, match="cmsis-nn"):
        estimate_model(pruned[8], kernels="xnnpack")


# --- the command line --------------------------------------------------------------------------

def _run(*args):
    return subprocess.run([sys.executable, "-m", "tinykws", "mcu", *map(str, args)],
                          capture_output=True, text=True)


def test_cli_prints_a_per_op_table_for_both_libraries(reference_models_dir):
    result = _run(reference_models_dir / "tiny_conv_int8.tflite")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "TFLM reference kernels" in out and "TFLM cmsis-nn kernels" in out
    assert out.count("FULLY_CONNECTED") == 2 and "estimate" in out
    assert "of the Nano's 1 MB" in out and "of the Nano's 256 KB" in out
    assert "preprocessing 21.0 ms (49 frames)" in out


def test_cli_flags_a_depthwise_conv_that_cmsis_nn_runs_in_plain_c(tmp_path, pruned):
    path = tmp_path / "dw.tflite"
    path.write_bytes(serialize_tflite(pruned[8]))
    out = _run(path, "--kernels", "cmsis-nn").stdout
    assert "DEPTHWISE_CONV_2D*" in out and "no SIMD path" in out


def test_cli_json_reports_the_chosen_library_and_clock(reference_models_dir):
    result = _run(reference_models_dir / "tiny_conv_int8.tflite", "--kernels", "cmsis-nn",
                  "--clock-mhz", "128", "--json")
    report = json.loads(result.stdout)
    [est] = report["estimates"]
    assert est["kernels"] == "cmsis-nn" and est["clock_hz"] == 128e6
    assert est["model_bytes"] == 19_000 and len(est["ops"]) == 4
    assert est["clip"]["network_ms"] == est["network_ms"]


def test_cli_help_says_it_is_an_estimate():
    result = _run("--help")
    assert result.returncode == 0 and "ESTIMATE" in result.stdout


@pytest.mark.parametrize("content", [None, b"", b"not a flatbuffer at all", "truncated"])
def test_cli_bad_model_file_is_a_one_line_error_with_exit_2(tmp_path, reference_models_dir,
                                                            content):
    path = tmp_path / "model.tflite"
    if content == "truncated":
        path.write_bytes((reference_models_dir / "tiny_conv_int8.tflite").read_bytes()[:300])
    elif content is not None:
        path.write_bytes(content)
    result = _run(path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "error:" in result.stderr
