"""Int8 inference latency of TinyConv and DS-CNN: our runtime vs ai-edge-litert and tflite-micro.

Models:

- TinyConv, ``../shared/reference_models/tiny_conv_int8.tflite`` (49x40 int8
  input, CONV_2D 8x10x8 stride 2 + ReLU, FULLY_CONNECTED to 4, SOFTMAX);
- the zoo's DS-CNN (MLPerf Tiny's, 49x10 MFCC input, 12 labels, 2.66 M MACs:
  CONV_2D 10x4 stride 2, four DEPTHWISE_CONV_2D 3x3 + CONV_2D 1x1 blocks,
  AVERAGE_POOL_2D, FULLY_CONNECTED, SOFTMAX), made here by our own pipeline:
  built with seeded weights, its batch norms' statistics moved by three
  training passes, post-training quantized and written by our writer
  (:func:`ds_cnn_int8_model`). Timing does not depend on the weights' values.

Contenders, all single-threaded (``--threads``), timed alternately in one
process:

- ours, fused (TinyConv only): :class:`tinykws.int8.fused.FusedTinyConv`, the
  whole graph in one Numba call per batch (integer arithmetic, two taps per
  ``vpmaddwd``, no BLAS);
- ours, op by op: :class:`tinykws.int8.runtime.Int8Runtime` with the Numba
  kernels and the integer GEMM convolution over stride phases; with
  ``gemm=False`` the plain Numba loop kernels only;
- ai-edge-litert's three resolvers: the default (TFLite's optimised kernels
  with the XNNPACK delegate), ``BUILTIN_WITHOUT_DEFAULT_DELEGATES`` (the
  optimised kernels alone) and ``BUILTIN_REF`` (the reference kernels);
- tflite-micro's Python interpreter (reference kernels; the ground truth).

Batch 1 is one call per example, the calls cycling through the 256 random
inputs of the batch; batch 256 runs our fused path (TinyConv) and op-by-op
runtime on the whole batch at once, litert with its input resized to 256 when the model
allows it (else 256 calls: the DS-CNN's RESHAPE has a fixed batch-1 shape), and
tflite-micro (batch-1 arena) as 256 invocations. Every row
says whether each side's outputs on the timed inputs were bit-exact with
tflite-micro's (measured in the run, every output byte compared). Our side of
a row is the fused path where there is one (TinyConv), else the op-by-op
runtime.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

# One thread for BLAS and Numba when run on its own (``python -m benchmarks``
# pins these too); must be set before NumPy is imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

from benchmarks.machine import isa_flags, nominal_mhz, simd_int16_macs_per_cycle  # noqa: E402
from benchmarks.timing import compare, row  # noqa: E402

SHARED = Path(os.environ.get("TINYKWS_SHARED", Path(__file__).resolve().parents[2] / "shared"))
MODEL = SHARED / "reference_models" / "tiny_conv_int8.tflite"


# ai-edge-litert's resolvers: name -> litert_runner keywords.
LITERT = {"litert XNNPACK": dict(reference=False),
          "litert no delegate": dict(reference=False, delegates=False),
          "litert BUILTIN_REF": dict(reference=True)}


def _litert(model: bytes, batch: int, **kind):
    from tinykws.tflite.interpreters import litert_runner

    threads = int(os.environ.get("OMP_NUM_THREADS", "1"))  # ``--threads``, 1 by default
    return litert_runner(model, batch=batch, threads=threads, **kind)


def model_macs(graph) -> int:
    """Multiply-adds of one example through ``graph``'s CONV_2D, DEPTHWISE_CONV_2D and
    FULLY_CONNECTED ops (every tap, padding included, as the kernels sum them)."""
    total = 0
    for op in graph.operators:
        out_shape = graph.tensors[op.outputs[0]].shape
        w_shape = graph.tensors[op.inputs[1]].shape if len(op.inputs) > 1 else ()
        if op.op == "CONV_2D":  # weights (C_out, KH, KW, C_in)
            total += int(np.prod(out_shape[1:])) * int(np.prod(w_shape[1:]))
        elif op.op == "DEPTHWISE_CONV_2D":  # weights (1, KH, KW, C_out)
            total += int(np.prod(out_shape[1:])) * w_shape[1] * w_shape[2]
        elif op.op == "FULLY_CONNECTED":  # weights (C_out, D)
            total += w_shape[0] * w_shape[1]
    return total


def _with_macs_per_cycle(rows: list[dict], macs: int) -> list[dict]:
    """Each row plus the MACs per nominal-clock cycle of both sides and the SIMD limit."""
    mhz = nominal_mhz()
    limit, _ = simd_int16_macs_per_cycle(isa_flags())
    for r in rows:
        work = macs * r["batch"]
        r.update(macs_per_example=macs, nominal_mhz=mhz, simd_int16_macs_per_cycle=limit,
                 ours_macs_per_cycle=work / (r["ours_value"] * mhz * 1e6) if mhz else None,
                 peer_macs_per_cycle=work / (r["peer_value"] * mhz * 1e6) if mhz else None)
    return rows


def print_macs_per_cycle(rows: list[dict]) -> None:
    """One line per contender: achieved MACs per cycle against the machine's limit."""
    if not rows or rows[0].get("nominal_mhz") is None:
        return
    _, assumption = simd_int16_macs_per_cycle(isa_flags())
    print(f"int8 MACs per cycle at the nominal {rows[0]['nominal_mhz']:.0f} MHz of "
          f"/proc/cpuinfo ({rows[0]['macs_per_example']} MACs per example); SIMD limit "
          f"{rows[0]['simd_int16_macs_per_cycle']} per core, {assumption}:")
    seen = set()
    for r in rows:
        for side in ("ours", "peer"):
            key = (r["benchmark"], r[side])
            if key not in seen:
                seen.add(key)
                print(f"  {r['benchmark']}: {r[side]}: {r[side + '_macs_per_cycle']:.2f}")


