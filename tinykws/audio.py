"""WAV clips in and out, with the sample conventions of TensorFlow's speech pipeline.

A waveform in tinykws is a float32 array ``(n,)`` at 16 kHz, one channel.
For 16-bit PCM files (the whole Speech Commands data set) the samples are the
file's int16 values times ``1/32768``, exactly what ``tf.audio.decode_wav``
returns, so every value lies in ``[-1, 1)`` and converting back with
:func:`to_int16` gives the file's integers bit for bit. Other encodings are
decoded by libsndfile (through ``soundfile``) with its own normalisation:
8-bit unsigned ``(u - 128) / 128``, 24-bit ``v / 2**23``, 32-bit ``v / 2**31``;
float files are returned as stored.

Files are checked before they are decoded. libsndfile quietly reads a
truncated file as a shorter one, so :func:`read_wav_header` walks the RIFF
chunks itself and compares the size the ``data`` chunk declares with the bytes
actually present. Every problem with a file is a one-line
:class:`~tinykws.errors.TinyKWSError` naming the file.
"""

from __future__ import annotations

import io
import math
import os
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinykws.errors import TinyKWSError

SAMPLE_RATE = 16000  # Hz, the rate of Speech Commands and of the micro frontend

# WAVE format tags (the first field of the ``fmt `` chunk).
WAVE_FORMAT_PCM = 0x0001
WAVE_FORMAT_IEEE_FLOAT = 0x0003
WAVE_FORMAT_EXTENSIBLE = 0xFFFE  # the real tag is then the first 2 bytes of the sub-format GUID

# A data chunk size of 0xFFFFFFFF means "unknown" (written by streaming tools).
_UNKNOWN_SIZE = 0xFFFFFFFF

# Sample rates we resample from, Hz. Outside this range a rate is a corrupt
# header, not a format: 1 Hz would make a 1 s file 16,000 times longer, and
# resample_poly designs a filter as long as the rate (minutes at 1 GHz).
MIN_SAMPLE_RATE = 4000
MAX_SAMPLE_RATE = 384000


@dataclass(frozen=True)
class WavHeader:
    """What the RIFF chunks of a WAV file say about its samples."""

    format_tag: int  # WAVE_FORMAT_PCM, WAVE_FORMAT_IEEE_FLOAT, ... (extensible resolved)
    channels: int
    sample_rate: int  # Hz
    bits_per_sample: int
    block_align: int  # bytes per frame (all channels)
    data_bytes: int  # bytes in the data chunk

    @property
    def frames(self) -> int:
        """Samples per channel."""
        return self.data_bytes // self.block_align if self.block_align else 0

    @property
    def is_speech_commands_format(self) -> bool:
        """16 kHz, mono, 16-bit integer PCM: the format of every Speech Commands clip."""
        return (self.format_tag == WAVE_FORMAT_PCM and self.bits_per_sample == 16
                and self.channels == 1 and self.sample_rate == SAMPLE_RATE)

    def describe(self) -> str:
        """The format in words, e.g. ``44100 Hz, 2 channels, 16-bit PCM``."""
        kind = {WAVE_FORMAT_PCM: "PCM", WAVE_FORMAT_IEEE_FLOAT: "float"}.get(
            self.format_tag, f"format 0x{self.format_tag:04x}")
        channels = "mono" if self.channels == 1 else f"{self.channels} channels"
        return f"{self.sample_rate} Hz, {channels}, {self.bits_per_sample}-bit {kind}"


