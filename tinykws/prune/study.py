"""The pruning study: accuracy against parameters, FLOPs, CPU runtime and MCU runtime.

For a trained run of any zoo model, every pruned model — unstructured at
each sparsity, structured at each fraction of removed channels, each without
and with fine-tuning — is measured the same way (:func:`measure`):

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
  drift over a long study does not show up as differences between models.
  The fused path is TinyConv's; any other architecture is timed in the
  op-by-op :class:`~tinykws.int8.runtime.Int8Runtime` (dense kernels only);
- MCU runtime: the cost model's network latency on the Nano 33 BLE Sense
  (:mod:`tinykws.mcu`), TFLM reference kernels and CMSIS-NN — an estimate.
  Unstructured zeros do not make TFLM's dense kernels faster, and the model
  says so: only removed channels change it.

**Unstructured** pruning masks every convolution's (depthwise ones too) and
dense layer's weights (:mod:`tinykws.prune.magnitude`). **Structured**
pruning removes the fraction ``amount`` of the filters of *every* prunable
layer (:func:`tinykws.prune.structured.prunable_layers`: convolutions and
hidden dense layers whose channels are consumed before the logits; a
depthwise convolution's channels go with its producer's). An entry's key is
the channels kept per prunable layer (one number when all keep the same,
``"4"`` for TinyConv at 0.5), and it records them by layer index.
Fine-tuning a model with batch norm keeps its moving statistics with the
best state it restores.

Every pruned model is one job (:mod:`tinykws.jobs`): run one after another, in
local processes or on a Dask cluster, with the same results (but for the
float CPU latency, measured inside the job, on a machine as busy as the
other jobs make it). Results go to ``OUT/prune.json`` after every entry;
rerun with the same settings to resume (only missing models are pruned and fine-tuned again; the
int8 timing pass then covers them all).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
from tinykws.atomic import write_json
from tinykws.features.model_input import float_to_int8_input
from tinykws.quant.ptq import quantize_model
from tinykws.errors import TinyKWSError
from tinykws.jobs import Job, run_jobs, save_outcome, stored
from tinykws.nn.conv import Conv2D
from tinykws.nn.layers import Dense
from tinykws.nn.model import Sequential
from tinykws.prune.magnitude import apply_masks, l1_unstructured_masks, sparsity
from tinykws.prune.structured import output_channels, prunable_layers, prune_channels
from tinykws.resume import load_partial
from tinykws.train.evaluate import Study, StudyInputs
from tinykws.train.finetune import FinetuneConfig, finetune
from tinykws.train.metrics import majority_accuracy, paired_test, predict, split_scores

METHODS = ("unstructured", "structured")
UNSTRUCTURED_AMOUNTS = (0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99)
MODELS = "models"  # OUT/models: every measured model's .tflite
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
                    real: str | None = None, progress: bool = True, runner=None) -> dict:
    """Run (or resume) the study for a training run; returns what ``prune.json`` holds.

    Each pruned model is one job (:mod:`tinykws.jobs`) run by ``runner``
    (default: one after another, here); the unpruned model is measured here,
    and the int8 timing of all models runs here at the end.
    """
    out = Path(out)
    inputs = StudyInputs.absolute(run, data, resplit_salt, real, settings.calibration)
    study = inputs.open_micro("pruning study")
    meta = study.meta
    wanted = {"run": str(run), "data": str(data) if data else meta["data_dir"],  # as given
              "resplit_salt": meta["resplit_salt"],
              "real": real, **asdict(settings)}
    result = load_partial(out / "prune.json", wanted, {"unstructured": {}, "structured": {}})
    splits = study.splits

    jobs = study_jobs(inputs, settings, progress and getattr(runner, "workers", 1) == 1)
    done = partial(save_outcome, result, out / "prune.json", [job.key for job in jobs])
    result["majority"] = {f"{split}_accuracy": majority_accuracy(y) for split, (_, y) in splits.items()}
    if "structured" in settings.methods:  # layer index -> its output channels
        result["prunable_layers"] = {str(i): output_channels(study.model.layers[i])
                                     for i in _prunable(study.model)}
    if "baseline" not in result:
        done(Job(("baseline",), measure), measure(study.model, study, "unpruned"))
    todo = [job for job in jobs if not stored(result, job.key)]
    run_jobs(todo, done, runner, progress=progress, desc="pruned models")
    if todo or "cpu_int8_us" not in result["baseline"]:
        time_int8_models(result, out, settings.timing_repeats)
    result["paired"] = {
        method: {key: {split: paired_test(e, result["baseline"], f"int8_{split}", y)
                       for split, (_, y) in splits.items()} for key, e in result[method].items()}
        for method in ("unstructured", "structured")}
    result["complete"] = True
    write_json(out / "prune.json", result)
    return result


def study_jobs(inputs: StudyInputs, settings: PruneStudySettings, progress: bool) -> list[Job]:
    """Every pruned model as a job, keyed ``(method, "amount-or-channels/kind")`` as in ``prune.json``.

    ``progress`` shows the fine-tuning steps (in a serial run only).
    """
    jobs = []
    if "unstructured" in settings.methods:
        jobs += [Job(("unstructured", f"{amount:g}/{_kind(tuned)}"), _unstructured,
                     (inputs, amount, tuned, settings, progress))
                 for amount in settings.unstructured_amounts for tuned in (False, True)]
    model = inputs.open().model
    layers = _prunable(model) if "structured" in settings.methods else []
    for amount in settings.structured_amounts if layers else ():
        keeps = {i: channels_kept(output_channels(model.layers[i]), amount) for i in layers}
        jobs += [Job(("structured", f"{kept_label(keeps, ',')}/{_kind(tuned)}"), _structured,
                     (inputs, keeps, amount, tuned, settings, progress)) for tuned in (False, True)]
    return jobs


def kept_label(keeps: dict[int, int], sep: str) -> str:
    """The channels kept per prunable layer: one number when all keep the same, else all, by ``sep``."""
    counts = list(keeps.values())
    return str(counts[0]) if len(set(counts)) == 1 else sep.join(map(str, counts))


def _prunable(model: Sequential) -> list[int]:
    """The model's prunable layers; a layer channel pruning cannot follow is a one-line error."""
    try:
        return prunable_layers(model)
    except ValueError as exc:
        raise TinyKWSError(f"structured pruning: {exc}") from None


