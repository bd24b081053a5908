"""Atomic writes leave either the old file or the whole new one."""

import json
import os

import numpy as np
import pytest

from tinykws import atomic


def test_write_json_round_trips_numpy_values(tmp_path):
    path = atomic.write_json(tmp_path / "a" / "m.json", {"acc": np.float32(0.5), "v": np.arange(3)})
    assert json.loads(path.read_text()) == {"acc": 0.5, "v": [0, 1, 2]}


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "model.npz"
    path.write_bytes(b"old")

    def explode(f):
        f.write(b"half")
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        atomic.atomic_write(path, explode)
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["model.npz"]


def test_an_atomic_write_gets_the_permissions_a_plain_write_would(tmp_path):
    old = os.umask(0o027)
    try:
        path = atomic.write_text(tmp_path / "model.h", "// model\n")
        (tmp_path / "plain.h").write_text("// model\n")
    finally:
        os.umask(old)
    assert oct(path.stat().st_mode & 0o777) == oct((tmp_path / "plain.h").stat().st_mode & 0o777) == "0o640"


def test_save_npz_refuses_object_arrays(tmp_path):
    with pytest.raises(TypeError, match="pickle"):
        atomic.save_npz(tmp_path / "x.npz", bad=np.array([{"a": 1}], dtype=object))
    assert not (tmp_path / "x.npz").exists()


def test_save_npz_loads_without_pickle(tmp_path):
    path = atomic.save_npz(tmp_path / "x.npz", w=np.ones((2, 3), np.float32))
    with np.load(path, allow_pickle=False) as z:
        np.testing.assert_array_equal(z["w"], np.ones((2, 3)))