def read_wav_header(path: str | os.PathLike) -> WavHeader:
    """Read and check the chunk headers of a RIFF/WAVE file (no samples are decoded).

    Raises :class:`TinyKWSError` for a missing or unreadable file, an empty
    file, a file that is not RIFF/WAVE, a missing ``fmt `` or ``data`` chunk,
    a truncated ``data`` chunk, a sample rate outside ``MIN_SAMPLE_RATE`` to
    ``MAX_SAMPLE_RATE``, or a file with no samples.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(12)
            if size == 0:
                raise TinyKWSError(f"{path}: empty file (0 bytes)")
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                raise TinyKWSError(f"{path}: not a RIFF/WAVE file (starts with {head[:12]!r})")
            fmt = None
            # Walk the chunks: 4-byte id, little-endian uint32 size, payload padded to even.
            while True:
                chunk = f.read(8)
                if len(chunk) < 8:
                    what = "'fmt ' chunk" if fmt is None else "'data' chunk"
                    raise TinyKWSError(f"{path}: truncated: no {what} in {size} bytes")
                chunk_id, chunk_size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                if chunk_id == b"fmt ":
                    fmt = f.read(chunk_size)
                    if len(fmt) < 16:
                        raise TinyKWSError(f"{path}: truncated 'fmt ' chunk")
                    if chunk_size % 2:
                        f.seek(1, io.SEEK_CUR)
                elif chunk_id == b"data":
                    data_start, declared = f.tell(), chunk_size
                    break
                else:
                    f.seek(chunk_size + chunk_size % 2, io.SEEK_CUR)
    except OSError as exc:
        raise TinyKWSError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if fmt is None:
        raise TinyKWSError(f"{path}: 'data' chunk before any 'fmt ' chunk")
    tag, channels, rate, _, block_align, bits = struct.unpack("<HHIIHH", fmt[:16])
    if tag == WAVE_FORMAT_EXTENSIBLE and len(fmt) >= 26:
        tag = struct.unpack("<H", fmt[24:26])[0]
    if channels == 0 or rate == 0 or block_align == 0:
        raise TinyKWSError(f"{path}: invalid 'fmt ' chunk ({channels} channels, {rate} Hz)")
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise TinyKWSError(f"{path}: sample rate {rate} Hz is outside {MIN_SAMPLE_RATE} to "
                           f"{MAX_SAMPLE_RATE} Hz (a corrupt header?)")
    present = size - data_start
    if declared != _UNKNOWN_SIZE and declared > present:
        raise TinyKWSError(f"{path}: truncated: the data chunk declares {declared} bytes "
                           f"but only {present} are present")
    data_bytes = present if declared == _UNKNOWN_SIZE else declared
    header = WavHeader(tag, channels, rate, bits, block_align, data_bytes)
    if header.frames == 0:
        raise TinyKWSError(f"{path}: zero-length: the file holds no samples")
    return header


def load_wav(path: str | os.PathLike, sample_rate: int = SAMPLE_RATE, *,
             max_seconds: float | None = None) -> np.ndarray:
    """Load a WAV file as a float32 mono waveform ``(n,)`` at ``sample_rate`` Hz.

    16-bit PCM is scaled by ``1/32768`` exactly as ``tf.audio.decode_wav``
    does. Stereo (or more channels) is averaged to mono and another sample
    rate is resampled with ``scipy.signal.resample_poly``; both with a
    ``warnings.warn`` naming the file, since Speech Commands clips are neither.
    ``max_seconds`` refuses longer files before decoding them (use it where a
    one-second clip is expected; streaming callers leave it ``None``).

    Raises :class:`TinyKWSError` (one line, naming the file) for an empty,
    zero-length, truncated, non-RIFF or unreadable file, and for NaN or
    infinite samples in a float file.
    """
    import soundfile as sf

    header = read_wav_header(path)
    if max_seconds is not None and header.frames > max_seconds * header.sample_rate:
        raise TinyKWSError(f"{path}: {header.frames / header.sample_rate:.1f} s long; "
                           f"at most {max_seconds:g} s expected here")
    try:
        if header.format_tag == WAVE_FORMAT_PCM and header.bits_per_sample == 16:
            raw, rate = sf.read(path, dtype="int16", always_2d=True)  # raw: (n, channels) int16
            # decode_wav's conversion: a multiplication by the exact power of two 2**-15.
            data = raw.astype(np.float32) * np.float32(1.0 / 32768.0)  # (n, channels)
        else:
            data, rate = sf.read(path, dtype="float32", always_2d=True)  # (n, channels) float32
    except (RuntimeError, OSError, ValueError) as exc:  # LibsndfileError is a RuntimeError
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise TinyKWSError(f"{path}: unreadable by libsndfile: {message}") from None
    if data.shape[0] == 0:
        raise TinyKWSError(f"{path}: zero-length: the file holds no samples")
    if not np.isfinite(data).all():
        raise TinyKWSError(f"{path}: contains NaN or infinite samples")
    if data.shape[1] > 1:
        warnings.warn(f"{path}: {data.shape[1]} channels, averaged to mono", stacklevel=2)
    x = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]  # (n,)
    if rate != sample_rate:
        warnings.warn(f"{path}: {rate} Hz, resampled to {sample_rate} Hz", stacklevel=2)
        x = resample(x, rate, sample_rate)
    return np.ascontiguousarray(x, dtype=np.float32)


def load_device_clip(path: str | os.PathLike, seconds: float = 1.0) -> np.ndarray:
    """A clip as the micro_speech device hears it: int16 ``(seconds * 16000,)``.

    The device's audio provider delivers 16 kHz mono 16-bit samples, and the
    int8 model is checked bit for bit against that device, so nothing is
    converted here: any other format is refused, as is a clip longer than
    ``seconds`` (it would be cropped). A shorter clip is zero-padded at the
    end, as ``decode_wav(desired_samples=...)`` does.
    """
    header = read_wav_header(path)
    if not header.is_speech_commands_format:
        raise TinyKWSError(f"{path}: {header.describe()}; the model takes what the device records, "
                           "16 kHz mono 16-bit PCM (convert the file to that first)")
    x = load_wav(path, max_seconds=seconds)  # (n,) float32, n <= seconds * 16000
    return to_int16(fit_length(x, int(round(seconds * SAMPLE_RATE))))


def resample(x: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Polyphase resampling by the reduced ratio ``to_rate / from_rate`` (scipy's Kaiser window)."""
    from scipy.signal import resample_poly

    g = math.gcd(int(from_rate), int(to_rate))
    return resample_poly(x, to_rate // g, from_rate // g).astype(np.float32)  # (n * up / down,)


def fit_length(x: np.ndarray, n: int) -> np.ndarray:
    """Crop, or zero-pad at the end, to exactly ``n`` samples, as ``decode_wav(desired_samples=n)``."""
    x = np.asarray(x)
    if len(x) >= n:
        return x[:n]
    return np.concatenate([x, np.zeros(n - len(x), dtype=x.dtype)])  # (n,)


def to_int16(x: np.ndarray) -> np.ndarray:
    """Float samples to int16 as TF's micro pipeline does, ``tf.cast(x * 32768, tf.int16)``.

    The product is computed in float32 (exact: 32768 is a power of two) and
    truncated toward zero, like C's float-to-integer conversion. Values outside
    the int16 range are *saturated*: ``+1.0`` becomes 32767. TensorFlow does
    not saturate: measured with TF 2.21, ``tf.cast(1.0 * 32768, tf.int16)``
    wraps around to -32768 (and 1.5 to -16384), which turns a full-scale
    positive sample into a full-scale negative one. Only exactly ``+1.0`` can
    reach that case after TF's ``clip_by_value(-1, 1)``, and there we choose
    the saturated value. For waveforms decoded from 16-bit files the result is
    the file's integers exactly.
    """
    scaled = np.trunc(np.asarray(x, dtype=np.float32) * np.float32(32768.0))  # float32
    return np.clip(scaled, -32768, 32767).astype(np.int16)


def write_wav(path: str | os.PathLike, x: np.ndarray, sample_rate: int = SAMPLE_RATE) -> Path:
    """Write a mono 16-bit PCM WAV atomically.

    ``x`` is an int16 array (written as is) or a float waveform, converted
    with :func:`to_int16`, so a waveform read by :func:`load_wav` from a
    16-bit file is written back bit for bit.
    """
    import soundfile as sf

    from tinykws.atomic import write_bytes

    x = np.asarray(x)
    samples = x if x.dtype == np.int16 else to_int16(x)  # (n,) int16
    if samples.ndim != 1:
        raise ValueError(f"write_wav expects a mono (n,) array, got shape {samples.shape}")
    buffer = io.BytesIO()
    sf.write(buffer, samples, int(sample_rate), format="WAV", subtype="PCM_16")
    return write_bytes(path, buffer.getvalue())