def _rows(benchmark: str, ours: str, contenders: dict, inputs: list, expected: list,
          repeats: int, target_s: float) -> list[dict]:
    """Time ``contenders`` (name -> run(x)) alternately, each call taking the next of
    ``inputs`` in turn; one row per peer against ``ours``, with both sides'
    bit-exactness against ``expected`` (tflite-micro's output for each input)."""
    exact = {name: all(np.array_equal(fn(x), e) for x, e in zip(inputs, expected))
             for name, fn in contenders.items()}
    t = compare({name: (lambda fn=fn, xs=itertools.cycle(inputs): fn(next(xs)))
                 for name, fn in contenders.items()}, repeats=repeats, target_s=target_s)
    return [row(benchmark, ours, name, t[ours], t[name], "s", False, batch=len(inputs[0]),
                inputs_checked=sum(len(x) for x in inputs),
                ours_bit_exact=exact[ours], peer_bit_exact=exact[name])
            for name in contenders if name != ours]


def ds_cnn_int8_model(input_shape=(49, 10, 1), labels: int = 12) -> bytes:
    """The zoo's DS-CNN as a full-int8 ``.tflite`` made by our pipeline (see the module doc)."""
    from tinykws.nn.ds_cnn import ds_cnn
    from tinykws.quant.ptq import quantize_model
    from tinykws.tflite.writer import serialize_tflite

    rng = np.random.default_rng(0)
    model = ds_cnn(labels, rng, input_shape)
    model.set_rng(rng)
    x = rng.normal(0, 1, (64, *input_shape)).astype(np.float32)  # (64, 49, 10, 1) calibration
    for _ in range(3):  # move the batch norms' statistics away from (0, 1)
        model.forward(x, training=True)
    return serialize_tflite(quantize_model(model, x, single_channel_as_depthwise=False))


def model_rows(name: str, model: bytes, quick: bool, fused=None) -> list[dict]:
    """The batch-1 and batch-256 rows of one model (``fused``: its one-call runtime class)."""
    from tinykws.int8.runtime import Int8Runtime
    from tinykws.tflite.interpreters import tflm_runner
    from tinykws.tflite.reader import parse_tflite

    graph = parse_tflite(model)
    ours, loops = Int8Runtime(graph), Int8Runtime(graph, gemm=False)
    rng = np.random.default_rng(0)
    shape = tuple(graph.tensors[graph.inputs[0]].shape[1:])
    x256 = rng.integers(-128, 128, (256, *shape), dtype=np.int8)  # (256, H, W, 1) int8
    singles = [x[None] for x in x256]  # the same inputs one by one, each (1, H, W, 1) int8
    repeats = 5 if quick else 21
    tflm = tflm_runner(model)
    expected = [tflm(x) for x in singles]

    def tflm_each(x):  # tflite-micro's arena holds one example
        return np.concatenate([tflm(example[None]) for example in x])

    batch1 = {"ours, fused": fused(graph).run} if fused is not None else {}
    batch256 = dict(batch1)  # the fused path takes a whole batch too
    batch1.update({"ours, op by op": ours.run, "ours, loop kernels (gemm=False)": loops.run,
                   **{peer: _litert(model, 1, **kind) for peer, kind in LITERT.items()},
                   "tflite-micro": tflm})
    rows = _rows(f"{name} int8 latency, batch 1", next(iter(batch1)), batch1, singles, expected,
                 repeats, 0.02)

    batch256.update({"ours, op by op": ours.run, "ours, loop kernels (gemm=False)": loops.run})
    for peer, kind in LITERT.items():
        try:
            batch256[f"{peer} batch 256"] = _litert(model, 256, **kind)
        except (RuntimeError, ValueError):  # model cannot be resized: loop instead
            batch256[f"{peer} x256"] = lambda x, fn=batch1[peer]: np.concatenate(
                [fn(example[None]) for example in x])
    batch256["tflite-micro x256"] = tflm_each
    rows += _rows(f"{name} int8, batch 256", next(iter(batch256)), batch256, [x256],
                  [np.concatenate(expected)], max(3, repeats // 3), 0.05)
    rows = _with_macs_per_cycle(rows, model_macs(graph))
    print_macs_per_cycle(rows)
    return rows


def run(quick: bool) -> list[dict]:
    from tinykws.int8.fused import FusedTinyConv

    rows = []
    if MODEL.is_file():
        rows += model_rows("TinyConv", MODEL.read_bytes(), quick, fused=FusedTinyConv)
    else:
        print(f"int8_inference: {MODEL} not found, TinyConv skipped")
    return rows + model_rows("DS-CNN", ds_cnn_int8_model(), quick)


if __name__ == "__main__":
    from benchmarks.__main__ import markdown_table

    print(markdown_table(run(quick=False)))
