"""The text ``tinykws mcu`` prints: a per-operator table and the totals."""

from __future__ import annotations

from tinykws.mcu.clip import ClipBreakdown
from tinykws.mcu.cores import CORES
from tinykws.mcu.estimate import McuEstimate


def format_estimate(est: McuEstimate, clip: ClipBreakdown, held_out: str = "") -> str:
    """Readable table of ``est`` (one kernel library), the per-clip breakdown, the assumptions.

    ``held_out`` is the line stating the model's error on published points it
    was not fitted on (:func:`tinykws.mcu.calibration.held_out_summary`).
    """
    lines = [f"TFLM {est.kernels} kernels on a {CORES[est.core].title} at "
             f"{est.clock_hz / 1e6:g} MHz (an estimate from a cost model, not a measurement)",
             f"{'#':>3}  {'op':<20}{'MACs':>12}{'outputs':>10}{'cycles':>13}{'ms':>10}"]
    for r in est.ops:
        lines.append(f"{r.index:>3}  {r.kernel:<20}{r.macs:>12,}{r.outputs:>10,}{r.cycles:>13,.0f}"
                     f"{r.ms:>10.2f}")
    lines.append(f"{'':>3}  {'network':<20}{est.macs:>12,}{'':>10}{est.network_cycles:>13,.0f}"
                 f"{est.network_ms:>10.2f}")
    if any(r.kernel == "DEPTHWISE_CONV_2D*" for r in est.ops):
        lines += ["  * depth multiplier > 1: CMSIS-NN has no SIMD path for it (plain C, no DSP",
                  "    instructions); written as CONV_2D the layer would take the SIMD im2col path"]
    lines += [
        "",
        f"arena  {est.arena_bytes:>9,} B  (planned activations and scratch {est.planned_bytes:,}"
        f" + persistent {est.persistent_bytes:,})",
        f"flash  {est.flash_bytes:>9,} B  (model {est.model_bytes:,} + TFLM runtime "
        f"{est.runtime_flash_bytes:,}): {est.flash_percent:.1f} % of the Nano's 1 MB",
        f"RAM    {est.ram_bytes:>9,} B  (arena + runtime {est.runtime_ram_bytes:,}): "
        f"{est.ram_percent:.1f} % of the Nano's 256 KB",
        "per 1 s clip: preprocessing "
        + (f"{clip.preprocess_ms:.1f} ms" if clip.preprocess_ms is not None else "not estimated")
        + f" ({clip.frames} frames), network {clip.network_ms:.1f} ms, postprocessing "
        f"{clip.postprocess_ms:.2f} ms, total {clip.total_ms:.1f} ms"
        + ("" if clip.preprocess_ms is not None else f" without preprocessing: {clip.preprocess_note}"),
        "assumptions:",
        *(f"  - {a}" for a in est.assumptions),
    ]
    if held_out:
        lines.append(f"{held_out} (tinykws mcu --validate)")
    return "\n".join(lines)
