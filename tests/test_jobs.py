"""The sweeps' job runner: the same results serially, in local processes and on a real Dask cluster.

The cluster is a real one on loopback: a scheduler and two worker processes
of one thread each (``distributed.LocalCluster(processes=True)``). The jobs
here are module-level functions, so the workers import this module to run
them, as they import tinykws to run a study's jobs.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from fixtures import make_test_set, train_tiny_run
from tinykws.cli import main
from tinykws.errors import TinyKWSError
from tinykws.jobs import (DaskRunner, Job, ProcessRunner, SerialRunner, in_job_order, make_runner, run_jobs,
                          save_outcome)


# -- jobs for the runner itself -------------------------------------------------

def _product_sum(seed: int, n: int) -> float:
    """A seeded job whose float sums go through the BLAS (which rounds by its thread count)."""
    a = np.random.default_rng(seed).normal(size=(n, n)).astype(np.float32)  # (n, n)
    return float((a @ a @ a).sum())


def _threads() -> tuple:
    import numba
    from threadpoolctl import threadpool_info

    return numba.get_num_threads(), tuple(sorted({p["num_threads"] for p in threadpool_info()}))


def _value(v: int) -> int:
    return v


def _dies_once(marker: str, v: int) -> int:
    """Kills its worker process the first time it runs (the marker file remembers), then returns ``v``."""
    if not os.path.exists(marker):
        Path(marker).touch()
        os._exit(3)
    return v


def _dies(seconds: float) -> None:
    time.sleep(seconds)
    os._exit(3)


def _collect(jobs, runner) -> dict:
    results = {}
    run_jobs(jobs, lambda job, r: results.__setitem__(job.key, r), runner, progress=False)
    return results


@pytest.fixture(scope="module")
def cluster():
    """A real Dask cluster on loopback; a job that kills two workers is given up on."""
    import dask
    from distributed import LocalCluster

    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address=None) as c:
            yield c.scheduler_address


@pytest.fixture(scope="module")
def dask_runner(cluster):
    runner = DaskRunner(cluster)
    yield runner
    runner.close()


def test_jobs_give_the_same_results_on_every_runner_in_any_order(dask_runner):
    jobs = [Job(("sum", str(seed)), _product_sum, (seed, 300)) for seed in range(6)]
    serial = _collect(jobs, SerialRunner())
    assert len(set(serial.values())) == 6
    assert _collect(jobs[::-1], SerialRunner()) == serial
    assert _collect(jobs, ProcessRunner(2)) == serial
    assert _collect(jobs, dask_runner) == serial


def test_every_job_computes_with_one_blas_and_one_numba_thread_on_every_runner(dask_runner):
    jobs = [Job(("threads", str(i)), _threads) for i in range(2)]
    for runner in (SerialRunner(), ProcessRunner(2), dask_runner):
        assert set(_collect(jobs, runner).values()) == {(1, (1,))}, runner


def test_the_runner_is_what_jobs_and_scheduler_ask_for():
    assert isinstance(make_runner(1), SerialRunner)
    assert make_runner(3).workers == 3
    assert make_runner(None).workers == (os.cpu_count() or 1)
    with pytest.raises(TinyKWSError, match="--jobs must be at least 1, not 0"):
        make_runner(0)


def test_results_are_kept_in_job_order_whatever_order_they_arrive_in():
    result = {"settings": {}, "qat": {"8": 1, "3": 2}, "grids": {"tflite": {"4": 3, "2": 4}}}
    in_job_order(result, [("qat", "3"), ("qat", "8"), ("grids", "tflite", "2"), ("grids", "tflite", "4")])
    assert list(result["qat"]) == ["3", "8"] and list(result["grids"]["tflite"]) == ["2", "4"]
    assert list(result) == ["settings", "qat", "grids"]


def test_a_worker_that_dies_in_a_job_is_replaced_and_the_job_run_again(tmp_path):
    marker = str(tmp_path / "died")
    jobs = [Job(("a",), _dies_once, (marker, 7)), Job(("b",), _value, (8,))]
    assert _collect(jobs, ProcessRunner(1)) == {("a",): 7, ("b",): 8}
    assert os.path.exists(marker)


def test_a_job_that_kills_its_worker_twice_stops_the_sweep_keeping_the_finished_jobs(tmp_path):
    results_file = tmp_path / "sweep.json"
    result = {"settings": {}}
    jobs = [Job(("r", "first"), _value, (1,)), Job(("r", "killer"), _dies, (0.0,)),
            Job(("r", "last"), _value, (3,))]
    done = lambda job, r: save_outcome(result, results_file, [j.key for j in jobs], job,  # noqa: E731
                                       ({"value": r}, {f"{job.key[1]}.bin": b"x"}))
    with pytest.raises(TinyKWSError) as error:
        run_jobs(jobs, done, ProcessRunner(1), progress=False)  # one worker: the jobs run in order
    message = str(error.value)
    assert "died twice" in message and "r killer, r last" in message and "\n" not in message
    assert json.loads(results_file.read_text()) == {"settings": {}, "r": {"first": {"value": 1}}}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["first.bin", "sweep.json"]  # no temporary file


def test_an_error_in_a_job_reaches_the_sweep_as_it_was_raised(dask_runner):
    jobs = [Job(("bad",), make_runner, (0,)), Job(("fine",), _value, (1,))]  # the first raises anywhere
    for runner in (ProcessRunner(2), dask_runner):
        with pytest.raises(TinyKWSError, match="--jobs must be at least 1"):
            run_jobs(jobs, lambda job, r: None, runner, progress=False)


# -- the sweeps ---------------------------------------------------------------

@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("jobs")
    train_tiny_run(root, steps=20)
    return root


def _without_timings(value):
    """A results file less what the clock measures: seconds and CPU latencies."""
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items()
                if k != "seconds" and not k.startswith("cpu_")}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


def _sweep(argv: list, out: Path, name: str, runner_args: list) -> str:
    assert main([*map(str, argv), "--out", str(out), *runner_args]) == 0
    return json.dumps(_without_timings(json.loads((out / name).read_text())))  # the order counts too


def _same_on_every_runner(argv: list, root: Path, name: str, cluster: str) -> dict:
    results = {label: _sweep(argv, root / label, name, runner_args)
               for label, runner_args in (("serial", ["--jobs", "1"]), ("two", ["--jobs", "2"]),
                                          ("dask", ["--scheduler", cluster]))}
    assert results["two"] == results["serial"]
    assert results["dask"] == results["serial"]
    return json.loads(results["serial"])


QUANTIZE = ["--bits", "3,8", "--finetune-steps", "10", "--formats", "E4M3", "--calibration", "100",
            "--no-progress"]


def test_quantize_gives_the_same_quant_json_serially_in_two_processes_and_on_dask(trained, cluster):
    result = _same_on_every_runner(["quantize", trained / "run", *QUANTIZE], trained / "quant", "quant.json",
                                   cluster)
    assert list(result["qat"]) == ["3", "8"] and list(result["grids"]["full-range"]) == ["3"]
    for label in ("two", "dask"):  # the file a job made, written by the sweep
        assert (trained / "quant" / label / "qat8.tflite").read_bytes() == \
            (trained / "quant" / "serial" / "qat8.tflite").read_bytes()


def test_a_rerun_in_two_processes_computes_only_the_missing_jobs(trained):
    out = trained / "quant" / "two"  # a finished study from the test above
    if not (out / "quant.json").exists():
        _sweep(["quantize", trained / "run", *QUANTIZE], out, "quant.json", ["--jobs", "2"])
    path = out / "quant.json"
    before = json.loads(path.read_text())
    partial = json.loads(path.read_text())
    del partial["qat"]["3"], partial["minifloat"]["E4M3"], partial["complete"]
    path.write_text(json.dumps(partial))
    assert main([str(a) for a in ["quantize", trained / "run", *QUANTIZE, "--jobs", "2", "--out", out]]) == 0
    after = json.loads(path.read_text())
    assert after["qat"]["8"] == before["qat"]["8"]  # kept, its seconds too
    assert after["qat"]["3"]["seconds"] != before["qat"]["3"]["seconds"]  # computed again
    assert json.dumps(_without_timings(after)) == json.dumps(_without_timings(before))




def test_prune_gives_the_same_prune_json_serially_in_two_processes_and_on_dask(trained, cluster):
    argv = ["prune", trained / "run", "--method", "unstructured", "--amounts", "0.5,0.9",
            "--finetune-steps", "10", "--calibration", "100", "--repeats", "1", "--no-progress"]
    result = _same_on_every_runner(argv, trained / "prune", "prune.json", cluster)
    assert list(result["unstructured"]) == ["0.5/pruned", "0.5/finetuned", "0.9/pruned", "0.9/finetuned"]


def test_cv_gives_the_same_cross_validation_serially_in_two_processes_and_on_dask(tmp_path, cluster):
    data = make_test_set(tmp_path / "ts", n_speakers=60, n_silence=30)
    argv = ["cv", "--data", data, "--folds", "3", "--steps", "20", "--eval-every", "10", "--batch-size", "16",
            "--no-progress"]
    result = _same_on_every_runner(argv, tmp_path, "cv.json", cluster)
    assert list(result["fold_reports"]) == ["0", "1", "2"] and result["complete"]


def test_a_job_that_kills_its_dask_workers_stops_the_sweep_with_one_line(dask_runner):
    jobs = [Job(("kills", "workers"), _dies, (0.0,)), Job(("fine",), _value, (1,))]
    with pytest.raises(TinyKWSError, match="the Dask workers running kills workers died") as error:
        run_jobs(jobs, lambda job, r: None, dask_runner, progress=False)
    assert "\n" not in str(error.value)
