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

Any zoo model can be studied (:mod:`tinykws.quant.qat` folds batch norm
and keeps pooling on its input's grid). ``quant.json``'s ``model`` says what
the float model costs — architecture, parameters, MACs, FLOPs, float CPU
latency at batch 1 — and the 8-bit PTQ and QAT entries what their deployable
``.tflite`` does: its bytes, our int8 runtime's batch-1 CPU latency
(``cpu_int8_us``, :class:`~tinykws.int8.runtime.Int8Runtime`) and the MCU
cost model's latency on the Nano 33 BLE Sense (reference kernels and
CMSIS-NN), as ``prune.json`` reports them.

The weights' symmetric grid is ``settings.grid`` (TFLite's by default, or the
assignment's full-range one; :mod:`tinykws.quant.grid`). At 2 to 4 bits,
where the extra negative code matters most, PTQ is also scored on both grids
side by side (``quant.json``'s ``grids``).

**Minifloat** (ExMy) formats are scored by fake quantization in a float
forward pass (there is no integer kernel for them): weights per channel /
per tensor scaled onto the format, activations scaled by their calibrated
range.

Every entry is one job (:mod:`tinykws.jobs`): run one after another, in local
processes or on a Dask cluster, with the same results. They go to
``OUT/quant.json`` as each finishes (atomically, in the study's order), so a
killed study resumes where it stopped when rerun with the same settings.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from tinykws.atomic import write_json
from tinykws.features.model_input import float_to_int8_input
from tinykws.quant.ptq import quantize_model
from tinykws.errors import TinyKWSError
from tinykws.int8.runtime import Int8Runtime
from tinykws.jobs import Job, run_jobs, save_outcome, store, stored
from tinykws.quant import qat
from tinykws.quant.grid import SYMMETRIC_GRIDS
from tinykws.quant.minifloat import STUDY_FORMATS, parse_format
from tinykws.resume import load_partial
from tinykws.train.evaluate import Study, StudyInputs
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
    logits = Int8Runtime(graph, activation_bits=bits).run_clip(float_to_int8_input(x))  # (N, K) int8
    return logits.astype(np.int32).argmax(1)


def run_quant_study(run: str | Path, out: str | Path, settings: QuantStudySettings = QuantStudySettings(),
                    data: str | None = None, resplit_salt: str | None = None,
                    real: str | None = None, progress: bool = True, runner=None) -> dict:
    """Run (or resume) the study for a training run; returns what ``quant.json`` holds.

    ``real`` names a folder in the canonical test-set layout (real speech):
    every model is also scored on its test clips. Each width of each mode,
    and each minifloat format, is one job (:mod:`tinykws.jobs`) run by
    ``runner`` (default: one after another, here); the float model is scored here.
    """
    out = Path(out)
    inputs = StudyInputs.absolute(run, data, resplit_salt, real, settings.calibration)
    study = inputs.open_micro("quantization study")
    if {"qat", "minifloat"} & set(settings.modes):  # a layer without a fake-quant rule: one line
        try:
            qat.fake_quant_model(study.model, 8)
        except ValueError as exc:
            raise TinyKWSError(f"quantization-aware training: {exc}") from None
    meta = study.meta
    wanted = {"run": str(run), "data": str(data) if data else meta["data_dir"],  # as given
              "resplit_salt": meta["resplit_salt"],
              "real": real, **asdict(settings)}
    result = load_partial(out / "quant.json", wanted,
                          {"ptq": {}, "qat": {}, "minifloat": {}, "grids": {g: {} for g in SYMMETRIC_GRIDS}})
    splits = study.splits

    result["majority"] = {f"{split}_accuracy": majority_accuracy(y) for split, (_, y) in splits.items()}
    if "float" not in result:
        result["float"] = _score(study, lambda x: predict(study.model, x).argmax(1))
        write_json(out / "quant.json", result)
    if "model" not in result:
        result["model"] = model_costs(study.model, meta)
        write_json(out / "quant.json", result)

    jobs = study_jobs(inputs, settings, progress and getattr(runner, "workers", 1) == 1)
    for b in settings.bits:  # a run killed between the PTQ entry and its copy under its grid
        if str(b) in result["ptq"] and b in GRID_STUDY_BITS:
            result["grids"][settings.grid].setdefault(str(b), result["ptq"][str(b)])

    order = [job.key for job in jobs] + [("grids", settings.grid, str(b)) for b in settings.bits
                                         if "ptq" in settings.modes and b in GRID_STUDY_BITS]

    def done(job: Job, outcome) -> None:
        mode, b = job.key[0], job.key[-1]
        if mode == "ptq" and int(b) in GRID_STUDY_BITS:  # the default grid's entry is this one
            store(result, ("grids", settings.grid, b), outcome[0])
        save_outcome(result, out / "quant.json", order, job, outcome)

    run_jobs([job for job in jobs if not stored(result, job.key)], done, runner, progress=progress,
             desc="quantized models")
    result["paired"] = compare_entries(result, {split: y for split, (_, y) in splits.items()})
    result["complete"] = True
    write_json(out / "quant.json", result)
    return result


def study_jobs(inputs: StudyInputs, settings: QuantStudySettings, progress: bool) -> list[Job]:
    """Every entry of the study as a job, keyed by where it goes in ``quant.json``, in its order.

    ``progress`` shows QAT's fine-tuning steps (in a serial run only).
    """
    jobs = []
    if "ptq" in settings.modes:
        jobs += [Job(("ptq", str(b)), _ptq_job, (inputs, settings, b, settings.grid)) for b in settings.bits]
        jobs += [Job(("grids", grid, str(b)), _ptq_job, (inputs, settings, b, grid))
                 for grid in SYMMETRIC_GRIDS if grid != settings.grid
                 for b in settings.bits if b in GRID_STUDY_BITS]
    if "qat" in settings.modes:
        jobs += [Job(("qat", str(b)), _qat_job, (inputs, settings, b, progress)) for b in settings.bits]
    if "minifloat" in settings.modes:
        jobs += [Job(("minifloat", name), _minifloat_job, (inputs, settings, name))
                 for name in settings.formats]
    return jobs


def _score(study: Study, predictions) -> dict:
    """Every split's numbers for ``predictions(x) -> (N,)``."""
    labels, shares = study.meta["labels"], study.pipeline.class_shares
    entry = {}
    for split, (x, y) in study.splits.items():
        entry.update(split_scores(split, predictions(x), y, labels, shares))
    return entry


def model_costs(model, meta: dict) -> dict:
    """The float model's architecture, parameters, MACs, FLOPs and batch-1 CPU latency (µs)."""
    from tinykws.size import float_latency_seconds, layer_sizes

    sizes = layer_sizes(model)
    return {"architecture": meta.get("config", {}).get("model", "tiny_conv"),
            "params": sum(s.params for s in sizes), "macs": sum(s.macs for s in sizes),
            "flops": sum(s.flops for s in sizes), "cpu_float_us": 1e6 * float_latency_seconds(model, 50)}


def deployed_costs(blob: bytes) -> dict:
    """An 8-bit ``.tflite``'s bytes, int8 CPU latency at batch 1 (µs) and estimated MCU latency (ms)."""
    from tinykws.prune.study import mcu_ms
    from tinykws.tflite.reader import parse_tflite
    from tinykws.timing import median_call_seconds

    graph = parse_tflite(blob, "model.tflite")
    runtime = Int8Runtime(graph)
    x = np.zeros((1, *graph.tensors[graph.inputs[0]].shape[1:]), np.int8)  # (1, 49, 40, 1)
    return {"tflite_bytes": len(blob),
            "cpu_int8_us": 1e6 * median_call_seconds(lambda: runtime.run(x), 20, warmup=3),
            **mcu_ms(graph, len(blob))}


def _ptq_job(inputs: StudyInputs, settings: QuantStudySettings, bits: int, grid: str):
    """PTQ at ``bits`` on the weight grid ``grid``, scored with integer arithmetic (at 8 bits
    with the deployable model's costs)."""
    from tinykws.tflite.writer import serialize_tflite

    study = inputs.open()
    options = dict(bits=bits, dense_per_channel=settings.dense_per_channel, grid=grid)
    graph = quantize_model(study.model, study.x_cal, softmax=False, **options)
    entry = _score(study, lambda x: integer_predictions(graph, bits, x))
    if bits == 8:
        entry.update(deployed_costs(serialize_tflite(quantize_model(study.model, study.x_cal, **options))))
    return entry, {}


def _minifloat_job(inputs: StudyInputs, settings: QuantStudySettings, name: str):
    """The float model seen through the minifloat format ``name`` (fake quantization), scored."""
    study = inputs.open()
    fmt = parse_format(name)
    fq = qat.fake_quant_model(study.model, fmt.bits, fmt=fmt, dense_per_channel=settings.dense_per_channel)
    qat.calibrate_ranges(fq, study.x_cal)
    return {"bits": fmt.bits, "exponent_bits": fmt.exponent_bits, "mantissa_bits": fmt.mantissa_bits,
            **_score(study, lambda x: predict(fq, x).argmax(1))}, {}


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


def _qat_job(inputs: StudyInputs, settings: QuantStudySettings, bits: int, progress: bool):
    """Fine-tune with fake quantizers at ``bits``, quantize with the learned ranges, score.

    At 8 bits the model is also written as ``qat8.tflite`` (returned as a file
    for the study to write) and checked in tflite-micro.
    """
    study = inputs.open()
    start = time.perf_counter()
    per_row = settings.dense_per_channel
    fq = qat.fake_quant_model(study.model, bits, ste=settings.ste, percentile=settings.percentile,
                              dense_per_channel=per_row, grid=settings.grid)
    qat.calibrate_ranges(fq, study.x_cal)  # start from the PTQ ranges, then track them
    tuned = finetune(fq, study.pipeline, settings.finetune, snapshot=qat.snapshot, restore=qat.restore,
                     progress=progress, desc=f"QAT {bits}-bit")
    float_model, ranges = qat.strip(fq), qat.activation_ranges(fq)
    graph = quantize_model(float_model, ranges=ranges, softmax=False, bits=bits, dense_per_channel=per_row,
                           grid=settings.grid)
    entry = _score(study, lambda x: integer_predictions(graph, bits, x))
    x_test, y_test = study.splits["testing"]
    entry["fake_quant_testing_accuracy"] = float(np.mean(predict(fq, x_test).argmax(1) == y_test))
    entry.update(best_step=tuned["best_step"], seconds=time.perf_counter() - start,
                 history=tuned["history"])
    files = {}
    if bits == 8:  # the deployable model: through the writer, checked in tflite-micro
        from tinykws.tflite.interpreters import check_against_tflm
        from tinykws.tflite.writer import serialize_tflite

        blob = serialize_tflite(quantize_model(float_model, ranges=ranges, dense_per_channel=per_row,
                                               grid=settings.grid))
        files["qat8.tflite"] = blob
        entry.update(deployed_costs(blob))
        entry["tflm"] = check_against_tflm(blob, float_to_int8_input(x_test))
    return entry, files
