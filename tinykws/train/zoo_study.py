"""The zoo table: every model trained and measured side by side, on the same data.

For each model of :data:`tinykws.nn.zoo.MODELS` asked for, ``OUT/<model>/``
is a speaker-disjoint cross-validation (:func:`cross_validate`, so a killed
study resumes where it stopped), and then, on fold 0's model:

- accuracy: pooled balanced accuracy and per-class recall, float and int8,
  with false accepts (every number with its 95 % interval, from ``cv.json``);
- size: parameters and MACs per inference (:mod:`tinykws.size`);
- device: the ``.tflite`` bytes our writer emits, tflite-micro's arena
  (measured by tflite-micro itself when installed), and the estimated
  Cortex-M4 time (:mod:`tinykws.mcu`, reference kernels and CMSIS-NN);
- CPU: our int8 runtime's median time for one clip, batch 1;
- tflite-micro: every fold's int8 model run in tflite-micro on every clip
  that fold scores (all test clips, pooled), each output byte compared with
  our runtime's, which is what the int8 accuracy counts (kept in
  ``OUT/<model>/tflm.json``, so a rerun does not repeat it).

The table (``zoo.md``, ``zoo.json``) lists them in one place, like Arm's
ML-Zoo but measured in one run on one data set, and ``zoo_pareto.png`` plots
int8 balanced accuracy against estimated MCU time with the Pareto front (the
models no other model beats on both).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from tinykws.atomic import write_json, write_text
from tinykws.nn.zoo import MODELS
from tinykws.train.loop import TrainConfig


def zoo_study(spec, out: str | Path, config: TrainConfig, models=tuple(MODELS), *,
              progress: bool = True, int8: bool = True, runner=None) -> dict:
    """Cross-validate and measure each model; write zoo.json, zoo.md and zoo_pareto.png."""
    from tinykws.train.cross_validation import cross_validate

    out = Path(out)
    rows = {}
    for name in models:
        if progress:
            print(f"[zoo] {name}", flush=True)
        result = cross_validate(spec, out / name, replace(config, model=name), int8=int8,
                                progress=progress, runner=runner)
        rows[name] = {**_accuracy(result), **measure(out / name / "fold-0"),
                      "tflm": tflm_agreement(out / name, spec.folds) if int8 else None}
    table = {"data": spec.data, "words": list(spec.words), "folds": spec.folds,
             "steps": config.steps, "features": config.features.describe(), "models": rows}
    write_json(out / "zoo.json", table)
    write_text(out / "zoo.md", format_table(table))
    from tinykws.plots.zoo import save_pareto

    save_pareto(table, out / "zoo_pareto.png")
    return table


def _accuracy(result: dict) -> dict:
    pooled = result["pooled"]
    row = {}
    for kind in ("float", "int8"):
        if kind in pooled:
            r = pooled[kind]
            row[kind] = {"balanced_accuracy": r["balanced_accuracy"],
                         "false_accepts": r.get("false_accepts"),
                         "recall": {k: v["recall"] for k, v in r["per_class"].items()}}
    return row


def measure(run: Path, repeats: int = 50) -> dict:
    """Size, ``.tflite`` bytes, tflite-micro arena, MCU estimate and CPU time of a run's model."""
    from tinykws.int8.runtime import Int8Runtime
    from tinykws.mcu.estimate import estimate_model
    from tinykws.size import size_report
    from tinykws.timing import median_call_seconds
    from tinykws.tflite.interpreters import tflm_arena_bytes
    from tinykws.tflite.reader import parse_tflite
    from tinykws.tflite.writer import serialize_tflite
    from tinykws.train.cross_validation import int8_graph
    from tinykws.train.evaluate import open_run

    model, _, pipeline = open_run(run)
    size = size_report(model, measure_latency=False)
    blob = serialize_tflite(int8_graph(model, pipeline))  # the model cv.json's int8 numbers score
    graph = parse_tflite(blob)
    runtime = Int8Runtime(graph)
    x = np.full((1, *graph.tensors[graph.inputs[0]].shape[1:]), -128, np.int8)  # silence
    cpu_s = median_call_seconds(lambda: runtime.run(x), repeats, warmup=1)  # the first compiles
    arena = tflm_arena_bytes(blob)
    mcu = {kernels: estimate_model(graph, kernels, model_bytes=len(blob)).network_ms
           for kernels in ("reference", "cmsis-nn")}
    return {"params": size["params"], "macs": size["macs"], "tflite_bytes": len(blob),
            "tflm_arena_bytes": None if arena is None else arena["total"],
            "mcu_ms": mcu, "cpu_us": 1e6 * cpu_s}


