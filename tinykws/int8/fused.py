"""The fused batch-1 path: the whole int8 TinyConv graph with no per-op dispatch.

``Int8Runtime`` runs any supported graph op by op; at batch 1 its generic
preparation of every call (allocating the padded image and the im2col matrix,
dispatching on op names) costs about as much as TinyConv's arithmetic.
:class:`FusedTinyConv` recognises the TinyConv shape — a one-input-channel
convolution (CONV_2D or DEPTHWISE_CONV_2D), RESHAPE, FULLY_CONNECTED and an
optional SOFTMAX — allocates its buffers once, and per call:

1. fills the im2col matrix straight from the int8 input (taps outside the
   image are 0, TFLM's skipped taps) — one Numba loop,
   :func:`kernels.int8_tiny_conv.fill_im2col`;
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

The parameters (multipliers, shifts, offsets, padding) are ``Int8Runtime``'s
own (:class:`~tinykws.int8.conv.ConvParams` and the others), so the bits are
the runtime's, which the tests hold equal to tflite-micro's.
"""

from __future__ import annotations

import numpy as np

from kernels.int8_conv_gemm import gemm_dtype, output_stage, weights_matrix
from kernels.int8_fully_connected import fully_connected
from kernels.int8_softmax import softmax
from kernels.int8_sparse import conv_per_channel_csr, fully_connected_csr
from kernels.int8_tiny_conv import fill_im2col
from tinykws.errors import TinyKWSError
from tinykws.int8 import depthwise_conv
from tinykws.int8.runtime import Int8Runtime
from tinykws.int8.sparse import to_csr


class FusedTinyConv:
    """Batch-1 int8 TinyConv in one pass; ``run(x (1, H, W, 1) int8) -> (1, K) int8``.

    ``sparse=True`` skips zero weights (for magnitude-pruned models); the
    outputs are the same bits either way.
    """

    def __init__(self, graph, sparse: bool = False):
        names = [op.op for op in graph.operators]
        if (names[:3] not in (["CONV_2D", "RESHAPE", "FULLY_CONNECTED"],
                              ["DEPTHWISE_CONV_2D", "RESHAPE", "FULLY_CONNECTED"])
                or names[3:] not in ([], ["SOFTMAX"])):
            raise TinyKWSError(f"not a TinyConv-shaped graph: {' -> '.join(names)}")
        in_t = graph.tensors[graph.inputs[0]]
        if in_t.shape[3] != 1:
            raise TinyKWSError("the fused path needs a one-channel input")
        ops = Int8Runtime(graph).ops
        conv = ops[0].params
        if names[0] == "DEPTHWISE_CONV_2D":
            conv = depthwise_conv.as_conv(conv)  # (C_out, KH, KW, 1) filters: one layout
        self.conv, self.fc = conv, ops[2].params
        self.softmax = ops[3].params if len(ops) == 4 else None
        if gemm_dtype(conv.filter_data) is not np.float32:
            raise TinyKWSError("the fused path needs float32-exact convolution weights")
        self.weights = weights_matrix(conv.filter_data, np.float32)  # (KH * KW, C_out) float32
        self.kh, self.kw = conv.filter_data.shape[1:3]
        self.input_shape = tuple(in_t.shape[1:])
        positions = conv.output_height * conv.output_width
        self.cols = np.zeros((positions, self.kh * self.kw), np.float32)
        self.acc = np.empty((positions, self.weights.shape[1]), np.float32)
        self.sparse = sparse
        if sparse:
            if self.fc.weights_offset != 0:
                raise TinyKWSError("the sparse path needs symmetric FULLY_CONNECTED weights")
            self.conv_csr, self.fc_csr = to_csr(conv.filter_data), to_csr(self.fc.filter_data)

    def run(self, x: np.ndarray) -> np.ndarray:
        if x.shape != (1, *self.input_shape) or x.dtype != np.int8:
            raise TinyKWSError(f"input must be (1, {', '.join(map(str, self.input_shape))}) int8")
        if self.sparse:
            return self._finish(self._run_sparse(x))
        c = self.conv
        fill_im2col(x[0, :, :, 0], self.cols, c.input_offset, self.kh, self.kw, c.stride_height,
                    c.stride_width, c.padding_values, c.output_height, c.output_width)
        np.dot(self.cols, self.weights, out=self.acc)  # exact integer sums
        h = output_stage(self.acc, c.bias_data, c.output_multiplier, c.output_shift,
                         c.output_offset, c.quantized_activation_min, c.quantized_activation_max)
        return self._finish(fully_connected(h.reshape(1, -1), **vars(self.fc)))

    def _run_sparse(self, x: np.ndarray) -> np.ndarray:
        """Logits (1, K) int8 from the CSR convolution and FULLY_CONNECTED kernels."""
        w, v = self.conv_csr, self.fc_csr
        h = conv_per_channel_csr(x, w.values, w.indices, w.segments, self.kh, self.kw,
                                 **_without_filter(self.conv))  # (1, out_h, out_w, C_out) int8
        return fully_connected_csr(h.reshape(1, -1), v.values, v.indices, v.segments,
                                   **_without_filter(self.fc))

    def _finish(self, logits: np.ndarray) -> np.ndarray:
        """SOFTMAX of the logits when the graph ends with one."""
        return logits if self.softmax is None else softmax(logits, **vars(self.softmax))


def _without_filter(params) -> dict:
    """The kernel arguments of ``params`` but ``filter_data`` (the CSR arrays replace it)."""
    return {name: value for name, value in vars(params).items() if name != "filter_data"}
