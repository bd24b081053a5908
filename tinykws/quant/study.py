"""The quantization study: accuracy of TinyConv at 2 to 8 bits, after training and during it.

For each bit width ``b`` (weights and activations on b-bit grids; the input
keeps the device's 8-bit features):

- **PTQ**: the trained float model, calibrated on training clips, quantized
  by ``quantize_model(bits=b)``;
- **QAT**: the same float model fine-tuned with fake quantizers at ``b``
  bits (:mod:`tinykws.quant.qat`), then quantized with its learned ranges;

and both are scored with **integer arithmetic**: ``Int8Runtime(graph,
activation_bits=b)`` on the int8 features, argmax of the integer logits.
The QAT model at 8 bits is exported through the flatbuffer writer and
compared with tflite-micro output by output.

The weights' symmetric grid is ``settings.grid`` (TFLite's by default, or the
assignment's full-range one; :mod:`tinykws.quant.grid`). At 2 to 4 bits,
where the extra negative code matters most, PTQ is also scored on both grids
side by side (``quant.json``'s ``grids``).

**Minifloat** (ExMy) formats are scored by fake quantization in a float
forward pass (there is no integer kernel for them): weights per channel /
per tensor scaled onto the format, activations scaled by their calibrated
range.

Results go to ``OUT/quant.json`` after every entry (atomically), so a killed
study resumes where it stopped when rerun with the same settings.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from tinykws.atomic import write_bytes, write_json
from tinykws.features.model_input import float_to_int8_input
from tinykws.quant.ptq import quantize_model
from tinykws.errors import TinyKWSError
from tinykws.int8.runtime import Int8Runtime
from tinykws.quant import qat
from tinykws.quant.grid import SYMMETRIC_GRIDS
from tinykws.quant.minifloat import STUDY_FORMATS, parse_format
from tinykws.resume import load_partial
from tinykws.train.finetune import FinetuneConfig, finetune
from tinykws.train.metrics import majority_accuracy, paired_test, predict, split_scores

MODES = ("ptq", "qat", "minifloat")
GRID_STUDY_BITS = (2, 3, 4)  # where PTQ is scored on both symmetric grids


@dataclass(frozen=True)
class QuantStudySettings:
    bits: tuple[int, ...] = (2, 3, 4, 5, 6, 7, 8)
    modes: tuple[str, ...] = MODES
    formats: tuple[str, ...] = STUDY_FORMATS
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    calibration: int = 200
    ste: str = "identity"
    percentile: float | None = None
    dense_per_channel: bool = False  # dense weights: one scale per output row instead of one
    grid: str = "tflite"  # the weights' symmetric grid, one of tinykws.quant.grid.SYMMETRIC_GRIDS

    def __post_init__(self):
        if self.grid not in SYMMETRIC_GRIDS:
            raise TinyKWSError(f"unknown grid {self.grid!r}; choose from {', '.join(SYMMETRIC_GRIDS)}")
        bad = [b for b in self.bits if not 2 <= b <= 8]
        if bad:
            raise TinyKWSError(f"bits must be between 2 and 8 (integer models are held in int8), "
                               f"not {', '.join(map(str, bad))}")
        unknown = [m for m in self.modes if m not in MODES]
        if unknown:
            raise TinyKWSError(f"unknown quantization mode {', '.join(unknown)}; "
                               f"choose from {', '.join(MODES)}")
        for f in self.formats:
            try:
                parse_format(f)
            except ValueError as exc:
                raise TinyKWSError(str(exc)) from None


def integer_predictions(graph, bits: int, x: np.ndarray) -> np.ndarray:
    """Argmax ``(N,)`` of an integer graph (logits output) on float features ``x``."""
    logits = Int8Runtime(graph, activation_bits=bits).run(float_to_int8_input(x))  # (N, K) int8
    return logits.astype(np.int32).argmax(1)


def run_quant_study(run: str | Path, out: str | Path, settings: QuantStudySettings = QuantStudySettings(),
                    data: str | None = None, resplit_salt: str | None = None,
                    real: str | None = None, progress: bool = True) -> dict:
    """Run (or resume) the study for a training run; returns what ``quant.json`` holds.

    ``real`` names a folder in the canonical test-set layout (real speech):
    every model is also scored on its test clips.
    """
    from tinykws.train.evaluate import calibration_set, open_run, real_test_set

    out = Path(out)
    model, meta, pipeline = open_run(run, data, resplit_salt)
    wanted = {"run": str(run), "data": meta["data_dir"], "resplit_salt": meta["resplit_salt"],
              "real": real, **asdict(settings)}
    result = load_partial(out / "quant.json", wanted,
                          {"ptq": {}, "qat": {}, "minifloat": {}, "grids": {g: {} for g in SYMMETRIC_GRIDS}})
    x_cal = calibration_set(pipeline, settings.calibration)
    splits = {"validation": pipeline.split_arrays("validation"), "testing": pipeline.split_arrays("testing")}
    if real is not None:
        splits["real"] = real_test_set(real, meta["labels"])

    def save():
        write_json(out / "quant.json", result)

    labels, shares = meta["labels"], pipeline.class_shares

    def score(predictions) -> dict:
        """Every split's numbers for ``predictions(x) -> (N,)``."""
        entry = {}
        for split, (x, y) in splits.items():
            entry.update(split_scores(split, predictions(x), y, labels, shares))
        return entry

    result["majority"] = {f"{split}_accuracy": majority_accuracy(y) for split, (_, y) in splits.items()}
    per_row = settings.dense_per_channel
    if "float" not in result:
        result["float"] = score(lambda x: predict(model, x).argmax(1))
        save()

    def ptq(b: int, grid: str) -> dict:
        graph = quantize_model(model, x_cal, softmax=False, bits=b, dense_per_channel=per_row, grid=grid)
        return score(lambda x: integer_predictions(graph, b, x))

    if "ptq" in settings.modes:
        for b in settings.bits:
            if str(b) not in result["ptq"]:
                result["ptq"][str(b)] = ptq(b, settings.grid)
                save()
        for b in (b for b in settings.bits if b in GRID_STUDY_BITS):
            for grid, entries in result["grids"].items():
                if str(b) not in entries:  # the default grid's entry is the PTQ one above
                    entries[str(b)] = result["ptq"][str(b)] if grid == settings.grid else ptq(b, grid)
                    save()
    if "qat" in settings.modes:
        for b in settings.bits:
            if str(b) in result["qat"]:
                continue
            result["qat"][str(b)] = _qat_entry(model, pipeline, x_cal, b, settings, splits, out, progress,
                                               score)
            save()
    if "minifloat" in settings.modes:
        for name in settings.formats:
            if name in result["minifloat"]:
                continue
            fmt = parse_format(name)
            fq = qat.fake_quant_model(model, fmt.bits, fmt=fmt, dense_per_channel=per_row)
            qat.calibrate_ranges(fq, x_cal)
            result["minifloat"][name] = {"bits": fmt.bits, "exponent_bits": fmt.exponent_bits,
                                         "mantissa_bits": fmt.mantissa_bits,
                                         **score(lambda x: predict(fq, x).argmax(1))}
            save()
    result["paired"] = compare_entries(result, {split: y for split, (_, y) in splits.items()})
    result["complete"] = True
    save()
    return result


