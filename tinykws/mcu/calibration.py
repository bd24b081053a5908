"""The cost model's fit to published measurements, and its error on the ones it was not fitted on.

Two numbers are fitted, both for the **cmsis-nn** library and only on
CMSIS-NN measurements (:mod:`tinykws.mcu.published`, role ``fit``): the
scale of its SIMD paths and the scale of its plain-C depthwise loop
(multiplier > 1), :data:`tinykws.mcu.kernels.CMSIS_NN_SIMD_SCALE` and
:data:`~tinykws.mcu.kernels.CMSIS_NN_PLAIN_C_SCALE`. Each fit point's
cycles are ``s_simd * A + s_c * B``, ``A`` and ``B`` the counted cycles of
its operators on each path (times the core's factor), so the two points
give two linear equations (:func:`solve_cmsis_nn_scales`):

- MLPerf Tiny v0.7's DS-CNN on the Renesas EK-RA6M4 (Cortex-M33 at 200 MHz,
  50.57 ms; all SIMD but the RESHAPE), the most recent TFLM + CMSIS-NN build
  in the MLPerf results with its whole project published;
- micro_speech's TinyConv on the Nano 33 BLE (Cortex-M4F at 64 MHz,
  53.654 ms; its multiplier-8 depthwise conv is the plain-C loop), the Nano
  measurement whose sketch and raw timings are published.

Every other TFLM point is **held out** and :func:`validation_table` gives
its error; context points (other inference engines, an accelerator, a core
not modelled) are shown but never fitted. The reference kernels have no
point at all. The micro frontend's constant is fitted separately and exactly
(:data:`tinykws.mcu.clip.C_FFT`, the course's 21 ms), so checks nothing.

The held-out errors, and why the large ones are large, are in
:data:`tinykws.mcu.published` (each point's ``note``) and in the README's
MCU section; they are not refitted away.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinykws.mcu.cores import CORES
from tinykws.mcu.dscnn import ds_cnn_graph
from tinykws.mcu.estimate import McuEstimate, estimate_model
from tinykws.mcu.kernels import LIBRARIES
from tinykws.mcu.published import POINTS, PublishedPoint
from tinykws.tflite.model import Graph

TARGET_PERCENT = 20.0  # the bound held-out TFLM points on the M4 and M33 are held to
# The .tflite's size ("this DS-CNN model requires only 53KB", Linley Group on MLPerf Tiny
# v0.5); only the flash total uses it.
DS_CNN_MODEL_BYTES = 53 * 1024


def tiny_conv_graph(filters: int = 8) -> Graph:
    """micro_speech's int8 TinyConv (4 labels), convolution as DEPTHWISE_CONV_2D.

    Made by our post-training quantizer from an untrained model: the cost
    model reads shapes only.
    """
    from tinykws.quant.ptq import quantize_model
    from tinykws.nn.model import tiny_conv

    x = np.random.default_rng(0).uniform(0.0, 26.0, (4, 49, 40, 1)).astype(np.float32)
    return quantize_model(tiny_conv(4, np.random.default_rng(0), filters=filters), x)


_GRAPHS: dict[str, Graph] = {}


def workload_graph(workload: str) -> Graph:
    """The shape-only graph of a published point's workload (built once)."""
    if workload not in _GRAPHS:
        _GRAPHS[workload] = ds_cnn_graph() if workload == "ds-cnn" else tiny_conv_graph()
    return _GRAPHS[workload]


def estimate_point(point: PublishedPoint) -> McuEstimate | None:
    """Our estimate for ``point``'s workload, clock and core (None for a core not modelled).

    A point that is not TFLM is estimated as TFLM with CMSIS-NN on its board,
    for comparison.
    """
    if point.core not in CORES:
        return None
    model_bytes = DS_CNN_MODEL_BYTES if point.workload == "ds-cnn" else None
    return estimate_model(workload_graph(point.workload), point.kernels or "cmsis-nn",
                          point.clock_hz, model_bytes=model_bytes, core=point.core)


