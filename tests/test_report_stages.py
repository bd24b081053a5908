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


def _counting(calls):
    def fn(work):
        calls.append(1)
        (work / "model.npz").write_bytes(b"weights" * 100)
        (work / "sub").mkdir(exist_ok=True)
        (work / "sub" / "plot.png").write_bytes(b"png" * 100)
        return {"accuracy": 0.9}
    return fn


@pytest.mark.parametrize("damage", [
    lambda w: (w / "model.npz").write_bytes((w / "model.npz").read_bytes()[:50]),  # truncated
    lambda w: (w / "sub" / "plot.png").write_bytes(b"PNG" * 100),  # edited, same size
    lambda w: (w / "model.npz").unlink(),  # deleted
    lambda w: (w / "done.json").write_text((w / "done.json").read_text().replace("0.9", "0.99")),
    lambda w: (w / "done.json").write_text((w / "done.json").read_text()[:40]),  # cut short
], ids=["truncated-file", "edited-file", "deleted-file", "edited-result", "truncated-done-json"])
def test_a_damaged_finished_stage_is_recomputed_not_reused(tmp_path, capsys, damage):
    calls = []
    first = run_stage(tmp_path, "train", {"steps": 10}, _counting(calls))
    damage(first.dir)
    again = run_stage(tmp_path, "train", {"steps": 10}, _counting(calls))
    assert len(calls) == 2 and not again.cached and again.data == {"accuracy": 0.9}
    assert (again.dir / "model.npz").read_bytes() == b"weights" * 100
    assert "[report] stage train: " in capsys.readouterr().err
    assert run_stage(tmp_path, "train", {"steps": 10}, _counting(calls)).cached  # intact again


def test_a_stage_record_without_checksums_is_not_trusted(tmp_path):
    import json

    calls = []
    first = run_stage(tmp_path, "s", {"a": 1}, _counting(calls))
    record = json.loads((first.dir / "done.json").read_text())
    del record["files"]
    (first.dir / "done.json").write_text(json.dumps(record))
    assert not run_stage(tmp_path, "s", {"a": 1}, _counting(calls)).cached and len(calls) == 2


def test_the_record_lists_every_file_the_stage_wrote_with_its_sha256(tmp_path):
    import hashlib
    import json

    first = run_stage(tmp_path, "s", {"a": 1}, _counting([]))
    files = json.loads((first.dir / "done.json").read_text())["files"]
    assert files == {"model.npz": hashlib.sha256(b"weights" * 100).hexdigest(),
                     "sub/plot.png": hashlib.sha256(b"png" * 100).hexdigest()}
