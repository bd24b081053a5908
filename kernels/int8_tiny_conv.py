"""The fused batch-1 path: the whole int8 TinyConv graph with no per-op dispatch.

``Int8Runtime`` runs any supported graph op by op; at batch 1 its generic
preparation of every call (allocating the padded image and the im2col matrix,
dispatching on op names) costs about as much as TinyConv's arithmetic.
:class:`FusedTinyConv` recognises the TinyConv shape — a one-input-channel
convolution (CONV_2D or DEPTHWISE_CONV_2D), RESHAPE, FULLY_CONNECTED and an
optional SOFTMAX — allocates its buffers once, and per call:

1. fills the im2col matrix straight from the int8 input (taps outside the
   image are 0, TFLM's skipped taps) — one Numba loop;
2. multiplies it with the weights through BLAS into a preallocated matrix:
   exact, every partial sum is an integer below 2**24 (see
   :mod:`kernels.int8_conv_gemm`);
3. applies TFLM's per-channel output stage, then the FULLY_CONNECTED and
   SOFTMAX kernels on the flattened (NHWC) activations.

``FusedTinyConv(graph, sparse=True)`` is the same graph for pruned weights:
the convolution and the FULLY_CONNECTED visit only their nonzero weights
(:mod:`kernels.int8_sparse`, compressed rows built once here), with the same
output stages, so the same bits; ``benchmarks/sparse.py`` measures from which
sparsity that is faster than the dense GEMM path.

The parameters (multipliers, shifts, offsets, padding) come from
``Int8Runtime``'s own preparation, so the bits are the runtime's, which the
tests hold equal to tflite-micro's.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from kernels.int8_conv_gemm import output_stage
from kernels.int8_fully_connected import fully_connected
from kernels.int8_softmax import softmax
from kernels.int8_sparse import conv_per_channel_csr, fully_connected_csr
from tinykws.errors import TinyKWSError


@njit(cache=True)
def fill_im2col(x, cols, input_offset, filter_height, filter_width, stride_h, stride_w, pad_h,
                pad_w, out_h, out_w):
    """x : (H, W) int8 -> cols : (out_h * out_w, KH * KW) float32 of ``x + input_offset``."""
    height, width = x.shape
    for oy in range(out_h):
        for ox in range(out_w):
            row = oy * out_w + ox
            for ky in range(filter_height):
                iy = oy * stride_h - pad_h + ky
                for kx in range(filter_width):
                    ix = ox * stride_w - pad_w + kx
                    if 0 <= iy < height and 0 <= ix < width:
                        cols[row, ky * filter_width + kx] = np.float32(x[iy, ix] + input_offset)
                    else:
                        cols[row, ky * filter_width + kx] = 0.0


class FusedTinyConv:
    """Batch-1 int8 TinyConv in one pass; ``run(x (1, H, W, 1) int8) -> (1, K) int8``.

    ``sparse=True`` skips zero weights (for magnitude-pruned models); the
    outputs are the same bits either way.
    """

    def __init__(self, graph, sparse: bool = False):
        from tinykws.int8.runtime import Int8Runtime
        from tinykws.int8.sparse import to_csr

        names = [op.op for op in graph.operators]
        if (names[:3] not in (["CONV_2D", "RESHAPE", "FULLY_CONNECTED"],
                              ["DEPTHWISE_CONV_2D", "RESHAPE", "FULLY_CONNECTED"])
                or names[3:] not in ([], ["SOFTMAX"])):
            raise TinyKWSError(f"not a TinyConv-shaped graph: {' -> '.join(names)}")
        in_t = graph.tensors[graph.inputs[0]]
        if in_t.shape[3] != 1:
            raise TinyKWSError("the fused path needs a one-channel input")
        ops = Int8Runtime(graph).ops
        self.conv, self.fc = ops[0].params, ops[2].params
        self.softmax = ops[3].params if len(ops) == 4 else None
        weights = self.conv.get("gemm_weights")
        if weights is None or weights.dtype != np.float32:
            raise TinyKWSError("the fused path needs float32-exact convolution weights")
        self.weights = weights  # (KH * KW, C_out) float32
        self.kh, self.kw = self.conv["filters"].shape[1:3]  # (·, KH, KW, ·) in both layouts
        c = self.conv
        self.input_shape = tuple(in_t.shape[1:])
        self.cols = np.zeros((c["out_h"] * c["out_w"], self.kh * self.kw), np.float32)
        self.acc = np.empty((c["out_h"] * c["out_w"], weights.shape[1]), np.float32)
        self.sparse = sparse
        if sparse:
            if self.fc["filter_offset"] != 0:
                raise TinyKWSError("the sparse path needs symmetric FULLY_CONNECTED weights")
            # (C_out, KH, KW, 1) in CONV_2D's layout, whichever op the graph has.
            self.conv_csr = to_csr(self.conv.get("conv_filters", self.conv["filters"]))
            self.fc_csr = to_csr(self.fc["filters"])

    def run(self, x: np.ndarray) -> np.ndarray:
        if x.shape != (1, *self.input_shape) or x.dtype != np.int8:
            raise TinyKWSError(f"input must be (1, {', '.join(map(str, self.input_shape))}) int8")
        c, f = self.conv, self.fc
        if self.sparse:
            return self._finish(self._run_sparse(x))
        fill_im2col(x[0, :, :, 0], self.cols, c["input_offset"], self.kh, self.kw, c["stride_h"],
                    c["stride_w"], c["pad_h"], c["pad_w"], c["out_h"], c["out_w"])
        np.dot(self.cols, self.weights, out=self.acc)  # exact integer sums
        h = output_stage(self.acc, c["bias"], c["output_multiplier"], c["output_shift"],
                         c["output_offset"], c["output_activation_min"], c["output_activation_max"])
        logits = fully_connected(h.reshape(1, -1), f["filters"], f["bias"], f["input_offset"],
                                 f["filter_offset"], f["output_offset"], f["output_multiplier"],
                                 f["output_shift"], f["output_activation_min"],
                                 f["output_activation_max"])
        return self._finish(logits)

    def _run_sparse(self, x: np.ndarray) -> np.ndarray:
        """Logits (1, K) int8 from the CSR convolution and FULLY_CONNECTED kernels."""
        c, f, w, v = self.conv, self.fc, self.conv_csr, self.fc_csr
        h = conv_per_channel_csr(x, w.values, w.indices, w.segments, self.kh, self.kw, c["bias"],
                                 c["input_offset"], c["output_offset"], c["output_multiplier"],
                                 c["output_shift"], c["output_activation_min"],
                                 c["output_activation_max"], c["stride_h"], c["stride_w"],
                                 c["pad_h"], c["pad_w"], c["out_h"], c["out_w"], c["dilation_h"],
                                 c["dilation_w"])  # (1, out_h, out_w, C_out) int8
        return fully_connected_csr(h.reshape(1, -1), v.values, v.indices, v.segments, f["bias"],
                                   f["input_offset"], f["output_offset"], f["output_multiplier"],
                                   f["output_shift"], f["output_activation_min"],
                                   f["output_activation_max"])

    def _finish(self, logits: np.ndarray) -> np.ndarray:
        """SOFTMAX of the logits when the graph ends with one."""
        if self.softmax is None:
            return logits
        s = self.softmax
        return softmax(logits, s["input_multiplier"], s["input_left_shift"], s["diff_min"])
