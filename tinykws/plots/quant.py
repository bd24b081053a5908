"""Plots of the quantization study: balanced accuracy against bit width.

Balanced accuracy (mean per-class recall) is drawn, so answering one label
always sits at ``1 / K`` whatever the class shares. A hollow marker is a model
within noise of its reference (PTQ: the float model; QAT: PTQ at the same
width), by a class-stratified paired bootstrap of balanced accuracy on the same clips.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from tinykws.atomic import save_figure

_SPLITS = (("testing", "test split", "-"), ("real", "real speech", ":"))
_REFERENCE = {"ptq": "ptq_vs_float", "qat": "qat_vs_ptq"}


def _float_lines(ax, result: dict) -> None:
    for split, name, style in _SPLITS:
        key = f"{split}_balanced_accuracy"
        if key in result["float"]:
            ax.axhline(result["float"][key], color="gray", ls=style, lw=1, label=f"float, {name}")
    labels = result["float"].get("testing_report", {}).get("labels")
    if labels:
        ax.axhline(1 / len(labels), color="tab:red", ls="--", lw=0.8, label="always one label")


def _within_noise(result: dict, mode: str, bits: str, split: str) -> bool:
    test = result.get("paired", {}).get(bits, {}).get(split, {}).get(_REFERENCE.get(mode, ""))
    return bool(test) and not test["significant"]


def _curves(ax, result: dict, mode: str, color: str) -> None:
    entries = result.get(mode) or {}
    bits = sorted(entries, key=int)
    for split, name, style in _SPLITS:
        key = f"{split}_balanced_accuracy"
        if bits and key in entries[bits[0]]:
            xs, ys = [int(b) for b in bits], [entries[b][key] for b in bits]
            ax.plot(xs, ys, style, color=color, label=f"{mode.upper()}, {name}")
            noise = [_within_noise(result, mode, b, split) for b in bits]
            ax.scatter(xs, ys, marker="o", color=color, zorder=3,
                       facecolors=["none" if n else color for n in noise])


def save_bits_curves(result: dict, modes: tuple[str, ...], path: str | Path) -> Path:
    """Integer-model accuracy against bit width for the given modes (ptq, qat), float for reference."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for mode, color in zip(modes, ("tab:blue", "tab:orange")):
        _curves(ax, result, mode, color)
    _float_lines(ax, result)
    ax.set(xlabel="bits (weights and activations; input 8)", ylabel="balanced accuracy",
           title=" vs ".join(m.upper() for m in modes) + ": integer model (hollow: within noise)",
           ylim=(0, 1.02))
    ax.legend(fontsize=8, loc="lower right")
    return save_figure(path, fig)


def save_minifloat(result: dict, path: str | Path) -> Path:
    """Fake-quantized accuracy of each ExMy format against its total bits."""
    entries = result.get("minifloat") or {}
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for key, name, marker in (("testing_balanced_accuracy", "test split", "o"),
                              ("real_balanced_accuracy", "real speech", "s")):
        points = [(v["bits"], v[key], f) for f, v in entries.items() if key in v]
        if points:
            ax.scatter([p[0] for p in points], [p[1] for p in points], marker=marker, label=name)
            for bits, acc, fmt in points:
                ax.annotate(fmt, (bits, acc), fontsize=7, xytext=(3, 3), textcoords="offset points")
    _float_lines(ax, result)
    ax.set(xlabel="total bits (sign + exponent + mantissa)", ylabel="balanced accuracy",
           title="Minifloat (ExMy) post-training fake quantization", ylim=(0, 1.02))
    ax.legend(fontsize=8, loc="lower right")
    return save_figure(path, fig)


def save_quant_plots(result: dict, out: str | Path) -> list[Path]:
    out = Path(out)
    paths = []
    if result.get("ptq"):
        paths.append(save_bits_curves(result, ("ptq",), out / "ptq.png"))
    if result.get("qat"):
        paths.append(save_bits_curves(result, ("qat",), out / "qat.png"))
    if result.get("ptq") and result.get("qat"):
        paths.append(save_bits_curves(result, ("ptq", "qat"), out / "ptq_vs_qat.png"))
    if result.get("minifloat"):
        paths.append(save_minifloat(result, out / "minifloat.png"))
    return paths
