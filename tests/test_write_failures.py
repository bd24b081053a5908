"""A full disk or an I/O error while writing: the previous file stays, one line, exit 2.

The failure is injected where the operating system would report it: the
``fsync`` of the temporary file (a real full disk usually fails the ``write``
before it, or the ``fsync`` on file systems that allocate late). Only writes
of the file named are refused; everything else runs for real.
"""

import errno
import os
from pathlib import Path

import pytest

from fixtures import train_tiny_run
from tinykws import atomic
from tinykws.cli import main
from tinykws.lock import LOCK_NAME
from tinykws.train.checkpoint import load_checkpoint

REAL_FSYNC = os.fsync


def refuse_writes(monkeypatch, name: str, code: int, after: int = 0) -> list:
    """Make the ``after + 1``-th and later atomic writes of files called ``name`` fail with ``code``.

    Returns the list of refused attempts, so a test can check the failure happened.
    """
    seen, refused = [], []

    def fsync(fd):
        target = Path(os.readlink(f"/proc/self/fd/{fd}")).name
        if target.startswith(f".{name}.") and target.endswith(".tmp"):
            seen.append(target)
            if len(seen) > after:
                refused.append(target)
                raise OSError(code, os.strerror(code))
        return REAL_FSYNC(fd)

    monkeypatch.setattr(atomic.os, "fsync", fsync)
    return refused


needs_proc = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd")


def _no_temporary_files(folder: Path) -> bool:
    return not [p for p in folder.rglob("*") if p.name.endswith(".tmp") or p.name == LOCK_NAME]


@needs_proc
def test_a_refused_write_keeps_the_old_file_and_says_why(tmp_path, monkeypatch):
    path = atomic.write_bytes(tmp_path / "model.npz", b"old")
    refuse_writes(monkeypatch, "model.npz", errno.ENOSPC)
    with pytest.raises(atomic.WriteFailed, match=r"model.npz: No space left on device \(ENOSPC\)") as info:
        atomic.write_bytes(path, b"new and longer")
    assert info.value.errno == errno.ENOSPC
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["model.npz"]


@needs_proc
def test_train_on_a_full_disk_keeps_the_last_checkpoint_and_resumes_once_there_is_space(
        tmp_path, monkeypatch, capsys):
    from fixtures import make_training_set

    data = make_training_set(tmp_path / "data", {"yes": 30, "no": 30, "up": 12, "down": 12})
    run = tmp_path / "run"
    argv = ["train", "--data", str(data), "--out", str(run), "--steps", "60", "--eval-every", "20",
            "--batch-size", "32"]
    refused = refuse_writes(monkeypatch, "last.npz", errno.ENOSPC, after=1)  # the 2nd save fails
    assert main(argv) == 2
    err = capsys.readouterr().err.splitlines()[-1]
    assert err == (f"tinykws: error: could not write {run / 'last.npz'}: No space left on device "
                   "(ENOSPC); the previous last.npz, if any, is unchanged")
    assert len(refused) == 1 and _no_temporary_files(run)
    _, meta, _ = load_checkpoint(run / "last.npz")
    assert meta["step"] == 20  # the checkpoint before the failed one, whole
    monkeypatch.setattr(atomic.os, "fsync", REAL_FSYNC)  # space again
    assert main([*argv, "--resume"]) == 0
    _, meta, _ = load_checkpoint(run / "last.npz")
    assert meta["step"] == 60 and [h["step"] for h in meta["history"]] == [20, 40, 60]


@needs_proc
def test_an_io_error_on_a_result_file_keeps_the_previous_result(tmp_path, monkeypatch, capsys):
    _, run = train_tiny_run(tmp_path, steps=20)
    out = tmp_path / "c"
    argv = ["convert", str(run), "--out", str(out), "--calibration", "100"]
    assert main(argv) == 0
    previous = b'{"an earlier result": true}\n'  # what the failed write would have replaced
    (out / "convert.json").write_bytes(previous)
    refused = refuse_writes(monkeypatch, "convert.json", errno.EIO)
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"tinykws: error: could not write {out / 'convert.json'}: Input/output "
                          "error (EIO)") and err.count("\n") == 1
    assert refused and (out / "convert.json").read_bytes() == previous
    assert _no_temporary_files(out)
