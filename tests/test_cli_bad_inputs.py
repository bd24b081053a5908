"""Every bad input, whichever command reads it: one line naming the problem, exit code 2.

Each row is a command, the bad input it is given and what the error must
say. Before the call a sentinel file sits where the command writes its
output; afterwards that folder must hold exactly what it held before, byte
for byte (nothing overwritten, nothing half-written, no temporary file
left), and nothing may have been printed on stdout.

An output folder in use by another tinykws process is a bad input too: the
second command is refused before it writes anything (the holder is a real
child process here, see :func:`fixtures.holding_folder_lock`).

Formats a command accepts with a warning are not bad inputs: ``features``
(see ``test_cli_features.py``) and ``listen`` resample and downmix a 44.1 kHz
or stereo clip, while ``infer`` runs the model as the device does and takes
only 16 kHz mono 16-bit PCM clips of at most one second.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pytest

from fixtures import (holding_folder_lock, make_training_set, model_for_two_second_inputs,
                      pcm16_bytes, tone, wav_bytes, with_buffer_overrun, with_operator_code,
                      write_pcm16)
from tinykws.cli import main
from tinykws.quant.ptq import quantize_model
from tinykws.nn.model import tiny_conv
from tinykws.tflite.writer import serialize_tflite
from tinykws.train.checkpoint import save_checkpoint

SENTINEL = b"an earlier result that must survive\n"
WORDS = {"yes": 30, "no": 30, "up": 12, "down": 12}
SOFTMAX = 25  # builtin operator code
MUL = 18  # an operator the runtime does not have


@dataclass(frozen=True)
class Good:
    """Valid inputs, so that each row has exactly one thing wrong."""

    data: Path  # training-layout folder with yes, no, up, down and noise
    run: Path  # checkpoint of an (untrained) TinyConv for those labels
    wav: Path  # 1 s, 16 kHz mono 16-bit
    tflite: Path  # TinyConv written by our writer

    def checkpoint_arrays(self) -> dict[str, np.ndarray]:
        with np.load(self.run, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Good:
    root = tmp_path_factory.mktemp("good")
    data = make_training_set(root / "data", WORDS)
    model = tiny_conv(4, np.random.default_rng(0))
    meta = {"labels": ["_silence_", "_unknown_", "yes", "no"], "data": {"dir": str(data)}}
    run = save_checkpoint(root / "run" / "model.npz", model, meta)
    calibration = np.random.default_rng(1).uniform(0, 25, (8, 49, 40, 1)).astype(np.float32)
    tflite = root / "model.tflite"
    tflite.write_bytes(serialize_tflite(quantize_model(model, calibration)))
    return Good(data, run, write_pcm16(root / "clip.wav", tone(440.0)), tflite)


# -- makers of bad inputs: (tmp folder, good inputs) -> path ------------------


def _file(name: str, content):
    def make(tmp: Path, good: Good) -> Path:
        path = tmp / name
        path.write_bytes(content(good) if callable(content) else content)
        return path
    return make


def _data_folder(words: dict[str, int], **kwargs):
    return lambda tmp, good: make_training_set(tmp / "bad_data", words, **kwargs)


def _empty_folder(tmp: Path, good: Good) -> Path:
    (tmp / "bad_data").mkdir()
    return tmp / "bad_data"


def _noise_file_truncated(tmp: Path, good: Good) -> Path:
    root = make_training_set(tmp / "bad_data", WORDS, background_seconds=(3.0,))
    noise = root / "_background_noise_" / "noise_0.wav"
    noise.write_bytes(noise.read_bytes()[:20000])
    return root


def _checkpoint_of_another_architecture(good: Good) -> bytes:
    arrays = good.checkpoint_arrays()
    arrays["param/4.weight"] = np.zeros((4, 123), np.float32)  # dense layer after a wider conv
    return _npz_bytes(arrays)


def _checkpoint_for_two_second_inputs(tmp: Path, good: Good) -> Path:
    return save_checkpoint(tmp / "two_seconds.npz", model_for_two_second_inputs(),
                           {"labels": ["_silence_", "_unknown_", "yes", "no"]})


def _checkpoint_with_object_array(good: Good) -> bytes:
    arrays = good.checkpoint_arrays()
    arrays["meta"] = np.array([{"labels": ["__import__('os').system('touch pwned')"]}],
                              dtype=object)
    return _npz_bytes(arrays)


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    import io

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # np.savez pickles object arrays: exactly what an attacker sends
    return buffer.getvalue()


def _run_with_truncated_last(tmp: Path, good: Good) -> Path:
    """A run folder whose resume point was cut short (say, a full disk); the run is --out."""
    out = tmp / "out"
    out.mkdir()
    (out / "last.npz").write_bytes(good.run.read_bytes()[:4000])
    return out


def _run_with_other_settings(tmp: Path, good: Good) -> Path:
    """A run folder (the --out) whose resume point was trained at another learning rate."""
    out = tmp / "out"
    model = tiny_conv(4, np.random.default_rng(0))
    # what 'train --steps 3000' asks for (the recipe), but ten times the learning rate
    from dataclasses import replace

    from tinykws.train.recipe import DEFAULT_RECIPE

    config = asdict(replace(DEFAULT_RECIPE, steps=3000, learning_rates=(1e-2,)))
    save_checkpoint(out / "last.npz", model, {"labels": ["_silence_", "_unknown_", "yes", "no"],
                                              "config": config, "step": 200})
    return out


_HELD = contextlib.ExitStack()  # locks held by other processes during a row; released after it


def _out_in_use(tmp: Path, good: Good) -> Path:
    """The output folder, locked by another (live) tinykws process."""
    _HELD.enter_context(holding_folder_lock(tmp / "out", "tinykws train --out out --steps 9000"))
    return tmp / "out"


@pytest.fixture(autouse=True)
def release_held_locks():
    yield
    _HELD.close()


def _float_wav(samples) -> bytes:
    return wav_bytes(np.asarray(samples, "<f4").tobytes(), format_tag=3, bits=32)


EMPTY_WAV = _file("empty.wav", b"")
TRUNCATED_WAV = _file("truncated.wav", pcm16_bytes(tone(440.0))[:9000])
NOT_RIFF_WAV = _file("song.wav", b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(600))  # an MP3
ZERO_LENGTH_WAV = _file("zero.wav", wav_bytes(b""))
NAN_WAV = _file("nan.wav", _float_wav([0.1, np.nan, -0.1] * 5000))
U8_WAV = _file("u8.wav", wav_bytes(bytes(16000), bits=8))
P24_WAV = _file("p24.wav", wav_bytes(bytes(48000), bits=24))
CD_RATE_WAV = _file("cd.wav", pcm16_bytes(tone(440.0, rate=44100), rate=44100))
STEREO_WAV = _file("stereo.wav", pcm16_bytes(np.repeat(tone(440.0), 2), channels=2))
TEN_MINUTE_WAV = _file("ten_minutes.wav", lambda good: pcm16_bytes(np.zeros(600 * 16000, np.int16)))
ABSENT = lambda tmp, good: tmp / "absent"  # noqa: E731
LACKS_YES = _data_folder({"no": 30, "up": 12})
CUT_CHECKPOINT = _file("cut.npz", lambda good: good.run.read_bytes()[:5000])
OTHER_ARCHITECTURE = _file("other.npz", _checkpoint_of_another_architecture)
OBJECT_ARRAY = _file("evil.npz", _checkpoint_with_object_array)
NOTHING = lambda tmp, good: None  # noqa: E731  (the command line itself is the bad input)
FEATURES_OUT = "micro_features.npy"  # what 'features' writes
CUT_TFLITE = _file("cut.tflite", lambda good: good.tflite.read_bytes()[:9000])
NOTES = "notes.txt"  # a file of the user's in a folder 'download' is given

# name: (command, bad input, what the one-line error must say, file guarded in {out})
CASES = {
    # WAV files
    "features-empty-wav": (
        "features {bad} --out {out}", EMPTY_WAV, "empty file (0 bytes)", FEATURES_OUT),
    "features-truncated-wav": (
        "features {bad} --out {out}", TRUNCATED_WAV,
        "truncated: the data chunk declares 32000 bytes but only 8956", FEATURES_OUT),
    "features-non-riff-wav": (
        "features {bad} --out {out}", NOT_RIFF_WAV, "not a RIFF/WAVE file", FEATURES_OUT),
    "features-zero-length-wav": (
        "features {bad} --out {out}", ZERO_LENGTH_WAV, "zero-length: the file holds no samples",
        FEATURES_OUT),
    "features-nan-float-wav": (
        "features {bad} --out {out}", NAN_WAV, "contains NaN or infinite samples", FEATURES_OUT),
    "features-ten-minute-wav": (
        "features {bad} --out {out}", TEN_MINUTE_WAV, "600.0 s long; at most 60 s expected here",
        FEATURES_OUT),
    "listen-empty-wav": ("listen {bad} --model {run}", EMPTY_WAV, "empty file (0 bytes)", None),
    "listen-nan-float-wav": ("listen {bad} --model {run}", NAN_WAV, "NaN or infinite", None),
    "infer-truncated-wav": ("infer {tflite} {bad}", TRUNCATED_WAV, "truncated", None),
    "infer-non-riff-wav": ("infer {tflite} {bad}", NOT_RIFF_WAV, "not a RIFF/WAVE file", None),
    "infer-8-bit-wav": (
        "infer {tflite} {bad}", U8_WAV,
        "16000 Hz, mono, 8-bit PCM; the model takes what the device records", None),
    "infer-24-bit-wav": (
        "infer {tflite} {bad}", P24_WAV, "16000 Hz, mono, 24-bit PCM; the model takes", None),
    "infer-44100-hz-wav": (
        "infer {tflite} {bad}", CD_RATE_WAV, "44100 Hz, mono, 16-bit PCM; the model takes", None),
    "infer-stereo-wav": (
        "infer {tflite} {bad}", STEREO_WAV, "16000 Hz, 2 channels, 16-bit PCM; the model takes",
        None),
    "infer-ten-minute-wav": (
        "infer {tflite} {bad}", TEN_MINUTE_WAV, "600.0 s long; at most 1 s expected here", None),
    # data folders
    "train-missing-data-folder": (
        "train --data {bad} --out {out}", ABSENT, "data folder not found", "model.npz"),
    "train-empty-data-folder": (
        "train --data {bad} --out {out}", _empty_folder, "no .wav clips found", "model.npz"),
    "train-data-lacks-a-wanted-word": (
        "train --data {bad} --out {out}", LACKS_YES,
        "no folder for wanted word 'yes'; available words: no, up", "model.npz"),
    "train-data-lacks-background-noise": (
        "train --data {bad} --out {out}", _data_folder(WORDS, background_seconds=()),
        "no '_background_noise_' folder", "model.npz"),
    "train-noise-shorter-than-1-s": (
        "train --data {bad} --out {out}", _data_folder(WORDS, background_seconds=(3.0, 0.5)),
        "background noise of 8000 samples; more than 16000", "model.npz"),
    "train-noise-file-truncated": (
        "train --data {bad} --out {out}", _noise_file_truncated, "noise_0.wav: truncated",
        "model.npz"),
    "data-stats-missing-folder": ("data stats --data {bad}", ABSENT, "data folder not found", None),
    "eval-data-lacks-a-wanted-word": (
        "eval {run} --data {bad}", LACKS_YES, "no folder for wanted word 'yes'", None),
    "infield-empty-data-folder": (
        "infield {run} --data {bad}", _empty_folder, "no .wav clips found", None),
    # checkpoints
    "eval-truncated-checkpoint": (
        "eval {bad} --data {data}", CUT_CHECKPOINT, "is truncated or not an .npz file", None),
    "convert-truncated-checkpoint": (
        "convert {bad} --out {out}", CUT_CHECKPOINT, "is truncated or not an .npz file",
        "model.tflite"),
    "train-resume-from-truncated-checkpoint": (
        "train --data {data} --out {out} --resume", _run_with_truncated_last,
        "last.npz is truncated or not an .npz file", "model.npz"),
    "size-checkpoint-of-another-architecture": (
        "size {bad}", OTHER_ARCHITECTURE, "does not match its architecture: 4.weight", None),
    "convert-checkpoint-of-another-architecture": (
        "convert {bad} --out {out}", OTHER_ARCHITECTURE, "does not match its architecture",
        "model.tflite"),
    "eval-checkpoint-of-a-model-for-two-second-inputs": (
        "eval {bad} --data {data}", _checkpoint_for_two_second_inputs,
        "does not match its architecture: it takes (98, 40, 1) inputs", None),
    "prune-checkpoint-of-another-architecture": (
        "prune {bad} --out {out}", OTHER_ARCHITECTURE, "does not match its architecture",
        "prune.json"),
    "listen-checkpoint-with-object-array": (
        "listen {wav} --model {bad}", OBJECT_ARRAY, "holds objects that would need pickle: refused",
        None),
    "quantize-checkpoint-with-object-array": (
        "quantize {bad} --out {out}", OBJECT_ARRAY, "holds objects that would need pickle",
        "quant.json"),
    # .tflite models
    "infer-truncated-tflite": ("infer {bad} {wav}", CUT_TFLITE, "not a valid TFLite model", None),
    "mcu-truncated-tflite": ("mcu {bad}", CUT_TFLITE, "not a valid TFLite model", None),
    "infer-tflite-with-bad-magic": (
        "infer {bad} {wav}", _file("magic.tflite", lambda good: good.tflite.read_bytes()[:4]
                                   + b"TFL2" + good.tflite.read_bytes()[8:]),
        "file identifier is b'TFL2', expected b'TFL3'", None),
    "infer-tflite-with-unsupported-op": (
        "infer {bad} {wav}", _file("mul.tflite", lambda good: with_operator_code(
            good.tflite.read_bytes(), SOFTMAX, MUL)),
        "unsupported operator (builtin code 18)", None),
    "infer-tflite-buffer-past-the-end": (
        "infer {bad} {wav}", _file("overrun.tflite", lambda good: with_buffer_overrun(
            good.tflite.read_bytes())),
        "buffer data at byte", None),
    # bad values on the command line
    "quantize-bits-0": (
        "quantize {run} --out {out} --bits 0", NOTHING,
        "bits must be between 2 and 8 (integer models are held in int8), not 0", "quant.json"),
    "quantize-bits-33": (
        "quantize {run} --out {out} --bits 4,33", NOTHING,
        "bits must be between 2 and 8 (integer models are held in int8), not 33", "quant.json"),
    "prune-sparsity-1.5": (
        "prune {run} --out {out} --method unstructured --amounts 0.5,1.5", NOTHING,
        "sparsity 1.5 is out of range: amounts are fractions in [0, 1)", "prune.json"),
    "train-unknown-word": (
        "train --data {data} --out {out} --words yes,nope", NOTHING,
        "no folder for wanted word 'nope'", "model.npz"),
    "report-unknown-word": (
        "report --data {data} --out {out} --words yes,nope", NOTHING,
        "no folder for wanted word 'nope'", "index.md"),
    "synth-data-unknown-word": (
        "synth-data {out} --words yes,nope", NOTHING,
        "--words must be Speech Commands words; unknown: nope", "yes/0a1b2c3d_nohash_0.wav"),
    # class shares and cross-validation folds
    "train-silence-percentage-120": (
        "train --data {data} --out {out} --silence-percentage 120", NOTHING,
        "--silence-percentage must be within [0, 100], got 120", "model.npz"),
    "cv-unknown-percentage-negative": (
        "cv --data {data} --out {out} --unknown-percentage -5", NOTHING,
        "--unknown-percentage must be within [0, 100], got -5", "cv.json"),
    "cv-one-fold": (
        "cv --data {data} --out {out} --folds 1", NOTHING, "--folds must be at least 2, not 1",
        "cv.json"),
    "cv-more-folds-than-speakers": (
        "cv --data {data} --out {out} --folds 500", NOTHING, "500 folds but only 30 speakers",
        "cv.json"),
    "cv-fold-without-a-keyword-clip": (
        "cv --data {bad} --out {out} --folds 5", _data_folder({"yes": 2, "no": 30, "up": 12}),
        "split has no clip of yes", "cv.json"),
    "synth-data-zero-repeats": (
        "synth-data {out} --repeats 0", NOTHING,
        "--repeats must be at least 1", "synth_plan.json"),
    "infer-labels-do-not-match-outputs": (
        "infer {tflite} {wav} --labels yes,no", NOTHING,
        "the model has 4 outputs but --labels names 2", None),
    # missing files and folders, one per command that reads them
    "features-missing-wav": ("features {bad} --out {out}", ABSENT, "absent", FEATURES_OUT),
    "size-missing-checkpoint": ("size {bad}", ABSENT, "checkpoint", None),
    "eval-missing-run": ("eval {bad} --data {data}", ABSENT, "does not exist", None),
    "convert-missing-data-folder": (
        "convert {run} --out {out} --data {bad}", ABSENT, "data folder not found", "model.tflite"),
    "infer-missing-model": ("infer {bad} {wav}", ABSENT, "does not exist", None),
    "mcu-missing-model": ("mcu {bad}", ABSENT, "does not exist", None),
    "listen-missing-model": ("listen {wav} --model {bad}", ABSENT, "does not exist", None),
    "report-missing-data-folder": (
        "report --data {bad} --out {out}", ABSENT, "absent does not exist", "index.md"),
    "report-missing-real-speech-folder": (
        "report --data {data} --out {out} --real {bad}", ABSENT, "data folder not found",
        "index.md"),
    # output folders that cannot be written
    "features-out-is-a-file": (
        "features {wav} --out {out}/" + FEATURES_OUT, NOTHING,
        f"{FEATURES_OUT} is a file, not a folder", FEATURES_OUT),
    "download-dir-is-a-file": (
        "download {out}/" + NOTES, NOTHING, f"{NOTES} is a file, not a folder", NOTES),
    "download-unreachable-url": (
        "download {out} --url file:///nonexistent/speech_commands.tar.gz", NOTHING,
        "could not reach file:///nonexistent/speech_commands.tar.gz", NOTES),
    "train-out-in-use-by-another-process": (
        "train --data {data} --out {out}", _out_in_use,
        "out is being written by another tinykws process (pid ", "model.npz"),
    "report-out-in-use-by-another-process": (
        "report --data {data} --out {out}", _out_in_use,
        ": tinykws train --out out --steps 9000); wait for it to finish", "index.md"),
    "train-resume-with-other-settings": (
        "train --data {data} --out {out} --resume --steps 3000", _run_with_other_settings,
        "settings differ from the saved run (learning_rates)", "model.npz"),
    # flag values, every validated flag of every command
    "data-stats-negative-silence-percentage": (
        "data stats --data {data} --silence-percentage -5", NOTHING,
        "silence percentage must be within [0, 100], got -5.0", None),
    "data-stats-unknown-percentage-150": (
        "data stats --data {data} --unknown-percentage 150", NOTHING,
        "unknown percentage must be within [0, 100], got 150.0", None),
    "data-stats-validation-and-testing-over-100": (
        "data stats --data {data} --validation-percentage 60 --testing-percentage 60", NOTHING,
        "validation + testing percentages exceed 100", None),
    "data-stats-empty-words": (
        "data stats --data {data} --words ,", NOTHING, "wanted words must be non-empty names", None),
    "synth-data-no-speakers": (
        "synth-data {out} --speakers 0", NOTHING, "--speakers must be at least 1",
        "yes/0a1b2c3d_nohash_0.wav"),
    "synth-data-too-many-other-words": (
        "synth-data {out} --others 99", NOTHING, "--others must be between 0 and 33",
        "yes/0a1b2c3d_nohash_0.wav"),
    "train-epochs-0": ("train --data {data} --out {out} --epochs 0", NOTHING,
                       "--epochs must be positive", "model.npz"),
    "train-batch-size-0": ("train --data {data} --out {out} --batch-size 0", NOTHING,
                           "--batch-size and --eval-every must be at least 1", "model.npz"),
    "train-eval-every-0": ("train --data {data} --out {out} --eval-every 0", NOTHING,
                           "--batch-size and --eval-every must be at least 1", "model.npz"),
    "train-negative-lr": ("train --data {data} --out {out} --lr 0.001,-1", NOTHING,
                          "--lr values must be positive", "model.npz"),
    "train-lr-not-a-number": ("train --data {data} --out {out} --lr fast", NOTHING,
                              "--lr must be comma-separated numbers, not 'fast'", "model.npz"),
    "train-lr-steps-do-not-match-lr": (
        "train --data {data} --out {out} --lr 0.1,0.01 --lr-steps 10", NOTHING,
        "--lr-steps needs one value per --lr value", "model.npz"),
    "convert-too-few-calibration-clips": (
        "convert {run} --out {out} --calibration 0", NOTHING, "calibration needs at least 100 clips",
        "model.tflite"),
    "quantize-percentile-40": (
        "quantize {run} --out {out} --percentile 40", NOTHING,
        "--percentile must be in (50, 100], not 40.0", "quant.json"),
    "quantize-unknown-mode": (
        "quantize {run} --out {out} --modes ptq,fp", NOTHING,
        "unknown quantization mode fp; choose from ptq, qat, minifloat", "quant.json"),
    "quantize-unknown-minifloat-format": (
        "quantize {run} --out {out} --formats E0M2", NOTHING,
        "not a minifloat format like E4M3: 'E0M2'", "quant.json"),
    "quantize-finetune-steps-0": (
        "quantize {run} --out {out} --finetune-steps 0", NOTHING,
        "--finetune-steps must be at least 1, not 0", "quant.json"),
    "quantize-lr-0": ("quantize {run} --out {out} --lr 0", NOTHING,
                      "--lr must be positive, not 0.0", "quant.json"),
    "quantize-too-few-calibration-clips": (
        "quantize {run} --out {out} --calibration 50", NOTHING,
        "calibration needs at least 100 clips", "ptq.png"),  # (a quant.json is read first)
    "prune-repeats-0": ("prune {run} --out {out} --repeats 0", NOTHING,
                        "--repeats must be at least 1, not 0", "prune.json"),
    "prune-unknown-method": (
        "prune {run} --out {out} --method magnitude", NOTHING,
        "unknown pruning method magnitude; choose unstructured or structured", "prune.json"),
    "prune-amounts-for-two-methods": (
        "prune {run} --out {out} --amounts 0.5", NOTHING,
        "--amounts means sparsity for one --method", "prune.json"),
    "prune-structured-amount-1": (
        "prune {run} --out {out} --method structured --amounts 1.0", NOTHING,
        "sparsity 1.0 is out of range: amounts are fractions in [0, 1)", "prune.json"),
    "prune-negative-lr": ("prune {run} --out {out} --lr -0.1", NOTHING,
                          "--lr must be positive, not -0.1", "prune.json"),
    "mcu-clock-0-mhz": ("mcu {tflite} --clock-mhz 0", NOTHING,
                        "the clock must be positive, not 0.0 Hz", None),
    "mcu-clock-nan": ("mcu {tflite} --clock-mhz nan", NOTHING,
                      "the clock must be positive, not nan Hz", None),
    "listen-threshold-300": ("listen {wav} --model {run} --threshold 300", NOTHING,
                             "--threshold must be between 0 and 255", None),
    "listen-window-ms-0": ("listen {wav} --model {run} --window-ms 0", NOTHING,
                           "--window-ms and --min-count must be positive", None),
    "listen-min-count-0": ("listen {wav} --model {run} --min-count 0", NOTHING,
                           "--window-ms and --min-count must be positive", None),
    "listen-negative-suppression": ("listen {wav} --model {run} --suppression-ms -1", NOTHING,
                                    "--suppression-ms not negative", None),
    "infield-clips-0": ("infield {run} --data {data} --clips 0", NOTHING,
                        "--clips must be positive", None),
    "infield-threshold-negative": ("infield {run} --data {data} --threshold -1", NOTHING,
                                   "--threshold between 0 and 255", None),
    "train-unknown-model": ("train --data {data} --out {out} --model resnet1000", NOTHING,
                            "unknown model 'resnet1000'; the zoo has tiny_conv, single_fc", "last.npz"),
    "size-unknown-model": ("size --model resnet1000", NOTHING, "the zoo has tiny_conv", None),
    "zoo-unknown-model": ("zoo --data {data} --out {out} --models tiny_conv,resnet1000", NOTHING,
                          "unknown model 'resnet1000'; the zoo has tiny_conv", "zoo.json"),
    "zoo-single-model-flag": ("zoo --data {data} --out {out} --model tiny_conv", NOTHING,
                              "use --models, not --model", "zoo.json"),
    "stream-eval-threshold-300": (
        "stream-eval {tflite} --data {data} --out {out} --threshold 300", NOTHING,
        "detection threshold 300 is outside 0-255", "stream.json"),
    "stream-eval-target-0": (
        "stream-eval {tflite} --data {data} --out {out} --calibrate --target-fa-per-hour 0", NOTHING,
        "--target-fa-per-hour must be positive", "stream.json"),
    "stream-eval-keyword-not-a-label": (
        "stream-eval {tflite} --data {data} --out {out} --keywords yes,maybe", NOTHING,
        "lack the keywords ['maybe']", "stream.json"),
    "stream-eval-shorter-than-a-window": (
        "stream-eval {tflite} --data {data} --out {out} --minutes 0.01", NOTHING,
        "shorter than one 1 s window", "stream.json"),
    "stream-eval-tflite-without-data": (
        "stream-eval {tflite} --out {out}", NOTHING, "needs --data DIR", "stream.json"),
    "listen-shorter-than-a-window": (
        "listen {bad} --model {tflite}", _file("short.wav", lambda good: pcm16_bytes(tone(440.0, 0.5))),
        "shorter than one 1 s window", None),
    "listen-tflite-labels-mismatch": (
        "listen {wav} --model {tflite} --labels a,b", NOTHING, "has 4 outputs but --labels names 2",
        None),
    # The sweeps' job runner (tinykws.jobs; a worker dying mid-job is in test_jobs.py).
    "quantize-jobs-0": ("quantize {run} --out {out} --jobs 0", NOTHING, "--jobs must be at least 1, not 0",
                        "quant.json"),
    "prune-jobs-negative": ("prune {run} --out {out} --jobs -2", NOTHING,
                            "--jobs must be at least 1, not -2", "prune.json"),
    "cv-jobs-0": ("cv --data {data} --out {out} --jobs 0", NOTHING, "--jobs must be at least 1, not 0",
                  "cv.json"),
    "quantize-unreachable-scheduler": (  # nothing listens on the discard port: refused until the timeout
        "quantize {run} --out {out} --scheduler tcp://127.0.0.1:9", NOTHING,
        "cannot reach the Dask scheduler at tcp://127.0.0.1:9 within 5 s", "quant.json"),
    "cv-scheduler-not-an-address": (
        "cv --data {data} --out {out} --scheduler nowhere:port", NOTHING,
        "'nowhere:port' is not a Dask scheduler address", "cv.json"),
    "prune-jobs-and-scheduler": (
        "prune {run} --out {out} --jobs 2 --scheduler tcp://127.0.0.1:9", NOTHING,
        "--jobs and --scheduler: choose one", "prune.json"),
}


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()} if folder.exists() else {}


@pytest.mark.parametrize("command,make,problem,guarded", CASES.values(), ids=CASES.keys())
def test_bad_input_is_a_one_line_error_with_exit_2_and_leaves_outputs_alone(
        command, make, problem, guarded, good, tmp_path, capsys):
    bad = make(tmp_path, good)
    out = tmp_path / "out"
    if guarded:
        (out / guarded).parent.mkdir(parents=True, exist_ok=True)
        (out / guarded).write_bytes(SENTINEL)
    before = _snapshot(out)
    args = [a.format(bad=bad, out=out, run=good.run, data=good.data, wav=good.wav,
                     tflite=good.tflite) for a in command.split()]
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("tinykws: error: ") and captured.err.count("\n") == 1
    assert problem in captured.err
    assert captured.out == ""
    assert _snapshot(out) == before