def compare_entries(result: dict, truth: dict[str, np.ndarray]) -> dict:
    """Paired tests per width and split: QAT vs PTQ, and each vs the float model."""
    paired = {}
    for b in sorted(set(result["ptq"]) | set(result["qat"]), key=int):
        ptq, qat_entry = result["ptq"].get(b, {}), result["qat"].get(b, {})
        paired[b] = {split: {"qat_vs_ptq": paired_test(qat_entry, ptq, split, y),
                             "ptq_vs_float": paired_test(ptq, result["float"], split, y),
                             "qat_vs_float": paired_test(qat_entry, result["float"], split, y)}
                     for split, y in truth.items()}
    return paired


def _qat_entry(model, pipeline, x_cal, bits, settings, splits, out: Path, progress, score) -> dict:
    """Fine-tune with fake quantizers at ``bits``, quantize with the learned ranges, score."""
    start = time.perf_counter()
    per_row = settings.dense_per_channel
    fq = qat.fake_quant_model(model, bits, ste=settings.ste, percentile=settings.percentile,
                              dense_per_channel=per_row, grid=settings.grid)
    qat.calibrate_ranges(fq, x_cal)  # start from the PTQ ranges, then track them
    tuned = finetune(fq, pipeline, settings.finetune, snapshot=qat.snapshot, restore=qat.restore,
                     progress=progress, desc=f"QAT {bits}-bit")
    float_model, ranges = qat.strip(fq), qat.activation_ranges(fq)
    graph = quantize_model(float_model, ranges=ranges, softmax=False, bits=bits, dense_per_channel=per_row,
                           grid=settings.grid)
    entry = score(lambda x: integer_predictions(graph, bits, x))
    x_test, y_test = splits["testing"]
    entry["fake_quant_testing_accuracy"] = float(np.mean(predict(fq, x_test).argmax(1) == y_test))
    entry.update(best_step=tuned["best_step"], seconds=time.perf_counter() - start,
                 history=tuned["history"])
    if bits == 8:  # the deployable model: through the writer, checked in tflite-micro
        from tinykws.tflite.interpreters import check_against_tflm
        from tinykws.tflite.writer import serialize_tflite

        blob = serialize_tflite(quantize_model(float_model, ranges=ranges, dense_per_channel=per_row,
                                               grid=settings.grid))
        write_bytes(out / "qat8.tflite", blob)
        entry["tflite_bytes"] = len(blob)
        entry["tflm"] = check_against_tflm(blob, float_to_int8_input(splits["testing"][0]))
    return entry
