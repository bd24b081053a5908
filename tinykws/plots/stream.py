"""The DET plot: missed keywords against false alarms per hour."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from tinykws.atomic import save_figure


def save_det(result: dict, path: str | Path) -> Path:
    """One curve per averaging window (threshold swept 0..255), the settings used, and the
    calibrated setting on the test speakers when there is one."""
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    floor = 0.5 / max(result["hours"], 1e-9)  # where a point with no false alarm is drawn
    for window, points in result["det"].items():
        xs = [max(fa, floor) for fa, _ in points]
        ax.plot(xs, [100 * m for _, m in points], drawstyle="steps-post", lw=1.2,
                label=f"window {window} ms")
    t = result["test"]
    s = result["settings"]
    ax.plot(max(t["false_alarms_per_hour"]["value"], floor), 100 * t["miss_rate"]["value"], "ks",
            label=f"threshold {s['detection_threshold']}, window {s['average_window_ms']} ms")
    c = result.get("calibration")
    if c:
        ct = c["test"]
        ax.plot(max(ct["false_alarms_per_hour"]["value"], floor), 100 * ct["miss_rate"]["value"], "r*",
                ms=12, label=f"calibrated for {c['target_false_alarms_per_hour']:g}/h on validation")
    ax.axvline(1.0, color="0.6", ls=":", lw=1)
    ax.set_xscale("log")
    ax.set_xlabel(f"false alarms per hour (log; 0 drawn at {floor:.2g})")
    ax.set_ylabel("miss rate (%)")
    ax.set_ylim(0, 100)
    ax.set_title(f"DET on {result['hours'] * 60:.0f} min of unseen speakers, int8 device path",
                 fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(path, fig)
