"""Kernel scratch buffers: arena bytes an operator asks for while it runs.

TFLM kernels may request a scratch buffer in ``Prepare``; the planner gives
it a lifetime of that one operator. Of the reference kernels ``MEAN`` and
``SVDF`` ask (``SVDF`` below). ``MEAN`` (``reduce_common.cc``, whichever
library: CMSIS-NN has no MEAN, so the reference kernel runs) asks for an
int32 accumulator per output element, an int per
input dimension (the running index) and an int per reduced axis, each buffer
16-byte aligned (measured with tflite-micro's allocator, ``tests/test_mcu.py``).
CMSIS-NN's sizes, as its ``*_get_buffer_size`` functions compute them for a
Cortex-M4 with the DSP extension (no MVE):

- ``CONV_2D``: none for a 1x1 filter with stride 1, no padding and a
  multiple of 4 input channels (``arm_convolve_1x1_s8_fast``); else the
  im2col buffer of ``arm_convolve_s8``, two columns of ``C * KH * KW`` int16:
  ``2 * C * KH * KW * 2`` bytes;
- ``DEPTHWISE_CONV_2D``: none for depth multiplier > 1
  (``arm_depthwise_conv_s8``); else ``C * KH * KW`` int16, the size of
  ``arm_depthwise_conv_s8_opt``'s buffer, which the wrapper requests even
  when it will take the 3x3 path;
- ``AVERAGE_POOL_2D``: one int32 accumulator per channel;
- ``SVDF``, in both libraries (the reference kernel asks too): two int32
  buffers, one value per filter and one per unit (the time filter's sums,
  then the rank-reduced ones), as two requests;
- anything else: none.
"""

from __future__ import annotations

import numpy as np

from tinykws.mcu.arena import align
from tinykws.tflite.model import Graph, Operator


def scratch_bytes(kernels: str, graph: Graph, op: Operator) -> int:
    """Bytes of scratch ``op`` requests under kernel library ``kernels``."""
    if op.op == "MEAN":
        outputs = int(np.prod(graph.tensors[op.outputs[0]].shape, dtype=np.int64))
        dims = len(graph.tensors[op.inputs[0]].shape)
        axes = int(np.prod(graph.tensors[op.inputs[1]].shape, dtype=np.int64))
        return align(4 * outputs) + align(4 * dims) + align(4 * axes)
    if op.op == "SVDF":
        batch, units = graph.tensors[op.outputs[0]].shape
        filters = graph.tensors[op.inputs[2]].shape[0]
        return align(4 * batch * filters) + align(4 * batch * units)
    if kernels != "cmsis-nn":
        return 0
    if op.op == "CONV_2D":
        _, kh, kw, c = graph.tensors[op.inputs[1]].shape
        fast_1x1 = (kh, kw) == (1, 1) and c % 4 == 0 and op.options.get("stride_h", 1) == 1 \
            and op.options.get("stride_w", 1) == 1
        return 0 if fast_1x1 else 2 * c * kh * kw * 2
    if op.op == "DEPTHWISE_CONV_2D":
        _, kh, kw, _ = graph.tensors[op.inputs[1]].shape
        c = graph.tensors[op.inputs[0]].shape[-1]
        return 0 if op.options.get("depth_multiplier", 1) != 1 else c * kh * kw * 2
    if op.op == "AVERAGE_POOL_2D":
        return 4 * graph.tensors[op.inputs[0]].shape[-1]
    return 0
