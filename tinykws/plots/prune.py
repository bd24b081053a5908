"""Plots of the pruning study: int8 balanced test accuracy against what pruning saves.

A hollow marker is a model within noise of the unpruned one (a paired
bootstrap of balanced accuracy on the same clips); answering one label always
sits at ``1 / K``.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from tinykws.atomic import save_figure

# (x key for unstructured, x key for structured, axis label, file name)
AXES = (
    ("nonzero_params", "nonzero_params", "nonzero parameters", "prune_params.png"),
    ("zero_skipping_flops", "flops", "FLOPs (unstructured: on nonzero weights only)", "prune_flops.png"),
    ("cpu_int8_best_us", "cpu_int8_best_us",
     "CPU int8 latency, batch 1 (us, median; the faster of dense and zero-skipping kernels)",
     "prune_cpu.png"),
    ("mcu_reference_ms", "mcu_reference_ms",
     "estimated MCU network latency, Nano 33 BLE, TFLM reference kernels (ms)", "prune_mcu.png"),
)

_STYLE = {("unstructured", False): ("tab:blue", "o", "--"), ("unstructured", True): ("tab:blue", "o", "-"),
          ("structured", False): ("tab:orange", "s", "--"), ("structured", True): ("tab:orange", "s", "-")}


def _series(result: dict, method: str, tuned: bool, key: str, acc_key: str):
    paired = result.get("paired", {}).get(method, {})
    entries = [(e, paired.get(k, {}).get("testing")) for k, e in (result.get(method) or {}).items()
               if e["finetuned"] == tuned and key in e]
    entries.sort(key=lambda pair: pair[0][key])
    noise = [bool(t) and not t["significant"] for _, t in entries]
    return [e[key] for e, _ in entries], [e[acc_key] for e, _ in entries], noise


def save_prune_plot(result: dict, unstructured_key: str, structured_key: str, label: str,
                    path: str | Path, acc_key: str = "int8_testing_balanced_accuracy") -> Path:
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for (method, tuned), (color, marker, style) in _STYLE.items():
        key = unstructured_key if method == "unstructured" else structured_key
        xs, ys, noise = _series(result, method, tuned, key, acc_key)
        if xs:
            ax.plot(xs, ys, style, color=color, label=f"{method}, {'fine-tuned' if tuned else 'no fine-tuning'}")
            ax.scatter(xs, ys, marker=marker, s=16, color=color, zorder=3,
                       facecolors=["none" if n else color for n in noise])
    labels = (result.get("baseline") or {}).get("int8_testing_report", {}).get("labels")
    if labels:
        ax.axhline(1 / len(labels), color="tab:red", ls="--", lw=0.8, label="always one label")
    base = result.get("baseline") or {}
    if unstructured_key in base:
        ax.plot([base[unstructured_key]], [base[acc_key]], "k*", ms=10, label="unpruned")
    ax.set(xlabel=label, ylabel="int8 balanced test accuracy (hollow: within noise)", ylim=(0, 1.02))
    if unstructured_key in ("nonzero_params", "zero_skipping_flops"):
        ax.set_xscale("log")
    # Outside the axes: the unstructured models all sit at one MCU time, a vertical line.
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return save_figure(path, fig)


def save_prune_plots(result: dict, out: str | Path) -> list[Path]:
    out = Path(out)
    return [save_prune_plot(result, u, s, label, out / name) for u, s, label, name in AXES
            if u in (result.get("baseline") or {})]
