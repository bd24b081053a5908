"""Cross-validation plots: per-class recall with intervals, pooled and per fold."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from tinykws.atomic import save_figure


def save_cv_recall(result: dict, path: str | Path) -> Path:
    """Bars: pooled recall per class (keywords first) with 95 % intervals; dots: each fold.

    The last two groups are balanced accuracy and the false-accept rate.
    """
    kinds = list(result["pooled"])
    first = result["pooled"][kinds[0]]
    names = [*first["per_class"], "balanced accuracy", "false accepts"]

    def entries(report: dict) -> list[dict]:
        return [*(report["per_class"][c]["recall"] for c in first["per_class"]),
                report["balanced_accuracy"], report["false_accepts"]]

    fig, ax = plt.subplots(figsize=(1.2 * len(names) + 2, 4))
    width = 0.8 / len(kinds)
    x = np.arange(len(names))
    for j, kind in enumerate(kinds):
        values = entries(result["pooled"][kind])
        v = np.array([e["value"] for e in values])
        err = np.array([[e["value"] - e["low"] for e in values], [e["high"] - e["value"] for e in values]])
        err = np.maximum(np.nan_to_num(err), 0.0)  # a class never predicted has no interval
        ax.bar(x + j * width, v, width, yerr=err, capsize=3, label=f"{kind}, pooled (95 % interval)")
        for k in sorted(result["fold_reports"], key=int):
            fold = [e["value"] for e in entries(result["fold_reports"][k][kind])]
            ax.plot(x + j * width, fold, "k.", ms=4, label="one fold" if (j, k) == (0, "0") else None)
    ax.set_xticks(x + width * (len(kinds) - 1) / 2, names, rotation=30, ha="right")
    ax.set(ylim=(0, 1.05), ylabel="recall / rate",
           title=f"Speaker-disjoint {len(result['fold_reports'])}-fold cross-validation, "
                 f"{first['examples']} clips")
    ax.axhline(0.9, color="grey", lw=0.8, ls="--")
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    return save_figure(path, fig)


def save_operating_curve(operating: dict, path: str | Path) -> Path:
    """Each keyword's recall against the false-accept rate as the ``_unknown_`` bias moves,
    with the calibrated models' pooled points (bias chosen per fold on validation speakers)."""
    curve = operating["curve"]
    keywords = list(curve[0]["recall"])
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    fa = np.array([p["false_accepts"] for p in curve])
    for word in keywords:
        ax.plot(fa, [p["recall"][word] for p in curve], marker=".", ms=3, label=f"recall '{word}'")
    for kind, report in operating["pooled"].items():
        x = report["false_accepts"]["value"]
        for word in keywords:
            ax.plot([x], [report["per_class"][word]["recall"]["value"]], "k^" if kind == "int8" else "ks",
                    ms=6, mfc="none", label=f"calibrated, {kind}" if word == keywords[0] else None)
    target = operating["false_accept_target"]
    ax.axvline(target, color="grey", lw=0.8, ls="--", label=f"target {target:.0%} false accepts")
    ax.axhline(0.9, color="grey", lw=0.8, ls=":")
    ax.set(xlabel="false accepts (share of non-keyword clips labelled a keyword)",
           ylabel="keyword recall", xlim=(0, max(0.5, 2 * target)), ylim=(0, 1.02),
           title="Operating curve: the _unknown_ bias swept (pooled test folds)")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return save_figure(path, fig)
