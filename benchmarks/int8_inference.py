"""Int8 TinyConv inference latency: our runtime vs ai-edge-litert and tflite-micro.

Model: ``../shared/reference_models/tiny_conv_int8.tflite`` (49x40 int8
input, CONV_2D 8x10x8 stride 2 + ReLU, FULLY_CONNECTED to 4, SOFTMAX).
Contenders, all single-threaded, timed alternately in one process:

- ours: :class:`tinykws.int8.runtime.Int8Runtime` with the Numba kernels and
  the exact im2col + GEMM convolution (bit-exact with tflite-micro);
- ours with ``gemm=False``: the plain Numba loop kernels only;
- ai-edge-litert default resolver (optimised kernels + XNNPACK; *not*
  bit-exact with tflite-micro), ``num_threads=1``;
- ai-edge-litert ``BUILTIN_REF`` (the reference kernels; bit-exact);
- tflite-micro's Python interpreter (reference kernels; the ground truth).

Batch 1 is one call per example; batch 256 runs our runtime on the whole
batch at once, litert with its input resized to 256 when the model allows
it, and tflite-micro (batch-1 arena) as 256 invocations.
"""

from __future__ import annotations

import os
from pathlib import Path

# One thread for BLAS and Numba when run on its own (``python -m benchmarks``
# pins these too); must be set before NumPy is imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

from benchmarks.timing import compare, row  # noqa: E402

SHARED = Path(os.environ.get("TINYKWS_SHARED", Path(__file__).resolve().parents[2] / "shared"))
MODEL = SHARED / "reference_models" / "tiny_conv_int8.tflite"


def _litert(model: bytes, reference: bool, batch: int = 1):
    from tinykws.tflite.interpreters import litert_runner

    return litert_runner(model, reference, batch, threads=1)


def _tflm(model: bytes):
    from tinykws.tflite.interpreters import tflm_runner

    return tflm_runner(model)


def run(quick: bool) -> list[dict]:
    from tinykws.int8.runtime import Int8Runtime
    from tinykws.tflite.reader import parse_tflite

    if not MODEL.is_file():
        print(f"int8_inference: {MODEL} not found, skipped")
        return []
    model = MODEL.read_bytes()
    graph = parse_tflite(model)
    ours = Int8Runtime(graph)
    loops = Int8Runtime(graph, gemm=False)
    rng = np.random.default_rng(0)
    x1 = rng.integers(-128, 128, (1, 49, 40, 1), dtype=np.int8)  # (1, 49, 40, 1) int8
    x256 = rng.integers(-128, 128, (256, 49, 40, 1), dtype=np.int8)  # (256, 49, 40, 1) int8
    repeats = 5 if quick else 21

    peers = {"ours, loop kernels (gemm=False)": loops.run,
             "litert XNNPACK": _litert(model, reference=False),
             "litert BUILTIN_REF": _litert(model, reference=True),
             "tflite-micro": _tflm(model)}
    # Same numbers first: every bit-exact contender agrees with tflite-micro.
    for name in ("ours, loop kernels (gemm=False)", "litert BUILTIN_REF", "tflite-micro"):
        assert np.array_equal(ours.run(x1), peers[name](x1)), name
    t1 = compare({"ours": lambda: ours.run(x1),
                  **{name: (lambda fn=fn: fn(x1)) for name, fn in peers.items()}},
                 repeats=repeats)
    rows = [row("TinyConv int8 latency, batch 1", "ours (numba + GEMM)", name, t1["ours"], t1[name],
                "s", False) for name in peers]

    # The fused batch-1 path: the whole graph in one pass, buffers allocated once.
    from kernels.int8_tiny_conv import FusedTinyConv

    fused = FusedTinyConv(graph)
    assert np.array_equal(fused.run(x1), peers["tflite-micro"](x1))
    fused_peers = {name: peers[name] for name in ("litert XNNPACK", "tflite-micro")}
    fused_peers["ours, op by op"] = ours.run
    tf = compare({"fused": lambda: fused.run(x1),
                  **{name: (lambda fn=fn: fn(x1)) for name, fn in fused_peers.items()}},
                 repeats=repeats)
    rows += [row("TinyConv int8 latency, batch 1", "ours, fused", name, tf["fused"], tf[name],
                 "s", False) for name in fused_peers]

    batch_peers = {"ours, loop kernels (gemm=False)": lambda: loops.run(x256),
                   "tflite-micro x256": lambda: [peers["tflite-micro"](x[None]) for x in x256]}
    for name, reference in (("litert XNNPACK", False), ("litert BUILTIN_REF", True)):
        try:
            batched = _litert(model, reference=reference, batch=256)
            if reference:  # the batched reference kernels are bit-exact too
                assert np.array_equal(batched(x256), ours.run(x256)), name
            batch_peers[f"{name} batch 256"] = lambda fn=batched: fn(x256)
        except (RuntimeError, ValueError):  # model cannot be resized: loop instead
            batch_peers[f"{name} x256"] = (
                lambda fn=peers[name]: [fn(x[None]) for x in x256])
    t256 = compare({"ours": lambda: ours.run(x256), **batch_peers},
                   repeats=max(3, repeats // 3), target_s=0.05)
    rows += [row("TinyConv int8, batch 256", "ours (numba + GEMM)", name, t256["ours"], t256[name],
                 "s", False) for name in batch_peers]
    return rows


if __name__ == "__main__":
    from benchmarks.__main__ import markdown_table

    print(markdown_table(run(quick=False)))
