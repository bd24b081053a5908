"""``tinykws mcu MODEL.tflite``: estimated latency and memory on the Nano 33 BLE Sense."""

from __future__ import annotations

import argparse

KERNEL_CHOICES = ("reference", "cmsis-nn", "both")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "mcu", help="estimate latency, arena, flash and RAM of an int8 .tflite on a Cortex-M4F",
        description="ESTIMATE (a cost model, nothing runs on a device) of what an int8 .tflite "
        "model costs on the Arduino Nano 33 BLE Sense (nRF52840, Cortex-M4F, 1 MB flash, "
        "256 KB RAM) with TensorFlow Lite Micro's reference or CMSIS-NN kernels: per-op MACs, "
        "cycles and ms; the tensor arena of TFLM's greedy planner; flash and RAM with the "
        "runtime; and a 1 s clip's preprocessing / network / postprocessing time. The plain-C "
        "convolution loops' constants are solved from two published measurements; CMSIS-NN's "
        "SIMD paths come from instruction counts alone and are less certain.")
    p.add_argument("model", help="an int8 .tflite file")
    p.add_argument("--kernels", choices=KERNEL_CHOICES, default="both",
                   help="kernel library to estimate (default both)")
    p.add_argument("--clock-mhz", type=float, default=64.0,
                   help="CPU clock in MHz (default 64, the Nano 33 BLE Sense)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json
    from dataclasses import asdict
    from pathlib import Path

    from tinykws.errors import TinyKWSError
    from tinykws.mcu.clip import clip_breakdown
    from tinykws.mcu.estimate import estimate_model
    from tinykws.mcu.report import format_estimate
    from tinykws.tflite.reader import parse_tflite

    path = Path(args.model)
    if not path.is_file():
        raise TinyKWSError(f"model {path} does not exist")
    blob = path.read_bytes()
    graph = parse_tflite(blob, str(path))
    labels = graph.tensors[graph.outputs[0]].shape[-1]
    libraries = ("reference", "cmsis-nn") if args.kernels == "both" else (args.kernels,)
    results = []
    for kernels in libraries:
        est = estimate_model(graph, kernels, args.clock_mhz * 1e6, model_bytes=len(blob))
        results.append((est, clip_breakdown(est.network_ms, est.clock_hz, labels)))
    if args.json:
        print(json.dumps({"model": str(path), "estimates": [
            {**est.to_dict(), "clip": {**asdict(clip), "total_ms": clip.total_ms}}
            for est, clip in results]}, indent=2))
    else:
        print("\n\n".join(format_estimate(est, clip) for est, clip in results))
    return 0
