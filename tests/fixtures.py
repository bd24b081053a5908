"""Small Speech Commands folders for tests, and WAV files built byte by byte.

Every "word" is a tone of its own frequency and every speaker its own
loudness, so clips are distinct and a test can tell which file it got back.
WAV files are assembled here from ``struct`` (RIFF header, ``fmt `` and
``data`` chunks), independently of the code under test, so broken files
(truncated, empty, NaN, odd formats) can be made on purpose. Likewise
.tflite files are patched through the ``flatbuffers`` package's generic
table reader, not through tinykws's own.

Also what the int8 kernel tests share: :func:`conv_geometry` (a convolution's
padding and output size as keyword arguments of the kernels) and one check of
the fused int8 paths, :func:`assert_fused_equals_tflite_micro`; and child
processes for the tests of locks and signals: :func:`start_tinykws`,
:func:`stop_when`, :func:`holding_folder_lock`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SR = 16000


def conv_geometry(padding: str, h: int, w: int, kh: int, kw: int, stride: int,
                  dilation: int = 1) -> dict:
    """Padding, strides, dilation and output size of a convolution, as the int8 kernels take them.

    Raises ValueError when no output fits (VALID with the image smaller than the kernel).
    """
    from tinykws.padding import compute_padding_height_width

    padding_values, oh, ow = compute_padding_height_width(padding, stride, stride, dilation,
                                                          dilation, h, w, kh, kw)
    return dict(padding_values=padding_values, stride_width=stride, stride_height=stride,
                dilation_width_factor=dilation, dilation_height_factor=dilation,
                output_height=oh, output_width=ow)

WORD_FREQUENCIES = {  # Hz, one tone per word
    "yes": 440.0, "no": 554.4, "up": 659.3, "down": 784.0, "left": 880.0, "right": 987.8,
    "on": 1046.5, "off": 1174.7, "stop": 1318.5, "go": 1396.9,
    "bed": 300.0, "cat": 330.0, "dog": 370.0, "tree": 400.0, "wow": 1500.0,
}


def speaker_ids(count: int, tag: str = "spk") -> list[str]:
    """``count`` distinct 8-hex-digit speaker ids, like the data set's."""
    return [hashlib.md5(f"{tag}{i}".encode()).hexdigest()[:8] for i in range(count)]


def wav_bytes(data: bytes, *, format_tag: int = 1, channels: int = 1, rate: int = SR,
              bits: int = 16, declared_data_bytes: int | None = None) -> bytes:
    """A canonical 44-byte-header RIFF/WAVE file around raw sample bytes."""
    block_align = channels * bits // 8
    fmt = struct.pack("<HHIIHH", format_tag, channels, rate, rate * block_align, block_align, bits)
    declared = len(data) if declared_data_bytes is None else declared_data_bytes
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
            + b"data" + struct.pack("<I", declared) + data)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def pcm16_bytes(samples: np.ndarray, rate: int = SR, channels: int = 1) -> bytes:
    """16-bit PCM WAV of int16 samples ``(n,)`` or interleaved ``(n, channels)``."""
    return wav_bytes(np.asarray(samples, dtype="<i2").tobytes(), channels=channels, rate=rate)


def write_pcm16(path: Path, samples: np.ndarray, rate: int = SR) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pcm16_bytes(samples, rate))
    return path


