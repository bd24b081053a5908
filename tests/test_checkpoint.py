"""Checkpoints round-trip, and bad files are one-line errors, never code execution."""

import numpy as np
import pytest

from fixtures import model_for_two_second_inputs
from tinykws.errors import TinyKWSError
from tinykws.nn.model import tiny_conv
from tinykws.train.checkpoint import load_checkpoint, save_checkpoint


@pytest.fixture
def saved(tmp_path):
    model = tiny_conv(4, np.random.default_rng(0))
    path = save_checkpoint(tmp_path / "model.npz", model, {"labels": ["a", "b", "c", "d"]},
                           {"t": np.array(7)})
    return model, path


def test_round_trip(saved):
    model, path = saved
    loaded, meta, optim = load_checkpoint(path)
    assert meta["labels"] == ["a", "b", "c", "d"] and int(optim["t"]) == 7
    for k, v in model.parameters().items():
        np.testing.assert_array_equal(loaded.parameters()[k], v)


def test_truncated_checkpoint(saved, tmp_path):
    _, path = saved
    cut = tmp_path / "cut.npz"
    cut.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(TinyKWSError, match="truncated"):
        load_checkpoint(cut)


def test_foreign_npz_is_not_a_checkpoint(tmp_path):
    np.savez(tmp_path / "x.npz", a=np.ones(3))
    with pytest.raises(TinyKWSError, match="not a tinykws checkpoint"):
        load_checkpoint(tmp_path / "x.npz")


def test_object_arrays_are_refused_without_unpickling(tmp_path):
    np.savez(tmp_path / "evil.npz", meta=np.array([{"x": 1}], dtype=object))
    with pytest.raises(TinyKWSError, match="pickle"):
        load_checkpoint(tmp_path / "evil.npz")


def test_weights_of_another_architecture(saved, tmp_path):
    _, path = saved
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["param/4.weight"] = np.zeros((4, 123), np.float32)
    np.savez(tmp_path / "other.npz", **arrays)
    with pytest.raises(TinyKWSError, match="architecture"):
        load_checkpoint(tmp_path / "other.npz")


def test_missing_checkpoint(tmp_path):
    with pytest.raises(TinyKWSError, match="does not exist"):
        load_checkpoint(tmp_path / "none.npz")


def test_an_array_header_claiming_more_data_than_stored_is_refused_before_allocating(tmp_path):
    import io
    import zipfile

    header = io.BytesIO()  # 10**9 float64 (8 GB) declared, 64 bytes present
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False,
                                                  "shape": (10**9,)})
    with zipfile.ZipFile(tmp_path / "bomb.npz", "w") as z:
        z.writestr("meta.npy", header.getvalue() + bytes(64))
    with pytest.raises(TinyKWSError, match="needs 8,000,000,000 bytes"):
        load_checkpoint(tmp_path / "bomb.npz")


def test_an_unknown_compression_method_is_refused(saved, tmp_path):
    _, path = saved
    data = bytearray(path.read_bytes())
    directory = data.find(b"PK\x01\x02")  # the first entry of the zip's central directory
    data[directory + 10:directory + 12] = (99).to_bytes(2, "little")  # compression method 99 (AES)
    (tmp_path / "odd.npz").write_bytes(bytes(data))
    with pytest.raises(TinyKWSError, match="compression method is not supported"):
        load_checkpoint(tmp_path / "odd.npz")


def test_no_shipped_module_can_unpickle():
    """No pickle (or joblib, dill) import, and any np.load says allow_pickle=False."""
    import ast
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    sources = [p for package in ("tinykws", "kernels", "benchmarks")
               for p in (repo / package).rglob("*.py")]
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                roots = {n.split(".")[0] for n in names}
                assert not {"pickle", "cPickle", "dill", "joblib"} & roots, path
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "load" and isinstance(node.func.value, ast.Name)
                    and node.func.value.id in ("np", "numpy")):
                allow = {k.arg: k.value for k in node.keywords}.get("allow_pickle")
                where = f"{path}:{node.lineno}"
                assert isinstance(allow, ast.Constant) and allow.value is False, where


def test_a_consistent_model_for_other_inputs_is_refused(tmp_path):
    path = save_checkpoint(tmp_path / "long.npz", model_for_two_second_inputs(),
                           {"labels": ["a", "b", "c", "d"]})
    with pytest.raises(TinyKWSError, match=r"takes \(98, 40, 1\) inputs"):
        load_checkpoint(path)


def test_labels_that_do_not_name_every_output_are_refused(tmp_path):
    path = save_checkpoint(tmp_path / "m.npz", tiny_conv(4, np.random.default_rng(0)),
                           {"labels": ["_silence_", "_unknown_", "yes"]})
    with pytest.raises(TinyKWSError, match="do not name the model's 4 outputs"):
        load_checkpoint(path)
