"""The pruning study: accuracy against parameters, FLOPs, CPU runtime and MCU runtime.

For a trained run, every pruned model — unstructured at each sparsity,
structured at each number of kept channels, each without and with
fine-tuning — is measured the same way (:func:`measure`):

- nonzero parameters and FLOPs (:mod:`tinykws.size`; exact after channel
  removal). For unstructured models also the FLOPs a zero-skipping kernel
  performs (two per MAC on a nonzero weight, one per output for the bias);
- the int8 model: PTQ (``quantize_model``), written by the flatbuffer writer
  to ``OUT/models/<name>.tflite``, its size, its accuracy with integer
  arithmetic, and a comparison with tflite-micro output by output on the
  test clips;
- CPU runtime at batch 1, median: the float NumPy forward pass, and our int8
  fused path, dense and zero-skipping (CSR kernels,
  :mod:`tinykws.int8.sparse`) — these last two for all models at once, at
  the end, alternating (:func:`time_int8_models`), so that the machine's
  drift over a long study does not show up as differences between models;
- MCU runtime: the cost model's network latency on the Nano 33 BLE Sense
  (:mod:`tinykws.mcu`), TFLM reference kernels and CMSIS-NN — an estimate.
  Unstructured zeros do not make TFLM's dense kernels faster, and the model
  says so: only removed channels change it.

Results go to ``OUT/prune.json`` after every entry; rerun with the same
settings to resume (only missing models are pruned and fine-tuned again; the
int8 timing pass then covers them all).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
from tqdm import tqdm

from tinykws.atomic import write_bytes, write_json
from tinykws.features.model_input import float_to_int8_input
from tinykws.quant.ptq import quantize_model
from tinykws.errors import TinyKWSError
from tinykws.nn.conv import Conv2D
from tinykws.nn.layers import Dense
from tinykws.nn.model import Sequential
from tinykws.prune.magnitude import apply_masks, l1_unstructured_masks, sparsity
from tinykws.prune.structured import prune_channels
from tinykws.resume import load_partial
from tinykws.train.finetune import FinetuneConfig, finetune
from tinykws.train.metrics import majority_accuracy, paired_test, predict, split_scores

METHODS = ("unstructured", "structured")
UNSTRUCTURED_AMOUNTS = (0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99)
STRUCTURED_AMOUNTS = (0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875)  # 7 .. 1 of 8 filters kept


@dataclass(frozen=True)
class PruneStudySettings:
    methods: tuple[str, ...] = METHODS
    unstructured_amounts: tuple[float, ...] = UNSTRUCTURED_AMOUNTS
    structured_amounts: tuple[float, ...] = STRUCTURED_AMOUNTS
    scope: str = "layer"  # unstructured: per layer or global threshold
    norm: int = 1  # structured: L1 or L2 filter norm
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    calibration: int = 200
    timing_repeats: int = 15  # rounds of the alternating CPU timing of all models

    def __post_init__(self):
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown:
            raise TinyKWSError(f"unknown pruning method {', '.join(unknown)}; choose "
                               f"unstructured or structured")
        for a in (*self.unstructured_amounts, *self.structured_amounts):
            if not 0.0 <= a < 1.0:
                raise TinyKWSError(f"sparsity {a} is out of range: amounts are fractions in [0, 1)")
        if self.scope not in ("layer", "global"):
            raise TinyKWSError(f"scope must be layer or global, not {self.scope!r}")
        if self.norm not in (1, 2):
            raise TinyKWSError(f"norm must be 1 or 2, not {self.norm}")


def channels_kept(conv_channels: int, amount: float) -> int:
    """Filters left after removing the fraction ``amount`` (at least one)."""
    return max(1, conv_channels - int(round(amount * conv_channels)))


def run_prune_study(run: str | Path, out: str | Path, settings: PruneStudySettings = PruneStudySettings(),
                    data: str | None = None, resplit_salt: str | None = None,
                    real: str | None = None, progress: bool = True) -> dict:
    """Run (or resume) the study for a training run; returns what ``prune.json`` holds."""
    from tinykws.train.evaluate import calibration_set, open_run, real_test_set

    out = Path(out)
    model, meta, pipeline = open_run(run, data, resplit_salt)
    wanted = {"run": str(run), "data": meta["data_dir"], "resplit_salt": meta["resplit_salt"],
              "real": real, **asdict(settings)}
    result = load_partial(out / "prune.json", wanted, {"unstructured": {}, "structured": {}})
    x_cal = calibration_set(pipeline, settings.calibration)
    splits = {"validation": pipeline.split_arrays("validation"),
              "testing": pipeline.split_arrays("testing")}
    if real is not None:
        splits["real"] = real_test_set(real, meta["labels"])
    ctx = _Context(x_cal, splits, out / "models", meta["labels"], pipeline.class_shares)

    def save():
        write_json(out / "prune.json", result)

    result["majority"] = {f"{split}_accuracy": majority_accuracy(y) for split, (_, y) in splits.items()}
    if "baseline" not in result:
        result["baseline"] = measure(model, ctx, "unpruned")
        save()
    jobs = {}  # (method, key) -> a function making that entry; keys as in prune.json
    if "unstructured" in settings.methods:
        for amount in settings.unstructured_amounts:
            for tuned in (False, True):
                jobs["unstructured", f"{amount:g}/{_kind(tuned)}"] = partial(
                    _unstructured, model, pipeline, amount, tuned, settings, ctx, progress)
    if "structured" in settings.methods:
        conv = next(l for l in model.layers if isinstance(l, Conv2D))
        for amount in settings.structured_amounts:
            keep = channels_kept(conv.out_channels, amount)
            for tuned in (False, True):
                jobs["structured", f"{keep}/{_kind(tuned)}"] = partial(
                    _structured, model, pipeline, keep, amount, tuned, settings, ctx, progress)
    todo = [(method, key, make) for (method, key), make in jobs.items() if key not in result[method]]
    for method, key, make in tqdm(todo, desc="pruned models", unit="model", disable=not progress):
        result[method][key] = make()
        save()
    if todo or "cpu_int8_us" not in result["baseline"]:
        time_int8_models(result, out, settings.timing_repeats)
    result["paired"] = {
        method: {key: {split: paired_test(e, result["baseline"], f"int8_{split}", y)
                       for split, (_, y) in splits.items()} for key, e in result[method].items()}
        for method in ("unstructured", "structured")}
    result["complete"] = True
    save()
    return result


def _kind(tuned: bool) -> str:
    return "finetuned" if tuned else "pruned"


def _structured(model, pipeline, keep, amount, tuned, settings, ctx, progress) -> dict:
    small = prune_channels(model, keep, settings.norm)
    entry = {"channels": keep, "amount": amount, "finetuned": tuned}
    if tuned:
        entry["finetune"] = _tune(small, pipeline, settings, None, progress, f"structured {keep} ch")
    return {**entry, **measure(small, ctx, f"structured-{keep}ch-{_kind(tuned)}")}


def _unstructured(model, pipeline, amount, tuned, settings, ctx, progress) -> dict:
    from tinykws.nn.model import from_spec

    pruned = from_spec(model.spec())
    pruned.load_parameters(model.parameters())
    masks = l1_unstructured_masks(pruned, amount, settings.scope)
    apply_masks(pruned, masks)
    entry = {"amount": amount, "finetuned": tuned}
    if tuned:
        entry["finetune"] = _tune(pruned, pipeline, settings, masks, progress, f"unstructured {amount:g}")
    entry["sparsity"] = sparsity(pruned)
    return {**entry, **measure(pruned, ctx, f"unstructured-{amount:g}-{_kind(tuned)}")}


def _tune(model, pipeline, settings, masks, progress, desc) -> dict:
    start = time.perf_counter()
    after = (lambda m: apply_masks(m, masks)) if masks is not None else None
    r = finetune(model, pipeline, settings.finetune, after_step=after, progress=progress, desc=desc)
    return {"best_step": r["best_step"], "val_balanced_accuracy": r["val_balanced_accuracy"],
            "seconds": time.perf_counter() - start}


@dataclass
class _Context:
    """What every measurement needs: calibration clips, scored splits, where models go."""

    x_cal: np.ndarray
    splits: dict
    models: Path  # OUT/models: every measured model's .tflite
    labels: list  # the model's labels, for the reports
    shares: tuple  # TF's (silence %, unknown %), for the reports


def zero_skipping_flops(model: Sequential) -> int:
    """FLOPs of a kernel that skips zero weights: 2 per nonzero-weight MAC + 1 per biased output.

    A conv weight is used once per output position (border taps that fall in
    the padding are counted too: an upper bound, as TFLM's skipped taps are).
    """
    from tinykws.size import layer_sizes

    total = 0
    for layer, size in zip(model.layers, layer_sizes(model)):
        if isinstance(layer, (Conv2D, Dense)):
            nonzero = int(np.count_nonzero(layer.params["weight"]))
            outputs = int(np.prod(size.output_shape))
            positions = outputs // (layer.out_channels if isinstance(layer, Conv2D) else layer.out_features)
            total += 2 * nonzero * positions + outputs
    return total


def measure(model: Sequential, ctx: _Context, name: str) -> dict:
    """Size, accuracy (float and int8), float CPU and MCU runtime of one (pruned) model.

    Its int8 model is written to ``OUT/models/<name>.tflite``; the int8 CPU
    latencies come later, from :func:`time_int8_models`.
    """
    from tinykws.int8.runtime import Int8Runtime
    from tinykws.size import float_latency_seconds, layer_sizes
    from tinykws.tflite.interpreters import check_against_tflm
    from tinykws.tflite.reader import parse_tflite
    from tinykws.tflite.writer import serialize_tflite

    sizes = layer_sizes(model)
    blob = serialize_tflite(quantize_model(model, ctx.x_cal))
    write_bytes(ctx.models / f"{name}.tflite", blob)
    graph = parse_tflite(blob, "model.tflite")
    runtime = Int8Runtime(graph)
    entry = {
        "params": sum(s.params for s in sizes),
        "nonzero_params": sum(s.nonzero_params for s in sizes),
        "flops": sum(s.flops for s in sizes),
        "zero_skipping_flops": zero_skipping_flops(model),
        "tflite_bytes": len(blob),
        "tflite": f"{ctx.models.name}/{name}.tflite",
    }
    for split, (x, y) in ctx.splits.items():
        x_int8 = float_to_int8_input(x)  # (N, 49, 40, 1) int8
        scores = runtime.run(x_int8)  # (N, K) int8
        entry.update(split_scores(f"float_{split}", predict(model, x).argmax(1), y, ctx.labels, ctx.shares))
        entry.update(split_scores(f"int8_{split}", scores.astype(np.int32).argmax(1), y, ctx.labels,
                                  ctx.shares))
        if split == "testing":
            entry["tflm"] = check_against_tflm(blob, x_int8, ours=scores)
    entry["cpu_float_us"] = 1e6 * float_latency_seconds(model, 100)
    entry.update(_mcu_ms(graph, len(blob)))
    return entry


def time_int8_models(result: dict, out: Path, rounds: int) -> None:
    """Batch-1 latency of every model's fused int8 path, dense and zero-skipping, into ``result``.

    All models are timed in one alternating comparison (:func:`tinykws.timing.compare`):
    timed one after another, minutes apart, their latencies would also measure
    how the machine drifted in between. Adds ``cpu_int8_us`` (dense),
    ``cpu_int8_sparse_us`` (CSR kernels) and ``cpu_int8_best_us``, the faster
    of the two: what a deployment on this CPU would pick for that model.
    """
    from tinykws.int8.fused import FusedTinyConv
    from tinykws.tflite.reader import parse_tflite
    from tinykws.timing import compare

    entries = [result["baseline"], *result["unstructured"].values(), *result["structured"].values()]
    runs = {}
    for i, e in enumerate(entries):
        path = out / e["tflite"]
        if not path.is_file():
            raise TinyKWSError(f"{path} is missing; remove {out / 'prune.json'} to run the study again")
        graph = parse_tflite(path.read_bytes(), str(path))
        x = np.zeros((1, *graph.tensors[graph.inputs[0]].shape[1:]), np.int8)  # (1, 49, 40, 1)
        for kind, sparse in (("dense", False), ("sparse", True)):
            runs[i, kind] = partial(FusedTinyConv(graph, sparse=sparse).run, x)
    seconds = compare(runs, repeats=rounds, target_s=0.005)
    for i, e in enumerate(entries):
        e["cpu_int8_us"], e["cpu_int8_sparse_us"] = 1e6 * seconds[i, "dense"], 1e6 * seconds[i, "sparse"]
        e["cpu_int8_best_us"] = min(e["cpu_int8_us"], e["cpu_int8_sparse_us"])


def _mcu_ms(graph, model_bytes: int) -> dict:
    """The cost model's network latency (ms) on the Nano 33 BLE Sense for both kernel libraries."""
    from tinykws.mcu.estimate import estimate_model

    return {f"mcu_{k.replace('-', '_')}_ms": estimate_model(graph, k, model_bytes=model_bytes).network_ms
            for k in ("reference", "cmsis-nn")}