def tone(freq: float, seconds: float = 1.0, level: float = 0.5, rate: int = SR) -> np.ndarray:
    """A sine as int16 ``(seconds * rate,)``."""
    t = np.arange(int(round(seconds * rate))) / rate
    return np.round(level * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def noise(seconds: float, level: float = 0.3, seed: int = 0, rate: int = SR) -> np.ndarray:
    """White noise as int16 ``(seconds * rate,)``."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-level, level, int(round(seconds * rate)))
    return np.round(x * 32767).astype(np.int16)


def make_training_set(root: Path, words: dict[str, int], *, clips_per_speaker: int = 1,
                      background_seconds: tuple[float, ...] = (3.0, 2.5),
                      clip_seconds: float = 1.0) -> Path:
    """A training-layout folder: ``root/<word>/<speaker>_nohash_<k>.wav`` and noise files.

    ``words`` maps each word to its number of speakers. ``background_seconds``
    gives the noise files' lengths; an empty tuple means no
    ``_background_noise_`` folder at all.
    """
    for word, n_speakers in words.items():
        for s, speaker in enumerate(speaker_ids(n_speakers)):
            for k in range(clips_per_speaker):
                level = 0.1 + 0.8 * ((s * 7 + k) % 10) / 10
                write_pcm16(root / word / f"{speaker}_nohash_{k}.wav",
                            tone(WORD_FREQUENCIES[word], clip_seconds, level))
    if background_seconds:
        for i, seconds in enumerate(background_seconds):
            write_pcm16(root / "_background_noise_" / f"noise_{i}.wav", noise(seconds, seed=i))
    return root


def make_test_set(root: Path, words: tuple[str, ...] = ("yes", "no", "up"),
                  n_speakers: int = 30, n_silence: int = 12,
                  unknown_words: tuple[str, ...] = ("bed", "cat")) -> Path:
    """A canonical test-set-layout folder: word folders, ``_unknown_/`` and ``_silence_/``.

    ``_unknown_`` clips are named ``<word>_<speaker>_nohash_0.wav.wav`` as in
    the published test set; ``_silence_`` clips ``<n>.wav`` hold quiet noise.
    """
    speakers = speaker_ids(n_speakers, tag="test")
    for s, speaker in enumerate(speakers):
        for word in words:
            write_pcm16(root / word / f"{speaker}_nohash_0.wav", tone(WORD_FREQUENCIES[word]))
        other = unknown_words[s % len(unknown_words)]
        write_pcm16(root / "_unknown_" / f"{other}_{speaker}_nohash_0.wav.wav",
                    tone(WORD_FREQUENCIES[other]))
    for i in range(n_silence):
        write_pcm16(root / "_silence_" / f"{1000 + i}.wav", noise(1.0, level=0.01, seed=100 + i))
    return root


def train_tiny_run(root: Path, steps: int = 80) -> tuple[Path, Path]:
    """A four-label training set under ``root/data`` and a short Adam run in ``root/run``."""
    from tinykws.cli import main

    data = make_training_set(root / "data", {"yes": 50, "no": 50, "up": 15, "down": 15})
    assert main(["train", "--data", str(data), "--out", str(root / "run"), "--steps", str(steps),
                 "--eval-every", str(steps // 2), "--batch-size", "32", "--schedule", "adam"]) == 0
    return data, root / "run"


def model_for_two_second_inputs():
    """A consistent conv + dense model of 4 outputs for ``(98, 40, 1)`` inputs (2 s, not 1 s)."""
    from tinykws.nn.conv import Conv2D
    from tinykws.nn.layers import Dense, Flatten
    from tinykws.nn.model import Sequential

    return Sequential([Conv2D(1, 8, (10, 8), (2, 2), "SAME"), Flatten(), Dense(49 * 20 * 8, 4)],
                      (98, 40, 1))


def assert_fused_equals_tflite_micro(blob: bytes, n: int = 40, sparse: bool = False) -> None:
    """``FusedTinyConv`` (dense or sparse) gives tflite-micro's output bytes on ``n``
    random (1, 49, 40, 1) int8 inputs of the model ``blob``; skips without tflite-micro."""
    import pytest

    from tinykws.int8.fused import FusedTinyConv
    from tinykws.tflite.reader import parse_tflite

    tflm = pytest.importorskip("tflite_micro", reason="tflite-micro not installed").runtime
    fused = FusedTinyConv(parse_tflite(blob), sparse=sparse)
    interpreter = tflm.Interpreter.from_bytes(blob)
    rng = np.random.default_rng(len(blob))
    for _ in range(n):
        x = rng.integers(-128, 128, (1, 49, 40, 1)).astype(np.int8)
        interpreter.set_input(x, 0)
        interpreter.invoke()
        np.testing.assert_array_equal(fused.run(x), interpreter.get_output(0))


# Field numbers of schema.fbs (a field's vtable entry is at 4 + 2 * number).
_MODEL_OPERATOR_CODES, _MODEL_BUFFERS = 1, 4
_OPCODE_DEPRECATED_BUILTIN_CODE, _OPCODE_BUILTIN_CODE = 0, 3
_BUFFER_DATA = 0


def _tflite_tables(data: bytearray, field: int):
    """The tables of the Model's vector field ``field`` (flatbuffers' own reader)."""
    from flatbuffers import encode, number_types
    from flatbuffers.table import Table

    model = Table(data, encode.Get(number_types.UOffsetTFlags.packer_type, data, 0))
    o = model.Offset(4 + 2 * field)
    start, count = model.Vector(o), model.VectorLen(o)
    return [Table(data, model.Indirect(start + 4 * i)) for i in range(count)]


def with_operator_code(tflite: bytes, old: int, new: int) -> bytes:
    """A copy of a .tflite whose operator code ``old`` (e.g. 25, SOFTMAX) reads ``new``."""
    data = bytearray(tflite)
    for code in _tflite_tables(data, _MODEL_OPERATOR_CODES):
        pos = code.Pos + code.Offset(4 + 2 * _OPCODE_BUILTIN_CODE)
        if struct.unpack_from("<i", data, pos)[0] == old:
            struct.pack_into("<i", data, pos, new)
            deprecated = code.Pos + code.Offset(4 + 2 * _OPCODE_DEPRECATED_BUILTIN_CODE)
            struct.pack_into("<b", data, deprecated, min(new, 127))
            return bytes(data)
    raise ValueError(f"no operator code {old} in the model")


def with_buffer_overrun(tflite: bytes) -> bytes:
    """A copy of a .tflite whose largest buffer declares a length reaching past the file's end."""
    data = bytearray(tflite)
    lengths = []
    for buf in _tflite_tables(data, _MODEL_BUFFERS):
        o = buf.Offset(4 + 2 * _BUFFER_DATA)
        if o:
            lengths.append((buf.VectorLen(o), buf.Vector(o) - 4))  # (length, where it is stored)
    _, where = max(lengths)
    struct.pack_into("<I", data, where, len(data))
    return bytes(data)