def path_cycles(est: McuEstimate) -> dict[str, float]:
    """Counted cycles of ``est`` by path (times the core's factors), before the library's scales."""
    lib, core = LIBRARIES[est.kernels], CORES[est.core]
    factor = {"plain_c": core.plain_c_factor, "simd": core.simd_factor}
    out = {"plain_c": 0.0, "simd": 0.0}
    for r in est.ops:
        path = lib.ops[r.kernel].path
        out[path] += lib.counted_cycles(r.kernel, r.macs, r.taps, r.outputs) * factor[path]
    return out


def solve_cmsis_nn_scales(points: tuple[PublishedPoint, ...] = POINTS) -> dict[str, float]:
    """The SIMD and plain-C scales that make both CMSIS-NN fit points exact.

    Only points with role ``fit`` and kernels ``cmsis-nn`` enter; there must
    be two, and they must not both be of one path.
    """
    fit = [p for p in points if p.role == "fit" and p.kernels == "cmsis-nn"]
    lhs, rhs = [], []
    for p in fit:
        c = path_cycles(estimate_point(p))
        lhs.append([c["simd"], c["plain_c"]])
        rhs.append(p.published_ms * 1e-3 * p.clock_hz)
    simd, plain_c = np.linalg.solve(np.array(lhs, float), np.array(rhs, float))
    return {"simd": float(simd), "plain_c": float(plain_c)}


@dataclass(frozen=True)
class ValidationRow:
    """One published point beside our estimate (``estimated_ms`` None: core not modelled)."""

    point: PublishedPoint
    estimated_ms: float | None

    @property
    def error_percent(self) -> float | None:
        if self.estimated_ms is None:
            return None
        return 100.0 * (self.estimated_ms - self.point.published_ms) / self.point.published_ms

    @property
    def within_target(self) -> bool | None:
        e = self.error_percent
        return None if e is None else abs(e) <= TARGET_PERCENT


def validation_table(points: tuple[PublishedPoint, ...] = POINTS) -> list[ValidationRow]:
    """Estimate against published for every point, fit, held-out and context."""
    rows = []
    for p in points:
        est = estimate_point(p)
        rows.append(ValidationRow(p, None if est is None else est.network_ms))
    return rows


def held_out_summary(rows: list[ValidationRow] | None = None) -> str:
    """One line: the error on each held-out TFLM point, for every output to carry."""
    rows = validation_table() if rows is None else rows
    parts = [f"{r.point.name.split(',')[0].split(' (')[0]} {r.error_percent:+.0f} %"
             for r in rows if r.point.role == "held-out"]
    return "error on published TFLM points not used in the fit: " + "; ".join(parts)


def format_validation(rows: list[ValidationRow] | None = None) -> str:
    """The table ``tinykws mcu --validate`` prints: every point, its source, its error."""
    rows = validation_table() if rows is None else rows
    lines = ["ESTIMATE against published measurements of KWS networks on Cortex-M boards",
             f"(network latency; target for held-out TFLM points on M4/M33: within "
             f"+-{TARGET_PERCENT:g} %)", ""]
    for role, title in (("fit", "the scales were fitted on these (their errors check only "
                         "rounding)"),
                        ("held-out", "TFLM measurements the fit did not use"),
                        ("context", "other inference engines, an accelerator or a core not "
                         "modelled; estimated as TFLM + CMSIS-NN, never fitted")):
        lines.append(f"{role}: {title}")
        lines.append(f"  {'point':<64}{'core':>5}{'MHz':>6}{'published':>11}{'estimate':>10}"
                     f"{'error':>9}")
        for r in (r for r in rows if r.point.role == role):
            p = r.point
            est = "-" if r.estimated_ms is None else f"{r.estimated_ms:.1f}"
            err = "-" if r.error_percent is None else f"{r.error_percent:+.1f}%"
            lines.append(f"  {p.name:<64}{p.core:>5}{p.clock_hz / 1e6:>6g}{p.published_ms:>9.2f}"
                         f"ms{est:>8}ms{err:>9}")
            lines.append(f"      {p.workload}; {p.stack}; kernels {p.kernels or 'not TFLM'}; "
                         f"{p.board}")
            lines.append(f"      source: {p.source}")
            if p.note:
                lines.append(f"      note: {p.note}")
        lines.append("")
    lines.append(held_out_summary(rows))
    return "\n".join(lines)
