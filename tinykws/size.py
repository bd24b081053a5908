"""How big and how costly a model is: parameters, FLOPs, flash, RAM, latency.

Conventions (the course's, so numbers compare):

- **MACs** of a convolution: ``OH * OW * O * KH * KW * C / groups``; of a dense
  layer: ``in * out``; of an SVDF, per invocation as deployed (one new frame):
  ``F * (bins + memory)`` for its ``F`` filters (the feature filter on the
  frame, the time filter over the memory).
- **FLOPs** = 2 per MAC (a multiply and an add) + 1 per output for the bias.
  TinyConv: conv 644,000 + dense 32,004 = 676,004.
- **float32 flash** = 4 bytes per parameter (66,608 for TinyConv).
- **int8 flash estimate** = 1 byte per weight + 4 bytes per int32 bias + 8
  bytes (float scale and int32 zero point) per quantization channel of each
  weight tensor (per output channel for convolutions, one for dense), weights
  only — the .tflite file adds its graph (see ``tinykws convert``). An SVDF's
  time weights are int16: 2 bytes each.
- **state RAM**: the int16 memory an SVDF keeps between invocations,
  ``2 * memory * F`` bytes (0 for models without one).
- **RAM, course convention** = input + output bytes of the model at batch 1.
- **peak activation RAM** = the largest ``input + output`` bytes of any layer
  as the model is deployed (both buffers are live while it runs), in float32
  and in int8. Deployed means what the converter emits: ReLU fused into the
  layer before it, dropout removed and flatten a reshape of the same buffer,
  so only convolutions, dense layers and SVDFs hold two buffers at once (an
  SVDF's input is one frame of ``bins`` values).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from tinykws.nn.conv import Conv2D
from tinykws.nn.layers import Dense
from tinykws.nn.model import Sequential
from tinykws.nn.svdf import SVDF

NANO33_FLASH = 1_048_576  # bytes, Arduino Nano 33 BLE Sense (nRF52840)
NANO33_RAM = 262_144


@dataclass(frozen=True)
class LayerSize:
    name: str
    output_shape: tuple[int, ...]
    params: int
    nonzero_params: int
    macs: int
    flops: int


def layer_sizes(model: Sequential) -> list[LayerSize]:
    rows, shape = [], model.input_shape
    for i, layer in enumerate(model.layers):
        out = tuple(layer.output_shape(shape))
        params = sum(v.size for v in layer.params.values())
        nonzero = sum(int(np.count_nonzero(v)) for v in layer.params.values())
        outputs = int(np.prod(out))
        if isinstance(layer, Conv2D):
            kh, kw = layer.kernel
            macs = outputs * kh * kw * layer.in_channels // layer.groups
        elif isinstance(layer, Dense):
            macs = layer.in_features * layer.out_features
        elif isinstance(layer, SVDF):
            macs = layer.filters * (layer.bins + layer.memory)
        else:
            macs = 0
        flops = 2 * macs + (outputs if "bias" in layer.params else 0)
        rows.append(LayerSize(f"{i}:{layer.spec()['type']}", out, params, nonzero, macs, flops))
        shape = out
    return rows


def int8_flash_bytes(model: Sequential) -> int:
    total = 0
    for layer in model.layers:
        if "weight" in layer.params:
            w = layer.params["weight"]
            channels = w.shape[0] if isinstance(layer, Conv2D) else 1
            total += w.size + 4 * layer.params["bias"].size + 8 * channels
        elif isinstance(layer, SVDF):  # int8 feature weights, int16 time weights, int32 bias
            p = layer.params
            total += p["weights_feature"].size + 2 * p["weights_time"].size + 4 * p["bias"].size + 16
    return total


def state_bytes(model: Sequential) -> int:
    """The int16 memory every SVDF keeps between invocations."""
    return sum(2 * layer.memory * layer.filters for layer in model.layers if isinstance(layer, SVDF))


def peak_activation_bytes(model: Sequential, bytes_per_value: int) -> int:
    shapes = [model.input_shape] + model.shapes()
    inputs = [layer.bins if isinstance(layer, SVDF) else int(np.prod(shapes[i]))
              for i, layer in enumerate(model.layers)]
    return max((inputs[i] + int(np.prod(shapes[i + 1]))) * bytes_per_value
               for i, layer in enumerate(model.layers) if isinstance(layer, (Conv2D, Dense, SVDF)))


def float_latency_seconds(model: Sequential, repeats: int = 200) -> float:
    """Median wall time of one batch-1 float forward pass (inference mode)."""
    from tinykws.timing import median_call_seconds

    x = np.zeros((1, *model.input_shape), np.float32)
    return median_call_seconds(lambda: model.forward(x), repeats, warmup=10)


def size_report(model: Sequential, measure_latency: bool = True) -> dict:
    layers = layer_sizes(model)
    params = sum(l.params for l in layers)
    in_bytes = int(np.prod(model.input_shape)) * 4
    out_bytes = int(np.prod(model.shapes()[-1])) * 4
    flash32, flash8 = 4 * params, int8_flash_bytes(model)
    report = {
        "layers": [asdict(l) for l in layers],
        "params": params,
        "nonzero_params": sum(l.nonzero_params for l in layers),
        "macs": sum(l.macs for l in layers),
        "flops": sum(l.flops for l in layers),
        "flash_float32_bytes": flash32,
        "flash_int8_bytes": flash8,
        "ram_course_bytes": in_bytes + out_bytes,
        "ram_peak_float32_bytes": peak_activation_bytes(model, 4),
        "ram_peak_int8_bytes": peak_activation_bytes(model, 1),
        "ram_state_bytes": state_bytes(model),
        "nano33_flash_bytes": NANO33_FLASH,
        "nano33_ram_bytes": NANO33_RAM,
    }
    report["flash_float32_percent_nano33"] = 100 * flash32 / NANO33_FLASH
    report["flash_int8_percent_nano33"] = 100 * flash8 / NANO33_FLASH
    report["ram_peak_float32_percent_nano33"] = 100 * report["ram_peak_float32_bytes"] / NANO33_RAM
    if measure_latency:
        report["float_latency_batch1_seconds"] = float_latency_seconds(model)
    return report


def format_report(r: dict) -> str:
    lines = [f"{'layer':<14}{'output':>14}{'params':>10}{'MACs':>12}{'FLOPs':>12}"]
    for l in r["layers"]:
        lines.append(f"{l['name']:<14}{'x'.join(map(str, l['output_shape'])):>14}{l['params']:>10,}"
                     f"{l['macs']:>12,}{l['flops']:>12,}")
    lines.append(f"{'total':<14}{'':>14}{r['params']:>10,}{r['macs']:>12,}{r['flops']:>12,}")
    lines += [
        "",
        f"flash, float32 weights:   {r['flash_float32_bytes']:>9,} B ({r['flash_float32_percent_nano33']:.2f} % of Nano 33 BLE's 1 MB)",
        f"flash, int8 estimate:     {r['flash_int8_bytes']:>9,} B ({r['flash_int8_percent_nano33']:.2f} %)",
        f"RAM, input+output (course): {r['ram_course_bytes']:>7,} B",
        f"RAM, peak activations:    {r['ram_peak_float32_bytes']:>9,} B float32 ({r['ram_peak_float32_percent_nano33']:.2f} % of 256 KB), "
        f"{r['ram_peak_int8_bytes']:,} B int8",
    ]
    if r.get("ram_state_bytes"):
        lines.append(f"RAM, streaming state:     {r['ram_state_bytes']:>9,} B int16 (the SVDF's "
                     f"memory, kept between invocations)")
    if "float_latency_batch1_seconds" in r:
        lines.append(f"float CPU latency, batch 1: {1e6 * r['float_latency_batch1_seconds']:.0f} us (median)")
    return "\n".join(lines)
