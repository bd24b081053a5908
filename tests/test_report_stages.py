"""Report stages run once per set of inputs and resume after a crash."""

import pytest

from tinykws.report.stages import run_stage, stage_key


def test_same_inputs_reuse_the_result_without_running_again(tmp_path):
    calls = []

    def fn(work):
        calls.append(work)
        (work / "out.txt").write_text("x")
        return {"value": 3}

    first = run_stage(tmp_path, "s", {"a": 1}, fn)
    second = run_stage(tmp_path, "s", {"a": 1}, fn)
    assert len(calls) == 1
    assert (first.cached, second.cached) == (False, True)
    assert second.data == {"value": 3} and second.dir == first.dir


def test_changed_inputs_get_a_new_key_and_run_again(tmp_path):
    a = run_stage(tmp_path, "s", {"a": 1}, lambda w: {"v": 1})
    b = run_stage(tmp_path, "s", {"a": 2}, lambda w: {"v": 2})
    assert a.key != b.key and b.data == {"v": 2} and not b.cached


def test_a_crashed_stage_resumes_in_the_same_folder(tmp_path):
    def crash(work):
        (work / "partial").write_text("step 5")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_stage(tmp_path, "train", {"steps": 10}, crash)

    def resume(work):
        return {"resumed_from": (work / "partial").read_text()}

    assert run_stage(tmp_path, "train", {"steps": 10}, resume).data == {"resumed_from": "step 5"}


def test_key_ignores_dict_order():
    assert stage_key("s", {"a": 1, "b": 2}) == stage_key("s", {"b": 2, "a": 1})