def _kind(tuned: bool) -> str:
    return "finetuned" if tuned else "pruned"


def _structured(inputs: StudyInputs, keeps: dict[int, int], amount, tuned, settings,
                progress) -> tuple[dict, dict]:
    """The job of one channel-pruned model: ``(entry, {"models/NAME.tflite": bytes})``.

    ``keeps``: filters kept per prunable layer, ``{layer index: count}``.
    """
    study = inputs.open()
    small = prune_channels(study.model, keeps, settings.norm)
    name = kept_label(keeps, "-")
    counts = list(keeps.values())
    entry = {"channels": counts[0] if len(set(counts)) == 1 else counts,
             "kept": {str(i): k for i, k in keeps.items()}, "amount": amount, "finetuned": tuned}
    if tuned:
        entry["finetune"] = _tune(small, study.pipeline, settings, None, progress, f"structured {name} ch")
    measured, files = measure(small, study, f"structured-{name}ch-{_kind(tuned)}")
    return {**entry, **measured}, files


def _unstructured(inputs: StudyInputs, amount, tuned, settings, progress) -> tuple[dict, dict]:
    """The job of one magnitude-pruned model: ``(entry, {"models/NAME.tflite": bytes})``."""
    study = inputs.open()
    pruned = study.model.copy()  # batch norm's statistics too
    masks = l1_unstructured_masks(pruned, amount, settings.scope)
    apply_masks(pruned, masks)
    entry = {"amount": amount, "finetuned": tuned}
    if tuned:
        entry["finetune"] = _tune(pruned, study.pipeline, settings, masks, progress, f"unstructured {amount:g}")
    entry["sparsity"] = sparsity(pruned)
    measured, files = measure(pruned, study, f"unstructured-{amount:g}-{_kind(tuned)}")
    return {**entry, **measured}, files


def _tune(model, pipeline, settings, masks, progress, desc) -> dict:
    start = time.perf_counter()
    after = (lambda m: apply_masks(m, masks)) if masks is not None else None
    r = finetune(model, pipeline, settings.finetune, after_step=after, snapshot=_snapshot,
                 restore=_restore, progress=progress, desc=desc)
    return {"best_step": r["best_step"], "val_balanced_accuracy": r["val_balanced_accuracy"],
            "seconds": time.perf_counter() - start}


def _snapshot(model: Sequential) -> dict:
    """Parameters and every layer's ``state`` (batch norm's moving statistics, which training moves)."""
    return {"params": {k: v.copy() for k, v in model.parameters().items()},
            "states": [{k: v.copy() for k, v in getattr(l, "state", {}).items()} for l in model.layers]}


