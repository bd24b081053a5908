"""The arena's tail: TFLM's persistent bookkeeping, in bytes.

Besides the planned activations (:mod:`tinykws.mcu.arena`), the arena holds
what the interpreter keeps for as long as it lives. tflite-micro's
``RecordingMicroAllocator`` itemises it; these sizes are what it reports on
the tinykws and TensorFlow TinyConv models (tflite-micro's Python
interpreter, a 64-bit host, reference kernels; CMSIS-NN's op data differ
by a few bytes):

=================================  ==========================================
item                               bytes
=================================  ==========================================
``TfLiteEvalTensor``               24 per tensor of the model (constants too)
persistent ``TfLiteTensor``        64 + 32 of quantization data per graph
                                   input and output
``NodeAndRegistration``            64 per operator
kernel op data                     CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED
                                   96, SOFTMAX 84, ADD 136 (what makes
                                   TC-ResNet8's tail exact), MEAN 32 (a one-
                                   MEAN graph's tail less a one-RESHAPE
                                   graph's), SVDF 48, pooling 32 (not
                                   measured), others 0; plus two int32 arrays
                                   (multiplier, shift) of one entry per
                                   output channel, each rounded up to 16
                                   bytes: always for a convolution, only for
                                   a per-channel quantized FULLY_CONNECTED
allocator, graph and planner       588, fixed
variable tensors                   their bytes, each rounded up to 16 (an
                                   SVDF's int16 state lives in the tail)
=================================  ==========================================

This reproduces the host's tail to the byte on those models (see
``tests/test_mcu.py``). On the zoo's deeper graphs it falls short of the
host's by 24 bytes per CONV_2D that is not the graph's first operator and 40
per pooling operator (DS-CNN 1.6 %, 136 of 8,272 bytes; conv 2.1 %), a gap not
yet traced to a structure; one-operator graphs land within 15 %. On the
Cortex-M4 pointers take 4 bytes, not 8, so the same structures are smaller there: the estimate is a slight
*over*-estimate of the device's arena, by a few hundred bytes at most.
TinyConv's whole arena comes to 9.6 KB, which agrees with micro_speech's
README: "only uses about 10 kilobytes of RAM for working memory".
"""

from __future__ import annotations

import numpy as np

from tinykws.mcu.arena import align
from tinykws.tflite.model import Graph

EVAL_TENSOR_BYTES = 24
IO_TENSOR_BYTES = 64 + 32
NODE_BYTES = 64
FIXED_BYTES = 588
OP_DATA_BYTES = {
    "CONV_2D": 96,
    "DEPTHWISE_CONV_2D": 96,
    "FULLY_CONNECTED": 96,
    "SOFTMAX": 84,
    "AVERAGE_POOL_2D": 32,
    "MAX_POOL_2D": 32,
    "ADD": 136,
    "MEAN": 32,
    "SVDF": 48,  # OpDataSvdf, as measured on low_latency_svdf
}
CONVOLUTIONS = ("CONV_2D", "DEPTHWISE_CONV_2D")


def persistent_bytes(graph: Graph) -> int:
    """Bytes TFLM keeps in the arena's tail for ``graph`` (host-measured sizes)."""
    total = FIXED_BYTES + EVAL_TENSOR_BYTES * len(graph.tensors)
    total += IO_TENSOR_BYTES * len(set(graph.inputs) | set(graph.outputs))
    total += NODE_BYTES * len(graph.operators)
    total += sum(align(int(np.prod(t.shape)) * np.dtype(t.dtype).itemsize)
                 for t in graph.tensors if t.is_variable)
    for op in graph.operators:
        total += OP_DATA_BYTES.get(op.op, 0)
        weights = graph.tensors[op.inputs[1]] if len(op.inputs) > 1 else None
        if op.op in CONVOLUTIONS or (op.op == "FULLY_CONNECTED" and weights.is_per_channel):
            channels = graph.tensors[op.outputs[0]].shape[-1]
            total += 2 * align(4 * channels)
    return total
