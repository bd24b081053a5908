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
from tinykws.nn.resnet import ResidualBlock
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
    parts: tuple[LayerSize, ...] = ()  # a residual block's layers and its add, which it sums


def _layer_size(name: str, layer, input_shape) -> LayerSize:
    """One layer's row; a residual block's is the sum of its parts: each branch's layers,
    then the add (one FLOP per output; its ReLU, like every ReLU, costs none)."""
    out = tuple(layer.output_shape(input_shape))
    outputs = int(np.prod(out))
    if isinstance(layer, ResidualBlock):
        parts = []
        for branch, layers in layer.branches():
            shape = input_shape
            for j, sub in enumerate(layers):
                parts.append(_layer_size(f"{branch}.{j}:{sub.spec()['type']}", sub, shape))
                shape = parts[-1].output_shape
        parts.append(LayerSize("add", out, 0, 0, 0, outputs))
        return LayerSize(name, out, *(sum(getattr(p, field) for p in parts) for field in
                                      ("params", "nonzero_params", "macs", "flops")), tuple(parts))
    if isinstance(layer, Conv2D):
        kh, kw = layer.kernel
        macs = outputs * kh * kw * layer.in_channels // layer.groups
    elif isinstance(layer, Dense):
        macs = layer.in_features * layer.out_features
    elif isinstance(layer, SVDF):  # per invocation: one new frame
        macs = layer.filters * (layer.bins + layer.memory)
    else:
        macs = 0
    params = sum(v.size for v in layer.params.values())
    nonzero = sum(int(np.count_nonzero(v)) for v in layer.params.values())
    return LayerSize(name, out, params, nonzero, macs,
                     2 * macs + (outputs if "bias" in layer.params else 0))


def layer_sizes(model: Sequential) -> list[LayerSize]:
    """One row per layer of ``model`` (a residual block's rows are in its ``parts``)."""
    rows, shape = [], model.input_shape
    for i, layer in enumerate(model.layers):
        rows.append(_layer_size(f"{i}:{layer.spec()['type']}", layer, shape))
        shape = rows[-1].output_shape
    return rows


def _leaves(layers):
    """The layers, with each residual block replaced by its branches' layers."""
    for layer in layers:
        if isinstance(layer, ResidualBlock):
            for _, branch in layer.branches():
                yield from _leaves(branch)
        else:
            yield layer


def int8_flash_bytes(model: Sequential) -> int:
    total = 0
    for layer in _leaves(model.layers):
        if "weight" in layer.params:
            w = layer.params["weight"]
            channels = w.shape[0] if isinstance(layer, Conv2D) else 1
            total += w.size + 4 * layer.params["bias"].size + 8 * channels
        elif isinstance(layer, SVDF):  # int8 feature weights, int16 time weights, int32 bias
            p = layer.params
            total += p["weights_feature"].size + 2 * p["weights_time"].size + 4 * p["bias"].size + 16
    return total


def _block_peak_values(block: ResidualBlock, input_shape) -> int:
    """The most values live at once in a deployed block: its branches run one after the
    other (body, then shortcut), the input kept until the last branch has read it and each
    finished branch's result kept for the ADD."""
    x, held, peaks = int(np.prod(input_shape)), 0, []
    for k, (_, branch) in enumerate(block.branches()):
        shape, reads_x = input_shape, True  # a branch's first op reads the block's input
        for sub in branch:
            out = tuple(sub.output_shape(shape))
            if isinstance(sub, (Conv2D, Dense)):
                kept = x if k == 0 and not reads_x else 0  # the shortcut (or the ADD) needs x
                peaks.append(int(np.prod(shape)) + int(np.prod(out)) + kept + held)
                reads_x = False
            shape = out
        held += int(np.prod(shape))  # the identity shortcut's result is x itself
    return max(peaks + [held + int(np.prod(block.output_shape(input_shape)))])


def state_bytes(model: Sequential) -> int:
    """The int16 memory every SVDF keeps between invocations."""
    return sum(2 * layer.memory * layer.filters for layer in model.layers if isinstance(layer, SVDF))


def peak_activation_bytes(model: Sequential, bytes_per_value: int) -> int:
    shapes = [model.input_shape] + model.shapes()
    peaks = []
    for i, layer in enumerate(model.layers):
        if isinstance(layer, ResidualBlock):
            peaks.append(_block_peak_values(layer, shapes[i]))
        elif isinstance(layer, SVDF):  # one frame in per invocation
            peaks.append(layer.bins + int(np.prod(shapes[i + 1])))
        elif isinstance(layer, (Conv2D, Dense)):
            peaks.append(int(np.prod(shapes[i])) + int(np.prod(shapes[i + 1])))
    return max(peaks) * bytes_per_value


def float_latency_seconds(model: Sequential, repeats: int = 200) -> float:
    """Median wall time of one batch-1 float forward pass (inference mode)."""
    from tinykws.timing import median_call_seconds

    x = np.zeros((1, *model.input_shape), np.float32)
    return median_call_seconds(lambda: model.forward(x), repeats, warmup=10)


def _as_dict(row: LayerSize) -> dict:
    """``row`` as plain data; ``parts`` only for a layer that has them (a residual block)."""
    d = asdict(row)
    if not row.parts:
        del d["parts"]
    else:
        d["parts"] = [_as_dict(p) for p in row.parts]
    return d


def size_report(model: Sequential, measure_latency: bool = True) -> dict:
    layers = layer_sizes(model)
    params = sum(l.params for l in layers)
    in_bytes = int(np.prod(model.input_shape)) * 4
    out_bytes = int(np.prod(model.shapes()[-1])) * 4
    flash32, flash8 = 4 * params, int8_flash_bytes(model)
    report = {
        "layers": [_as_dict(l) for l in layers],
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
    rows = [(l["name"], l) for l in r["layers"]]  # a block's parts follow it, indented
    rows = [row for name, l in rows
            for row in [(name, l)] + [("  " + p["name"], p) for p in l.get("parts", ())]]
    w = max([14] + [len(name) + 1 for name, _ in rows])  # "  shortcut.0:conv2d" is long
    lines = [f"{'layer':<{w}}{'output':>14}{'params':>10}{'MACs':>12}{'FLOPs':>12}"]
    for name, l in rows:
        lines.append(f"{name:<{w}}{'x'.join(map(str, l['output_shape'])):>14}{l['params']:>10,}"
                     f"{l['macs']:>12,}{l['flops']:>12,}")
    lines.append(f"{'total':<{w}}{'':>14}{r['params']:>10,}{r['macs']:>12,}{r['flops']:>12,}")
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
