"""The fused path: the whole int8 TinyConv graph in one Numba call, for one example or a batch.

``Int8Runtime`` runs any supported graph op by op; at batch 1 its generic
preparation of every call (allocating the phases and accumulators,
dispatching on op names, one Python call per op) costs about as much as
TinyConv's arithmetic. :class:`FusedTinyConv` recognises the TinyConv shape —
a one-input-channel convolution (CONV_2D or DEPTHWISE_CONV_2D), RESHAPE,
FULLY_CONNECTED and an optional SOFTMAX — works out once the table of tap
pairs (:mod:`kernels.int8_conv_pairs`: the column layout for TinyConv's stride
2 across, else the doubled phases), the buffers and the
FULLY_CONNECTED weights in the order the convolution leaves its outputs, and
per call runs :func:`kernels.int8_tiny_conv.tiny_conv` over the batch: the
four ops in integer arithmetic, two convolution taps per ``vpmaddwd``, with
no BLAS and no allocation but the output (see there).

``FusedTinyConv(graph, sparse=True)`` is the same graph for pruned weights:
the convolution and the FULLY_CONNECTED visit only their nonzero weights
(:mod:`kernels.int8_sparse`, compressed rows built once here), with the same
output stages, so the same bits; ``benchmarks/sparse.py`` measures from which
sparsity that is faster than the dense path.

The parameters (multipliers, shifts, offsets, padding) are ``Int8Runtime``'s
own (:class:`~tinykws.int8.conv.ConvParams` and the others), so the bits are
the runtime's, which the tests hold equal to tflite-micro's.
"""

from __future__ import annotations

import numpy as np

from kernels.int8_conv_pairs import (column_pair_table, columns_apply, doubled_shape,
                                     padded_run, pair_table)
from kernels.int8_softmax import softmax
from kernels.int8_sparse import conv_per_channel_csr, fully_connected_csr
from kernels.int8_tiny_conv import fc_weights_by_phase_rows, tiny_conv
from kernels.stride_phases import phase_shape
from tinykws.errors import TinyKWSError
from tinykws.int8 import depthwise_conv
from tinykws.int8.runtime import Int8Runtime
from tinykws.int8.sparse import to_csr


class FusedTinyConv:
    """Int8 TinyConv in one pass; ``run(x (N, H, W, 1) int8) -> (N, K) int8``.

    ``sparse=True`` skips zero weights (for magnitude-pruned models); the
    outputs are the same bits either way (the sparse path runs one example per call).
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
        self.kh, self.kw = conv.filter_data.shape[1:3]
        self.input_shape = tuple(in_t.shape[1:])
        c_out = conv.filter_data.shape[0]
        shape = phase_shape(*self.input_shape, conv.stride_height, conv.stride_width,
                            conv.padding_values)  # (sh, sw, 1, PH, PW)
        phase_w = shape[4]
        self.columns = columns_apply(conv.stride_width, conv.dilation_width_factor)
        pairs_shape = doubled_shape(shape, 0)
        if self.columns:  # the row phases of the padded image, columns in order
            pairs_shape = (conv.stride_height, pairs_shape[1])
        self.pairs = np.zeros(pairs_shape, np.int16)  # border stays 0
        if self.columns:
            self.offsets, self.wpairs = column_pair_table(
                conv.filter_data, conv.stride_height, conv.dilation_height_factor, phase_w,
                self.pairs.shape[1])
        else:
            self.offsets, self.wpairs = pair_table(
                conv.filter_data, conv.stride_height, conv.stride_width,
                conv.dilation_height_factor, conv.dilation_width_factor, phase_w,
                self.pairs.shape[1])
        run = padded_run(conv.output_height * phase_w)  # output (oy, ox) is column oy * PW + ox
        self.acc = np.empty((self.wpairs.shape[0], run), np.int32)
        self.h = np.empty((c_out, run), np.int16)
        self.fc_weights = fc_weights_by_phase_rows(
            self.fc.filter_data, self.fc.weights_offset, conv.output_height,
            conv.output_width, c_out, phase_w, run)  # (K, C * run) int16
        s = self.softmax
        self._arguments = (
            self.pairs, self.columns, self.offsets, self.wpairs, self.acc, self.h,
            conv.input_offset, conv.padding_values.height, conv.padding_values.width,
            conv.stride_height, conv.stride_width, phase_w,
            conv.bias_data, conv.output_multiplier, conv.output_shift, conv.output_offset,
            conv.quantized_activation_min, conv.quantized_activation_max, self.fc_weights,
            self.fc.input_offset, self.fc.bias_data, self.fc.output_multiplier,
            self.fc.output_shift, self.fc.output_offset, self.fc.quantized_activation_min,
            self.fc.quantized_activation_max, s is not None,
            0 if s is None else s.input_multiplier, 0 if s is None else s.input_left_shift,
            0 if s is None else s.diff_min)
        self.sparse = sparse
        if sparse:
            if self.fc.weights_offset != 0:
                raise TinyKWSError("the sparse path needs symmetric FULLY_CONNECTED weights")
            self.conv_csr, self.fc_csr = to_csr(conv.filter_data), to_csr(self.fc.filter_data)

    def run(self, x: np.ndarray) -> np.ndarray:
        """x : (N, H, W, 1) int8 -> (N, K) int8, one example after another."""
        if x.ndim != 4 or x.shape[1:] != self.input_shape or x.dtype != np.int8:
            raise TinyKWSError(f"input must be (N, {', '.join(map(str, self.input_shape))}) int8")
        if self.sparse:
            if x.shape[0] != 1:
                raise TinyKWSError("the sparse path runs one example: input must be "
                                   f"(1, {', '.join(map(str, self.input_shape))}) int8")
            return self._finish(self._run_sparse(x))
        return tiny_conv(x, *self._arguments)

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
