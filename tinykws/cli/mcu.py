"""``tinykws mcu MODEL.tflite``: estimated latency and memory on a Cortex-M; ``--validate``: its error."""

from __future__ import annotations

import argparse

KERNEL_CHOICES = ("reference", "cmsis-nn", "both")
CORE_CHOICES = ("m4", "m33", "m7")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "mcu", help="estimate latency, arena, flash and RAM of an int8 .tflite on a Cortex-M",
        description="ESTIMATE (a cost model, nothing runs on a device) of what an int8 .tflite "
        "model costs on a Cortex-M microcontroller, by default the Arduino Nano 33 BLE Sense "
        "(nRF52840, Cortex-M4F at 64 MHz, 1 MB flash, 256 KB RAM), with TensorFlow Lite Micro's "
        "reference or CMSIS-NN kernels: per-op MACs, cycles and ms; the tensor arena of TFLM's "
        "greedy planner; flash and RAM with the runtime; and a 1 s clip's preprocessing / "
        "network / postprocessing time (preprocessing: the micro frontend at the model's feature "
        "settings; other feature modes have no MCU frontend and are not estimated). Cycles are instruction counts; CMSIS-NN's two scales "
        "are fitted on two published TFLM + CMSIS-NN measurements, the reference kernels' "
        "constants on none. --validate prints the estimate against every published point "
        "with its source, and the error on the points the fit did not use.")
    p.add_argument("model", nargs="?", help="an int8 .tflite file (not needed with --validate)")
    p.add_argument("--kernels", choices=KERNEL_CHOICES, default="both",
                   help="kernel library to estimate (default both)")
    p.add_argument("--core", choices=CORE_CHOICES, default="m4",
                   help="Cortex-M core (default m4; m33 and m7 scale the M4 counts by stated "
                   "per-instruction assumptions)")
    p.add_argument("--clock-mhz", type=float, default=64.0,
                   help="CPU clock in MHz (default 64, the Nano 33 BLE Sense)")
    p.add_argument("--validate", action="store_true",
                   help="print the estimate against published measurements (fit, held-out, "
                   "context) with sources and errors, instead of estimating a model")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json
    from dataclasses import asdict
    from pathlib import Path

    from tinykws.errors import TinyKWSError
    from tinykws.mcu.calibration import format_validation, held_out_summary, validation_table
    from tinykws.mcu.clip import clip_breakdown
    from tinykws.mcu.estimate import estimate_model
    from tinykws.mcu.report import format_estimate
    from tinykws.tflite.feature_metadata import feature_spec_of
    from tinykws.tflite.reader import parse_tflite

    if args.validate:
        rows = validation_table()
        if args.json:
            print(json.dumps({"estimate": True, "target_percent": 20.0, "points": [
                {**asdict(r.point), "estimated_ms": r.estimated_ms,
                 "error_percent": r.error_percent} for r in rows]}, indent=2))
        else:
            print(format_validation(rows))
        return 0
    if args.model is None:
        raise TinyKWSError("give an int8 .tflite model, or --validate")
    path = Path(args.model)
    if not path.is_file():
        raise TinyKWSError(f"model {path} does not exist")
    blob = path.read_bytes()
    graph = parse_tflite(blob, str(path))
    spec = feature_spec_of(graph, str(path))  # sizes the frontend; other modes: not estimated
    labels = graph.tensors[graph.outputs[0]].shape[-1]
    libraries = ("reference", "cmsis-nn") if args.kernels == "both" else (args.kernels,)
    results = []
    for kernels in libraries:
        est = estimate_model(graph, kernels, args.clock_mhz * 1e6, model_bytes=len(blob),
                             core=args.core)
        results.append((est, clip_breakdown(est.network_ms, est.clock_hz, labels, spec)))
    rows = validation_table()
    held_out = held_out_summary(rows)
    if args.json:
        print(json.dumps({"model": str(path), "estimate": True, "features": spec.to_dict(), "held_out": [
            {"name": r.point.name, "published_ms": r.point.published_ms,
             "estimated_ms": r.estimated_ms, "error_percent": r.error_percent}
            for r in rows if r.point.role == "held-out"], "estimates": [
            {**est.to_dict(), "clip": {**asdict(clip), "total_ms": clip.total_ms}}
            for est, clip in results]}, indent=2))
    else:
        print("\n\n".join(format_estimate(est, clip, held_out) for est, clip in results))
    return 0
