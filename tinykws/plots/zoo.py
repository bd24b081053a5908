"""The zoo's Pareto plot: int8 balanced accuracy against estimated MCU time."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from tinykws.atomic import save_figure


def pareto_front(points: dict[str, tuple[float, float]]) -> list[str]:
    """Names of the points no other point beats on both (lower time, higher accuracy)."""
    return [n for n, (t, a) in points.items()
            if not any((t2 <= t and a2 >= a) and (t2, a2) != (t, a) for t2, a2 in points.values())]


def save_pareto(table: dict, path: str | Path) -> Path:
    points = {}
    for name, r in table["models"].items():
        acc = r.get("int8", r["float"])["balanced_accuracy"]["value"]
        points[name] = (r["mcu_ms"]["cmsis-nn"], 100 * acc)
    front = pareto_front(points)
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for name, (t, a) in points.items():
        ax.plot(t, a, "o", color="C3" if name in front else "C0", ms=7)
        ax.annotate(name, (t, a), textcoords="offset points", xytext=(5, 4), fontsize=8)
    line = sorted(points[n] for n in front)
    ax.plot([t for t, _ in line], [a for _, a in line], "--", color="C3", lw=1, label="Pareto front")
    ax.set_xscale("log")
    ax.set_xlabel("estimated time per inference on a 64 MHz Cortex-M4, CMSIS-NN (ms, log)")
    ax.set_ylabel("balanced accuracy, int8, cross-validated (%)")
    ax.set_title(f"Zoo on {', '.join(table['words'])}, {table['folds']} folds", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(path, fig)