# -- child processes: a second writer, a signal mid-run -----------------------

def _child_env() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


def start_tinykws(args: list, stderr: Path, prelude: str = "") -> subprocess.Popen:
    """``tinykws ARGS`` in a child process as a user starts it, its stderr into the file ``stderr``.

    ``prelude`` is Python run first in the child (e.g. to shorten a profile).
    """
    # A user's terminal delivers Ctrl-C; a suite run in the background (``pytest &``) starts
    # with SIGINT ignored, which children inherit and tinykws rightly respects: undo that.
    code = (f"import signal\nsignal.signal(signal.SIGINT, signal.default_int_handler)\n{prelude}\n"
            f"import sys\nfrom tinykws.cli import main\nsys.exit(main({[str(a) for a in args]!r}))")
    with open(stderr, "wb") as err:
        return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL,
                                stderr=err, env=_child_env())


def stop_when(proc: subprocess.Popen, ready, sig: int, timeout: float = 300) -> int:
    """Send ``sig`` to ``proc`` as soon as ``ready()`` is true; return its exit code."""
    deadline = time.time() + timeout
    while not ready() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, f"the command ended (code {proc.returncode}) before the signal"
    assert ready(), "the command never reached the point to interrupt"
    proc.send_signal(sig)
    return proc.wait(timeout=120)


@contextlib.contextmanager
def holding_folder_lock(folder: Path, command: str = "tinykws train --out elsewhere"):
    """Another process holding ``folder``'s writer lock for the ``with`` block; yields it."""
    code = ("import sys\nfrom tinykws.lock import folder_lock\n"
            "with folder_lock(sys.argv[1], sys.argv[2]):\n"
            "    print('locked', flush=True)\n    sys.stdin.read()\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(folder), command],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=_child_env())
    try:
        assert proc.stdout.readline() == b"locked\n"
        yield proc
    finally:
        proc.stdin.close()  # the holder reads end-of-file and releases the lock
        proc.wait(timeout=60)
        proc.stdout.close()
