"""One writer per folder: a second command on a folder in use is refused, a dead holder's lock is taken."""

import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from fixtures import (holding_folder_lock, make_training_set, start_tinykws, tone,
                      write_pcm16)
from tinykws.cli import main
from tinykws.errors import TinyKWSError
from tinykws.lock import LOCK_NAME, folder_lock

WORDS = {"yes": 30, "no": 30, "up": 12, "down": 12}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_training_set(tmp_path_factory.mktemp("sc"), WORDS)


@pytest.fixture()
def wav(tmp_path):
    return write_pcm16(tmp_path / "clip.wav", tone(440.0))


def test_a_second_writer_gets_one_line_naming_the_folder_and_the_holder(data, tmp_path, capsys):
    out = tmp_path / "run"
    with holding_folder_lock(out, "tinykws train --out run --steps 9") as holder:
        assert main(["train", "--data", str(data), "--out", str(out), "--steps", "10"]) == 2
        assert (out / LOCK_NAME).read_text().startswith(f"pid {holder.pid} ")  # left as it was
    err = capsys.readouterr().err
    assert err.startswith(f"tinykws: error: {out} is being written by another tinykws process (pid "
                          f"{holder.pid} on ") and err.count("\n") == 1
    assert "tinykws train --out run --steps 9" in err
    assert not out.exists()  # the refused run wrote nothing; the holder removed its empty folder


def test_two_trainings_started_at_once_one_runs_and_the_other_is_refused(data, tmp_path):
    out = tmp_path / "same"
    args = ["train", "--data", data, "--out", out, "--steps", "200", "--eval-every", "50",
            "--batch-size", "32"]
    procs = [start_tinykws(args, tmp_path / f"err{i}") for i in range(2)]
    codes = sorted(p.wait(timeout=300) for p in procs)
    assert codes == [0, 2]
    errors = [(tmp_path / f"err{i}").read_text() for i in range(2)]
    refused = [e for e in errors if "is being written by another tinykws process" in e]
    assert len(refused) == 1 and refused[0].count("\n") == 1
    assert not (out / LOCK_NAME).exists()


def test_the_lock_of_a_killed_process_is_stale_and_taken_over(wav, tmp_path, capsys):
    out = tmp_path / "features"
    code = ("import sys, time\nfrom tinykws.lock import folder_lock\n"
            "with folder_lock(sys.argv[1], 'dies holding it'):\n"
            "    print('locked', flush=True)\n    time.sleep(600)\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-c", code, str(out)], stdout=subprocess.PIPE, env=env)
    assert proc.stdout.readline() == b"locked\n"
    proc.send_signal(signal.SIGKILL)  # no cleanup runs: the lock file stays, naming a dead pid
    assert proc.wait() == -signal.SIGKILL
    proc.stdout.close()
    assert f"pid {proc.pid} " in (out / LOCK_NAME).read_text()
    assert main(["features", str(wav), "--out", str(out)]) == 0
    assert "micro_features.npy" in os.listdir(out) and LOCK_NAME not in os.listdir(out)


def test_the_holder_line_is_written_and_everything_is_removed_on_release(tmp_path):
    folder = tmp_path / "new" / "run"
    with folder_lock(folder, "tinykws train --out run"):
        line = (folder / LOCK_NAME).read_text()
        assert line.startswith(f"pid {os.getpid()} on ") and line.endswith(": tinykws train --out run\n")
    assert not folder.exists()  # created by the lock, left empty: removed again
    with folder_lock(folder):
        np.save(folder / "x.npy", np.zeros(3))
    assert os.listdir(folder) == ["x.npy"]


def test_a_second_lock_in_the_same_process_is_refused_too(tmp_path):
    with folder_lock(tmp_path, "first"):
        with pytest.raises(TinyKWSError, match="being written by another tinykws process"):
            with folder_lock(tmp_path, "second"):
                pass
        assert (tmp_path / LOCK_NAME).read_text().endswith(": first\n")
    with folder_lock(tmp_path, "third"):  # released: free again
        pass


def test_commands_that_only_read_take_no_lock(data, tmp_path, capsys):
    with holding_folder_lock(data):
        assert main(["data", "stats", "--data", str(data), "--json"]) == 0
    assert '"layout": "training"' in capsys.readouterr().out


def test_a_file_system_without_flock_warns_and_runs_unlocked(tmp_path, monkeypatch):
    import errno
    import fcntl

    def no_locks(fd, operation):
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(fcntl, "flock", no_locks)
    with pytest.warns(UserWarning, match="cannot lock .*another process could write here"):
        with folder_lock(tmp_path / "nfs", "tinykws train"):
            assert (tmp_path / "nfs" / LOCK_NAME).read_text().endswith(": tinykws train\n")
    assert not (tmp_path / "nfs").exists()
