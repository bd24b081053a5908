"""Plots of the pruning study: int8 test accuracy against what pruning saves."""

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
    entries = [e for e in (result.get(method) or {}).values() if e["finetuned"] == tuned and key in e]
    entries.sort(key=lambda e: e[key])
    return [e[key] for e in entries], [e[acc_key] for e in entries]


def save_prune_plot(result: dict, unstructured_key: str, structured_key: str, label: str,
                    path: str | Path, acc_key: str = "int8_testing_accuracy") -> Path:
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for (method, tuned), (color, marker, style) in _STYLE.items():
        key = unstructured_key if method == "unstructured" else structured_key
        xs, ys = _series(result, method, tuned, key, acc_key)
        if xs:
            ax.plot(xs, ys, style, color=color, marker=marker, ms=4,
                    label=f"{method}, {'fine-tuned' if tuned else 'no fine-tuning'}")
    floor = (result.get("majority") or {}).get("testing_accuracy")
    if floor is not None:
        ax.axhline(floor, color="tab:red", ls="--", lw=0.8, label="most common label, test split")
    base = result.get("baseline") or {}
    if unstructured_key in base:
        ax.plot([base[unstructured_key]], [base[acc_key]], "k*", ms=10, label="unpruned")
    ax.set(xlabel=label, ylabel="int8 test accuracy", ylim=(0, 1.02))
    if unstructured_key in ("nonzero_params", "zero_skipping_flops"):
        ax.set_xscale("log")
    # Outside the axes: the unstructured models all sit at one MCU time, a vertical line.
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return save_figure(path, fig)


def save_prune_plots(result: dict, out: str | Path) -> list[Path]:
    out = Path(out)
    return [save_prune_plot(result, u, s, label, out / name) for u, s, label, name in AXES
            if u in (result.get("baseline") or {})]