def _restore(model: Sequential, saved: dict) -> None:
    model.load_parameters(saved["params"])
    for layer, state in zip(model.layers, saved["states"]):
        for k, v in state.items():
            layer.state[k][...] = v


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


def measure(model: Sequential, study: Study, name: str) -> tuple[dict, dict]:
    """Size, accuracy (float and int8), float CPU and MCU runtime of one (pruned) model.

    Returns the entry and its int8 model as ``{"models/<name>.tflite": bytes}``,
    for the study to write; the int8 CPU latencies come later, from
    :func:`time_int8_models`.
    """
    from tinykws.int8.runtime import Int8Runtime
    from tinykws.size import float_latency_seconds, layer_sizes
    from tinykws.tflite.interpreters import check_against_tflm
    from tinykws.tflite.reader import parse_tflite
    from tinykws.tflite.writer import serialize_tflite

    sizes = layer_sizes(model)
    blob = serialize_tflite(quantize_model(model, study.x_cal))
    graph = parse_tflite(blob, "model.tflite")
    runtime = Int8Runtime(graph)
    entry = {
        "params": sum(s.params for s in sizes),
        "nonzero_params": sum(s.nonzero_params for s in sizes),
        "flops": sum(s.flops for s in sizes),
        "zero_skipping_flops": zero_skipping_flops(model),
        "tflite_bytes": len(blob),
        "tflite": f"{MODELS}/{name}.tflite",
    }
    labels, shares = study.meta["labels"], study.pipeline.class_shares
    for split, (x, y) in study.splits.items():
        x_int8 = float_to_int8_input(x)  # (N, 49, 40, 1) int8
        scores = runtime.run_clip(x_int8)  # (N, K) int8; a streaming model frame by frame
        entry.update(split_scores(f"float_{split}", predict(model, x).argmax(1), y, labels, shares))
        entry.update(split_scores(f"int8_{split}", scores.astype(np.int32).argmax(1), y, labels, shares))
        if split == "testing":
            entry["tflm"] = check_against_tflm(blob, x_int8, ours=scores)
    entry["cpu_float_us"] = 1e6 * float_latency_seconds(model, 100)
    entry.update(mcu_ms(graph, len(blob)))
    return entry, {entry["tflite"]: blob}


def time_int8_models(result: dict, out: Path, rounds: int) -> None:
    """Batch-1 latency of every model's fused int8 path, dense and zero-skipping, into ``result``.

    All models are timed in one alternating comparison (:func:`tinykws.timing.compare`):
    timed one after another, minutes apart, their latencies would also measure
    how the machine drifted in between. Adds ``cpu_int8_us`` (dense),
    ``cpu_int8_sparse_us`` (CSR kernels) and ``cpu_int8_best_us``, the faster
    of the two: what a deployment on this CPU would pick for that model. A
    graph the fused path does not take (any architecture but TinyConv's) is
    timed in :class:`~tinykws.int8.runtime.Int8Runtime`, dense only: its
    ``cpu_int8_sparse_us`` is None.
    """
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
        for kind, run in _int8_paths(graph).items():
            runs[i, kind] = partial(run, x)
    seconds = compare(runs, repeats=rounds, target_s=0.005)
    for i, e in enumerate(entries):
        e["cpu_int8_us"] = 1e6 * seconds[i, "dense"]
        e["cpu_int8_sparse_us"] = 1e6 * seconds[i, "sparse"] if (i, "sparse") in seconds else None
        e["cpu_int8_best_us"] = min(t for t in (e["cpu_int8_us"], e["cpu_int8_sparse_us"]) if t is not None)


def _int8_paths(graph) -> dict:
    """``{"dense": run, "sparse": run}`` of the fused TinyConv path, or ``{"dense": run}`` of the
    op-by-op runtime for a graph of another shape."""
    from tinykws.int8.fused import FusedTinyConv
    from tinykws.int8.runtime import Int8Runtime

    try:
        return {"dense": FusedTinyConv(graph).run, "sparse": FusedTinyConv(graph, sparse=True).run}
    except TinyKWSError:  # not TinyConv-shaped
        return {"dense": Int8Runtime(graph).run}


def mcu_ms(graph, model_bytes: int) -> dict:
    """The cost model's network latency (ms) on the Nano 33 BLE Sense for both kernel libraries."""
    from tinykws.mcu.estimate import estimate_model

    return {f"mcu_{k.replace('-', '_')}_ms": estimate_model(graph, k, model_bytes=model_bytes).network_ms
            for k in ("reference", "cmsis-nn")}
