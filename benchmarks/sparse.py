"""Where unstructured sparsity starts to pay on a CPU: dense vs zero-skipping int8 TinyConv.

The reference model (``tiny_conv_int8.tflite``) is magnitude-pruned in its
int8 weights: in each weight tensor (the convolution's 640 taps and the
FULLY_CONNECTED's 16,000 weights) the given fraction with the smallest
``|q|`` is set to 0 (ties broken by position, so the fraction is exact).
The pruned model then runs at batch 1 through the fused path two ways,
timed alternately:

- dense: ``FusedTinyConv(graph)``, the integer fused kernel (two taps per
  ``vpmaddwd``, every weight, zero or not), which costs the same whatever
  the weights are;
- sparse: ``FusedTinyConv(graph, sparse=True)``, CSR kernels that visit the
  nonzero weights only (:mod:`kernels.int8_sparse`).

One row per sparsity, ratio = dense time / sparse time (> 1: skipping zeros
pays). Both paths' outputs are compared with tflite-micro's on the timed
input, and the row says whether they were bit-exact.

    python -m benchmarks.sparse [--quick]
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from benchmarks.int8_inference import MODEL
from benchmarks.timing import compare, row

SPARSITIES = (0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99)


def magnitude_pruned(graph, sparsity: float):
    """``graph`` with the smallest-magnitude ``sparsity`` of each int8 weight tensor zeroed."""
    weight_inputs = {op.inputs[1] for op in graph.operators
                     if op.op in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")}
    tensors = list(graph.tensors)
    for i in weight_inputs:
        q = graph.constant(i)
        flat = q.reshape(-1).copy()
        order = np.argsort(np.abs(flat.astype(np.int16)), kind="stable")  # smallest |q| first
        flat[order[:round(sparsity * flat.size)]] = 0
        tensors[i] = replace(tensors[i], data=flat.reshape(q.shape))
    return replace(graph, tensors=tuple(tensors))


def run(quick: bool) -> list[dict]:
    from tinykws.int8.fused import FusedTinyConv
    from tinykws.tflite.interpreters import tflm_runner
    from tinykws.tflite.writer import serialize_tflite

    if not MODEL.is_file():
        print(f"sparse: {MODEL} not found, skipped")
        return []
    from tinykws.tflite.reader import read_tflite

    graph = read_tflite(MODEL)
    x = np.random.default_rng(0).integers(-128, 128, (1, 49, 40, 1), dtype=np.int8)
    rows = []
    for sparsity in SPARSITIES:
        pruned = magnitude_pruned(graph, sparsity)
        dense, sparse = FusedTinyConv(pruned), FusedTinyConv(pruned, sparse=True)
        try:
            expected = tflm_runner(serialize_tflite(pruned))(x)
        except ImportError:
            expected = None
        exact = {name: None if expected is None else bool(np.array_equal(path.run(x), expected))
                 for name, path in (("dense", dense), ("sparse", sparse))}
        t = compare({"sparse": lambda: sparse.run(x), "dense": lambda: dense.run(x)},
                    repeats=5 if quick else 21)
        nonzeros = sparse.conv_csr.nnz + sparse.fc_csr.nnz
        rows.append(row(f"TinyConv int8 batch 1, {sparsity:.0%} pruned", "ours, sparse (CSR)",
                        "ours, dense fused (tap pairs)", t["sparse"], t["dense"], "s", False,
                        sparsity=sparsity, nonzero_weights=nonzeros,
                        ours_bit_exact=exact["sparse"], peer_bit_exact=exact["dense"]))
    return rows


if __name__ == "__main__":
    import argparse

    from benchmarks.__main__ import markdown_table

    parser = argparse.ArgumentParser(description="dense vs sparse int8 TinyConv")
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    print(markdown_table(run(quick=parser.parse_args().quick)))
