"""The benchmark suite runs and writes what it promises (a smoke test: no timing is judged)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks.__main__ import SUITES, main, markdown_table
from benchmarks.sparse import magnitude_pruned
from benchmarks.timing import row


def test_magnitude_pruning_zeroes_exactly_the_smallest_fraction_of_each_weight_tensor(
        reference_models_dir):
    from tinykws.tflite.reader import read_tflite

    graph = read_tflite(reference_models_dir / "tiny_conv_int8.tflite")
    pruned = magnitude_pruned(graph, 0.9)
    for op in graph.operators:
        if op.op in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            before, after = graph.constant(op.inputs[1]), pruned.constant(op.inputs[1])
            assert np.sum(after == 0) == round(0.9 * after.size)
            kept = after != 0
            assert np.array_equal(after[kept], before[kept])  # survivors unchanged
            assert np.abs(before[~kept]).max() <= np.abs(before[kept]).min()
    assert pruned.constant(graph.operators[0].inputs[2]) is graph.constant(
        graph.operators[0].inputs[2])  # biases untouched


def test_table_says_which_sides_were_bit_exact():
    rows = [row("b", "ours", "peer", 1.0, 2.0, "s", False, ours_bit_exact=True,
                peer_bit_exact=False),
            row("f", "ours", "peer", 3.0, 1.0, "audio s / s", True)]
    lines = markdown_table(rows).splitlines()
    assert "bit-exact with tflite-micro" in lines[0]
    assert lines[2].endswith("| 2 | yes / no |") and lines[3].endswith("| 3 |  |")


def test_quick_run_writes_json_markdown_and_png(tmp_path, monkeypatch):
    pytest.importorskip("librosa")
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        monkeypatch.setenv(var, "1")  # main() pins them; restored after the test
    out = {ext: tmp_path / f"bench.{ext}" for ext in ("json", "md", "png")}
    assert main(["--quick", "--only", "mfcc", "--json", str(out["json"]), "--markdown",
                 str(out["md"]), "--png", str(out["png"])]) == 0
    report = json.loads(out["json"].read_text())
    env = report["environment"]
    assert env["threads"] == 1 and env["thread_counts"]["numba"] >= 1
    assert env["numpy"] == np.__version__ and "librosa" in env and env["cpus"] >= 1
    machine = env["hardware"]
    assert machine["logical_cpus"] == env["cpus"] and isinstance(machine["isa_flags"], list)
    assert machine["simd_int16_macs_per_cycle"] in (16, 32, 64)
    assert "blas" in machine and "cpu_vendor" in machine
    (result,) = report["results"]
    assert result["benchmark"].startswith("MFCC") and result["max_abs_diff"] < 1e-2
    assert result["ratio"] > 0
    assert "MFCC" in out["md"].read_text()
    assert out["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_suites_are_exactly_the_benchmark_modules_each_with_run_quick():
    import importlib
    import inspect
    import pkgutil

    import benchmarks

    helpers = {"__main__", "timing", "machine"}
    modules = {m.name for m in pkgutil.iter_modules(benchmarks.__path__)} - helpers
    assert sorted(SUITES) == sorted(modules)  # none left out, none listed twice
    for name in SUITES:
        run = importlib.import_module(f"benchmarks.{name}").run
        assert list(inspect.signature(run).parameters) == ["quick"], name


def test_clip_stages_times_every_stage_and_every_installed_peer(reference_models_dir):
    from importlib.util import find_spec

    from tinykws.timing import clip_stages

    seconds = clip_stages((reference_models_dir / "tiny_conv_int8.tflite").read_bytes(),
                          repeats=1)
    expected = {"frontend 20 ms", "frontend 10 ms", "network", "recognizer"}
    expected |= {"pymicro-features"} if find_spec("pymicro_features") else set()
    expected |= {"tflite-micro"} if find_spec("tflite_micro") else set()
    assert set(seconds) == expected


def test_simd_limit_follows_the_widest_int16_multiply_add():
    from benchmarks.machine import isa_flags, simd_int16_macs_per_cycle

    info = {"flags": "fpu sse2 sse4_2 avx avx2 fma avx512f avx512bw avx512_vnni aes"}
    assert isa_flags(info) == ["avx", "avx2", "avx512_vnni", "avx512bw", "avx512f", "fma",
                               "sse4_2"]
    assert simd_int16_macs_per_cycle(isa_flags(info))[0] == 64  # 32 per zmm x 2 ports
    assert simd_int16_macs_per_cycle(["avx2", "fma"])[0] == 32
    assert simd_int16_macs_per_cycle([])[0] == 16


def test_model_macs_counts_every_tap_of_tinyconv(reference_models_dir):
    from benchmarks.int8_inference import model_macs
    from tinykws.tflite.reader import read_tflite

    graph = read_tflite(reference_models_dir / "tiny_conv_int8.tflite")
    # CONV_2D: 25 x 20 outputs x 8 channels x 10 x 8 taps; FULLY_CONNECTED 4000 x 4.
    assert model_macs(graph) == 25 * 20 * 8 * 10 * 8 + 4000 * 4


def test_train_loop_is_skipped_without_data(tmp_path, monkeypatch):
    from benchmarks import train_loop

    monkeypatch.setenv("TINYKWS_BENCH_DATA", str(tmp_path / "missing"))
    assert train_loop.data_folder() is None and train_loop.run(quick=True) == []


def test_train_loop_reports_steps_per_second_of_both_loops(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    from benchmarks import train_loop
    from fixtures import make_training_set

    root = make_training_set(tmp_path, {"yes": 12, "no": 12, "bed": 6}, clips_per_speaker=2)
    monkeypatch.setenv("TINYKWS_BENCH_DATA", str(root))
    (result,) = train_loop.run(quick=True)
    assert result["unit"] == "steps / s" and result["data"] == str(root)
    assert result["ours_value"] > 0 and result["peer_value"] > 0
    assert result["ratio"] == pytest.approx(result["ours_value"] / result["peer_value"])


def test_ds_cnn_int8_model_is_mlperfs_graph_with_its_macs():
    from benchmarks.int8_inference import ds_cnn_int8_model, model_macs
    from tinykws.tflite.reader import parse_tflite

    graph = parse_tflite(ds_cnn_int8_model())
    assert [op.op for op in graph.operators] == (
        ["CONV_2D"] + ["DEPTHWISE_CONV_2D", "CONV_2D"] * 4
        + ["AVERAGE_POOL_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"])
    # 25 x 5 outputs x 64 channels: conv 10x4, four 3x3 depthwise and four 1x1 x 64; dense 64 x 12.
    assert model_macs(graph) == 8000 * 40 + 4 * 8000 * 9 + 4 * 8000 * 64 + 64 * 12 == 2_656_768


def test_pytorch_ds_cnn_twin_has_our_parameter_count_and_shapes():
    torch = pytest.importorskip("torch")
    from benchmarks.train_step import torch_ds_cnn_model
    from tinykws.nn.zoo import build_model

    model = torch_ds_cnn_model()
    ours = build_model("ds_cnn", 12, np.random.default_rng(0), (49, 10, 1))
    assert sum(p.numel() for p in model.parameters()) == sum(
        v.size for v in ours.parameters().values()) == 23_756
    x = torch.zeros(3, 1, 49, 10)
    assert tuple(model[:2](x).shape) == (3, 64, 25, 5)  # TF's SAME, stride 2, as ours
    assert tuple(model(x).shape) == (3, 12)
