"""WAV reading and writing: TF's decode_wav scaling, every broken file a one-line error."""

from __future__ import annotations

import struct
import wave

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fixtures import SR, pcm16_bytes, tone, wav_bytes
from tinykws.audio import (fit_length, load_device_clip, load_wav, read_wav_header, to_int16,
                           write_wav)
from tinykws.errors import TinyKWSError


def _write(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _error(path, **kwargs) -> str:
    with pytest.raises(TinyKWSError) as exc:
        load_wav(path, **kwargs)
    message = str(exc.value)
    assert "\n" not in message and str(path) in message
    return message


# -- decoding -------------------------------------------------------------


def test_int16_pcm_is_scaled_by_exactly_one_over_32768(tmp_path):
    samples = np.array([-32768, -32767, -1, 0, 1, 12345, 32767], dtype=np.int16)
    path = _write(tmp_path, "a.wav", pcm16_bytes(samples))
    x = load_wav(path)
    assert x.dtype == np.float32
    # decode_wav: sample * (1.0f / 32768); the exact quotients in float64.
    np.testing.assert_array_equal(x.astype(np.float64), samples.astype(np.float64) / 32768.0)
    assert x.min() >= -1.0 and x.max() < 1.0


def test_8_bit_unsigned_pcm_is_centred_at_128(tmp_path):
    path = _write(tmp_path, "u8.wav", wav_bytes(bytes([0, 64, 128, 192, 255]), bits=8))
    np.testing.assert_array_equal(load_wav(path), np.array([0, 64, 128, 192, 255]) / 128.0 - 1.0)


def test_24_bit_pcm_is_scaled_by_2_to_the_23(tmp_path):
    values = [-(2**23), -1, 0, 1, 2**22, 2**23 - 1]
    data = b"".join(struct.pack("<i", v)[:3] for v in values)  # little-endian, 3 bytes each
    path = _write(tmp_path, "p24.wav", wav_bytes(data, bits=24))
    np.testing.assert_allclose(load_wav(path), np.array(values) / 2.0**23, rtol=1e-7, atol=0)


def test_32_bit_integer_pcm_is_scaled_by_2_to_the_31(tmp_path):
    values = [-(2**31), -(2**20), 0, 2**30, 2**31 - 1]
    path = _write(tmp_path, "p32.wav", wav_bytes(struct.pack("<5i", *values), bits=32))
    np.testing.assert_allclose(load_wav(path), np.array(values) / 2.0**31, rtol=1e-7, atol=0)


def test_float_wav_is_returned_as_stored(tmp_path):
    values = np.array([-0.75, 0.0, 0.125, 0.5], dtype=np.float32)
    path = _write(tmp_path, "f.wav", wav_bytes(values.astype("<f4").tobytes(), format_tag=3, bits=32))
    np.testing.assert_array_equal(load_wav(path), values)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_float_wav_with_nan_or_inf_is_an_error(tmp_path, bad):
    values = np.array([0.1, bad, 0.2], dtype="<f4")
    path = _write(tmp_path, "nan.wav", wav_bytes(values.tobytes(), format_tag=3, bits=32))
    assert "NaN or infinite" in _error(path)


def test_stereo_is_averaged_to_mono_with_a_warning_naming_the_file(tmp_path):
    left = np.array([1000, -2000, 300, 0], dtype=np.int16)
    right = np.array([3000, 2000, -301, 7], dtype=np.int16)
    path = _write(tmp_path, "st.wav", pcm16_bytes(np.stack([left, right], axis=1), channels=2))
    with pytest.warns(UserWarning, match="st.wav.*2 channels"):
        x = load_wav(path)
    np.testing.assert_allclose(x, (left / 32768.0 + right / 32768.0) / 2, rtol=0, atol=1e-7)


def test_44100_hz_is_resampled_to_16000_with_a_warning(tmp_path):
    rate = 44100
    t = np.arange(rate) / rate  # one second
    samples = np.round(0.5 * 32767 * np.sin(2 * np.pi * 1000 * t)).astype(np.int16)
    path = _write(tmp_path, "cd.wav", pcm16_bytes(samples, rate=rate))
    with pytest.warns(UserWarning, match="cd.wav.*44100 Hz"):
        x = load_wav(path)
    assert x.shape == (16000,)
    # Away from the edges the result is the same 1 kHz sine sampled at 16 kHz.
    expected = 0.5 * 32767 / 32768 * np.sin(2 * np.pi * 1000 * np.arange(16000) / 16000)
    np.testing.assert_allclose(x[500:-500], expected[500:-500], atol=2e-3)


def test_a_16_khz_mono_file_gives_no_warning(tmp_path, recwarn):
    load_wav(_write(tmp_path, "ok.wav", pcm16_bytes(tone(440.0))))
    assert len(recwarn) == 0


def test_header_of_a_speech_commands_clip(tmp_path):
    header = read_wav_header(_write(tmp_path, "h.wav", pcm16_bytes(tone(440.0, 0.5))))
    fields = (header.format_tag, header.channels, header.sample_rate, header.bits_per_sample)
    assert fields == (1, 1, SR, 16)
    assert header.frames == 8000 and header.is_speech_commands_format


def test_chunks_before_fmt_and_odd_sized_chunks_are_walked(tmp_path):
    plain = pcm16_bytes(np.array([5, -5, 7], dtype=np.int16))
    # Insert a 3-byte LIST chunk (odd size, so one pad byte) right after "WAVE".
    extra = b"LIST" + struct.pack("<I", 3) + b"abc" + b"\x00"
    data = plain[:12] + extra + plain[12:]
    data = b"RIFF" + struct.pack("<I", len(data) - 8) + data[8:]
    x = load_wav(_write(tmp_path, "list.wav", data))
    np.testing.assert_array_equal(x * 32768, [5, -5, 7])


# -- broken files ---------------------------------------------------------


def test_empty_file_is_an_error(tmp_path):
    assert "empty" in _error(_write(tmp_path, "e.wav", b""))


def test_zero_length_file_is_an_error(tmp_path):
    assert "zero-length" in _error(_write(tmp_path, "z.wav", wav_bytes(b"")))


def test_truncated_file_is_an_error(tmp_path):
    whole = pcm16_bytes(tone(440.0))
    assert "truncated" in _error(_write(tmp_path, "t.wav", whole[: len(whole) // 2]))


def test_file_cut_inside_the_header_is_an_error(tmp_path):
    assert "truncated" in _error(_write(tmp_path, "h.wav", pcm16_bytes(tone(440.0))[:30]))


@pytest.mark.parametrize("content", [b"hello, world", b"OggS" + bytes(40), b"fLaC" + bytes(40),
                                     b"RIFF\x10\x00\x00\x00AVI LIST"])
def test_non_riff_wave_file_is_an_error(tmp_path, content):
    assert "not a RIFF/WAVE" in _error(_write(tmp_path, "n.wav", content))


def test_unsupported_encoding_is_an_error(tmp_path):
    path = _write(tmp_path, "mp3.wav", wav_bytes(bytes(200), format_tag=0x55))  # MPEG layer 3
    assert "unreadable" in _error(path)


@pytest.mark.parametrize("rate", [1, 3999, 384001, 0x71003E80])
def test_an_implausible_sample_rate_is_refused_before_resampling(tmp_path, rate):
    # A flipped byte in the rate field once made load_wav resample for 95 s.
    path = _write(tmp_path, "rate.wav", pcm16_bytes(tone(440.0, 0.25), rate=rate))
    assert f"sample rate {rate} Hz" in _error(path)


def test_missing_file_and_folder_are_errors(tmp_path):
    assert "cannot read" in _error(tmp_path / "missing.wav")
    (tmp_path / "dir.wav").mkdir()
    assert "cannot read" in _error(tmp_path / "dir.wav")


def test_max_seconds_refuses_long_files_only_when_asked(tmp_path):
    path = _write(tmp_path, "long.wav", pcm16_bytes(tone(440.0, seconds=3.0)))
    assert "3.0 s" in _error(path, max_seconds=1.5)
    assert load_wav(path).shape == (48000,)
    assert load_wav(path, max_seconds=3.0).shape == (48000,)


def test_a_device_clip_is_the_files_int16_samples_zero_padded_to_one_second(tmp_path):
    samples = tone(440.0, 0.75)
    clip = load_device_clip(_write(tmp_path, "c.wav", pcm16_bytes(samples)))
    assert clip.dtype == np.int16 and clip.shape == (SR,)
    np.testing.assert_array_equal(clip[:len(samples)], samples)
    assert not clip[len(samples):].any()


@pytest.mark.parametrize("data,problem", [
    (pcm16_bytes(tone(440.0, rate=44100), rate=44100), "44100 Hz, mono, 16-bit PCM"),
    (pcm16_bytes(np.repeat(tone(440.0), 2), channels=2), "16000 Hz, 2 channels, 16-bit PCM"),
    (wav_bytes(bytes(SR), bits=8), "16000 Hz, mono, 8-bit PCM"),
    (wav_bytes(np.zeros(SR, "<f4").tobytes(), format_tag=3, bits=32),
     "16000 Hz, mono, 32-bit float"),
])
def test_a_device_clip_in_another_format_is_refused_naming_its_format(tmp_path, data, problem):
    with pytest.raises(TinyKWSError, match=problem):
        load_device_clip(_write(tmp_path, "c.wav", data))


# -- conversions ----------------------------------------------------------


@given(hnp.arrays(np.float32, st.integers(0, 40)), st.integers(0, 60))
def test_fit_length_pads_with_zeros_or_crops(x, n):
    y = fit_length(x, n)
    assert y.shape == (n,) and y.dtype == x.dtype
    k = min(n, len(x))
    np.testing.assert_array_equal(y[:k], x[:k])
    assert not y[k:].any()


@given(hnp.arrays(np.int16, st.integers(0, 64)))
def test_to_int16_inverts_the_decode_wav_scaling(v):
    np.testing.assert_array_equal(to_int16(v.astype(np.float32) / np.float32(32768)), v)


def test_to_int16_truncates_toward_zero_and_saturates():
    x = np.array([1.0, -1.0, 1.5, -1.5, 1.7 / 32768, -1.7 / 32768, 0.5, -0.5], dtype=np.float32)
    # C-style truncation toward zero; +1.0 saturates at 32767 (TF 2.21 would wrap to -32768).
    np.testing.assert_array_equal(to_int16(x), [32767, -32768, 32767, -32768, 1, -1, 16384, -16384])


def test_write_wav_writes_16_bit_pcm_readable_by_the_wave_module(tmp_path):
    samples = tone(440.0, 0.25)
    write_wav(tmp_path / "out.wav", samples.astype(np.float32) / 32768, SR)
    with wave.open(str(tmp_path / "out.wav")) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, SR)
        read = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    np.testing.assert_array_equal(read, samples)
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"]  # no temporary file left


def test_write_wav_then_load_wav_is_exact_for_int16(tmp_path):
    samples = np.array([-32768, -3, 0, 9, 32767], dtype=np.int16)
    write_wav(tmp_path / "i.wav", samples, SR)
    np.testing.assert_array_equal(to_int16(load_wav(tmp_path / "i.wav")), samples)
