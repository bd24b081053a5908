"""Fuzzing the readers of untrusted files: nothing but TinyKWSError may come out.

WAV files (``load_wav``), .tflite models (parsed, then run as ``tinykws
infer`` runs them) and checkpoints (``load_checkpoint``) are fed random bytes
and valid files mutated by byte flips, truncation and insertion. Flips and
insertions favour the bytes that hold structure (headers, tables, the zip
directory) over sample or weight data. The default run is bounded; ``--slow``
raises the number of examples with the rest of the suite.
"""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinykws.audio import load_wav, write_wav
from tinykws.quant.ptq import quantize_model
from tinykws.errors import TinyKWSError
from tinykws.int8.runtime import Int8Runtime
from tinykws.nn.model import tiny_conv
from tinykws.tflite.reader import parse_tflite
from tinykws.tflite.writer import serialize_tflite
from tinykws.train.checkpoint import load_checkpoint, save_checkpoint

FUZZ = settings(max_examples=max(250, settings().max_examples))  # --slow: the profile's 2000
MODEL_INPUT = np.zeros((1, 49, 40, 1), np.int8)  # what infer feeds a TinyConv


def mutations(valid: bytes, structure: list[tuple[int, int]]) -> st.SearchStrategy[bytes]:
    """``valid`` with 1-8 bytes flipped, cut short, or with 1-16 bytes inserted.

    ``structure`` lists ``(start, stop)`` byte ranges that hold the file's
    structure; three flips or insertions in four land in one of them.
    """
    anywhere = st.integers(0, len(valid) - 1)
    in_structure = st.sampled_from(structure).flatmap(
        lambda r: st.integers(r[0], min(r[1], len(valid)) - 1))
    position = st.one_of(in_structure, in_structure, in_structure, anywhere)

    def flip(changes: list[tuple[int, int]]) -> bytes:
        data = bytearray(valid)
        for pos, value in changes:
            data[pos] = value
        return bytes(data)

    flips = st.lists(st.tuples(position, st.integers(0, 255)), min_size=1, max_size=8).map(flip)
    cuts = st.integers(0, len(valid) - 1).map(lambda n: valid[:n])
    inserts = st.tuples(position, st.binary(min_size=1, max_size=16)).map(
        lambda t: valid[:t[0]] + t[1] + valid[t[0]:])
    return st.one_of(flips, cuts, inserts)


# -- WAV ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def wav_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz_wav")


@pytest.fixture(scope="module")
def valid_wav(wav_dir) -> Path:
    t = np.arange(4000) / 16000
    return write_wav(wav_dir / "valid.wav", 0.5 * np.sin(2 * np.pi * 440 * t))


def _load_or_refuse(path, data: bytes) -> None:
    path.write_bytes(data)
    with warnings.catch_warnings():  # resampling / downmix warnings are fine
        warnings.simplefilter("ignore")
        try:
            x = load_wav(path)
        except TinyKWSError:
            return
    assert x.dtype == np.float32 and x.ndim == 1 and len(x) > 0 and np.isfinite(x).all()
    # Resampled from at least 4 kHz to 16 kHz: never more than 4 samples per byte of file.
    assert len(x) <= 4 * len(data) + 4


@FUZZ
@given(data=st.data())
def test_a_mutated_wav_loads_or_is_refused_with_our_error(wav_dir, valid_wav, data):
    header = [(0, 44)]
    _load_or_refuse(wav_dir / "mutated.wav", data.draw(mutations(valid_wav.read_bytes(), header)))


@FUZZ
@given(junk=st.one_of(st.binary(max_size=300),
                      st.binary(max_size=300).map(lambda b: b"RIFF" + b[:4] + b"WAVE" + b[4:])))
def test_random_bytes_as_a_wav_are_refused_with_our_error(wav_dir, junk):
    _load_or_refuse(wav_dir / "junk.wav", junk)


# -- .tflite -------------------------------------------------------------------


@pytest.fixture(scope="module")
def our_tflite(tmp_path_factory) -> Path:
    model = tiny_conv(4, np.random.default_rng(0))
    calibration = np.random.default_rng(1).uniform(0, 25, (8, 49, 40, 1)).astype(np.float32)
    path = tmp_path_factory.mktemp("fuzz_tflite") / "tiny_conv.tflite"
    path.write_bytes(serialize_tflite(quantize_model(model, calibration)))
    return path


@pytest.fixture(scope="module")
def reference_tflites(reference_models_dir) -> list[Path]:
    return sorted(reference_models_dir.glob("*.tflite"))


def _infer_or_refuse(blob: bytes) -> None:
    try:
        scores = Int8Runtime(parse_tflite(blob)).run(MODEL_INPUT)
    except TinyKWSError:
        return
    assert scores.shape[0] == 1


def _tflite_structure(blob: bytes) -> list[tuple[int, int]]:
    # Flatbuffers are built back to front: the root and its tables come
    # first, the large weight buffers last.
    return [(0, 2048), (len(blob) - 256, len(blob))]


@FUZZ
@given(data=st.data())
def test_a_mutated_tflite_written_by_tinykws_runs_or_is_refused(our_tflite, data):
    blob = our_tflite.read_bytes()
    _infer_or_refuse(data.draw(mutations(blob, _tflite_structure(blob))))


@FUZZ
@given(data=st.data())
def test_a_mutated_tensorflow_tflite_runs_or_is_refused(reference_tflites, data):
    blob = data.draw(st.sampled_from(reference_tflites)).read_bytes()
    _infer_or_refuse(data.draw(mutations(blob, _tflite_structure(blob))))


@FUZZ
@given(junk=st.one_of(st.binary(max_size=600),
                      st.binary(max_size=600).map(lambda b: b[:4] + b"TFL3" + b[4:])))
def test_random_bytes_as_a_tflite_are_refused_with_our_error(junk):
    _infer_or_refuse(junk)


# -- checkpoints ---------------------------------------------------------------


@pytest.fixture(scope="module")
def checkpoint_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz_npz")


@pytest.fixture(scope="module")
def valid_checkpoint(checkpoint_dir) -> Path:
    return save_checkpoint(checkpoint_dir / "valid.npz", tiny_conv(4, np.random.default_rng(0)),
                           {"labels": ["_silence_", "_unknown_", "yes", "no"]}, {"t": np.array(7)})


@FUZZ
@given(data=st.data())
def test_a_mutated_checkpoint_loads_or_is_refused_with_our_error(checkpoint_dir, valid_checkpoint,
                                                                 data):
    valid = valid_checkpoint.read_bytes()
    with zipfile.ZipFile(valid_checkpoint) as z:  # each member's zip and .npy headers
        structure = [(m.header_offset, m.header_offset + 160) for m in z.infolist()]
    structure.append((len(valid) - 512, len(valid)))  # the zip directory
    path = checkpoint_dir / "mutated.npz"
    path.write_bytes(data.draw(mutations(valid, structure)))
    try:
        model, meta, _ = load_checkpoint(path)
    except TinyKWSError:
        return
    assert set(model.parameters()) == {"0.weight", "0.bias", "4.weight", "4.bias"}