def tflm_agreement(cv_dir: Path, folds: int) -> dict | None:
    """Every fold's int8 model in tflite-micro on all its test clips against our runtime.

    ``{"examples", "bit_exact", "mismatches"}`` summed over the folds, or None
    without tflite-micro. Computed once: ``cv_dir/tflm.json`` keeps it with the
    size and time of every fold's ``model.npz``, so a retrained fold is checked anew.
    """
    from tinykws.tflite.interpreters import check_against_tflm
    from tinykws.tflite.writer import serialize_tflite
    from tinykws.train.cross_validation import int8_graph
    from tinykws.train.evaluate import int8_model_input, open_run

    stored = cv_dir / "tflm.json"
    models = [[st.st_mtime_ns, st.st_size]
              for st in ((cv_dir / f"fold-{k}" / "model.npz").stat() for k in range(folds))]
    if stored.is_file():
        kept = json.loads(stored.read_text())
        if kept.pop("models", None) == models:
            return kept
    total = {"examples": 0, "mismatches": 0}
    for k in range(folds):
        model, _, pipeline = open_run(cv_dir / f"fold-{k}")
        x, _ = pipeline.split_arrays("testing")  # (N, frames, width, 1): the clips cv.json scores
        graph = int8_graph(model, pipeline)
        check = check_against_tflm(serialize_tflite(graph), int8_model_input(graph, pipeline.spec, x))
        if check is None:
            return None
        total = {key: total[key] + check[key] for key in total}
    total["bit_exact"] = total["mismatches"] == 0
    write_json(stored, {**total, "models": models})
    return total


def format_table(table: dict) -> str:
    """``zoo.md``: one row per model."""
    def pct(p):
        return "–" if p is None else f"{100 * p['value']:.1f} % [{100 * p['low']:.1f}, {100 * p['high']:.1f}]"

    lines = [f"# Zoo: {', '.join(table['words'])} on `{table['data']}`", "",
             f"Speaker-disjoint {table['folds']}-fold cross-validation, {table['steps']} steps per "
             f"fold, {table.get('features', 'micro 30/20 ms, 40 bins, 16000 Hz, 1000 ms')} features; balanced accuracy and false accepts pooled over every clip (95 % intervals); "
             "size and device numbers of fold 0's model; MCU time estimated for a 64 MHz "
             "Cortex-M4 (reference kernels / CMSIS-NN); CPU time of our int8 runtime, one clip "
             "(for a streaming model, low_latency_svdf, both are one invocation: its cost per "
             "new 20 ms frame, as a whole-clip model pays one clip per step on the device); "
             "tflite-micro: every fold's int8 model on every scored clip, outputs compared "
             "byte for byte with ours.", "",
             "| model | balanced (float) | balanced (int8) | false accepts (int8) | params | MACs | "
             ".tflite bytes | arena bytes | MCU ms (ref / CMSIS-NN) | CPU µs | tflite-micro |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for name, r in table["models"].items():
        i8 = r.get("int8", {})
        arena = "–" if r["tflm_arena_bytes"] is None else f"{r['tflm_arena_bytes']:,}"
        lines.append(
            f"| {name} | {pct(r['float']['balanced_accuracy'])} | {pct(i8.get('balanced_accuracy'))} "
            f"| {pct(i8.get('false_accepts'))} | {r['params']:,} | {r['macs']:,} | "
            f"{r['tflite_bytes']:,} | {arena} | {r['mcu_ms']['reference']:.1f} / "
            f"{r['mcu_ms']['cmsis-nn']:.1f} | {r['cpu_us']:.0f} | {_tflm_cell(r.get('tflm'))} |")
    lines += ["", "Recall per class (int8, pooled):", ""]
    for name, r in table["models"].items():
        recall = r.get("int8", r["float"])["recall"]
        lines.append(f"- {name}: " + ", ".join(f"`{k}` {100 * v['value']:.1f} %" for k, v in recall.items()))
    return "\n".join(lines) + "\n"


def _tflm_cell(check: dict | None) -> str:
    if check is None:
        return "not checked"
    if check["bit_exact"]:
        return f"bit-exact on {check['examples']:,} clips"
    return f"**{check['mismatches']} of {check['examples']:,} differ**"
