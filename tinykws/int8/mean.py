"""Int8 MEAN over H and W (global average pooling), as TFLM's ``QuantizedMeanOrSum``.

TensorFlow turns Keras' ``GlobalAveragePooling2D`` into MEAN over axes 1 and 2
of an NHWC tensor (``keep_dims`` false: ``(1, C)``; true: ``(1, 1, 1, C)``).
TFLM's int8 MEAN (``micro/kernels/reduce_common.cc`` and
``reference/reduce.h``), unlike AVERAGE_POOL_2D, may rescale: in Prepare ::

    multiplier, shift = QuantizeMultiplier(double(input_scale) / double(output_scale))

and in Eval, with ``n = H * W`` the number of values averaged::

    sum   = sum of the raw int8 inputs over H, W                 (int32)
    k     = floor(log2(n)), at most 32 and at most 31 + shift
    multiplier' = (int64(multiplier) << k) / n                    (integer division)
    shift'      = shift - k
    out   = MultiplyByQuantizedMultiplier(sum - input_zero_point * n, multiplier', shift')
            + output_zero_point, clamped to [-128, 127]

So ``1/n`` is folded into the multiplier *by integer division*, after
scaling it up by ``2**k`` to keep its precision: the mean is not rounded once
from the exact quotient, and an ``n`` that is not a power of two loses the
last bits of the multiplier. There is no fused activation.

:class:`MeanParams`, :func:`prepare` and the reference :func:`mean`, with the
Numba twin :func:`kernels.int8_mean.mean`. Both return ``(N, C)``; the runtime
gives the output tensor's shape (``keep_dims`` or not).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinykws.int8 import kernel_util
from tinykws.int8.quantize_multiplier import multiply_by_quantized_multiplier, quantize_multiplier
from tinykws.tflite.model import Graph, Operator


@dataclass(frozen=True)
class MeanParams:
    """TFLM's ``OpDataReduce`` fields that int8 MEAN reads."""

    input_zp: int
    output_zp: int
    multiplier: int  # of input_scale / output_scale, before 1/n is folded in
    shift: int


def prepare(graph: Graph, op: Operator) -> MeanParams:
    """:class:`MeanParams` of an int8 MEAN over axes 1 and 2 of a 4-D tensor."""
    kernel_util.require_int8(graph, op, (op.inputs[0], op.outputs[0]))
    in_t, out_t = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
    axis_t = graph.tensors[op.inputs[1]]
    if axis_t.dtype != "int32":
        raise ValueError(f"axis tensor must be int32, is {axis_t.dtype}")
    axes = {int(a) + 4 if a < 0 else int(a) for a in np.ravel(graph.constant(op.inputs[1]))}
    if len(in_t.shape) != 4 or axes != {1, 2}:
        raise ValueError(f"only MEAN over axes 1 and 2 of a 4-D tensor (global average "
                         f"pooling) is supported, got axes {sorted(axes)} of {in_t.shape}")
    n, _, _, c = in_t.shape
    expected = (n, 1, 1, c) if op.options.get("keep_dims") else (n, c)
    if tuple(out_t.shape) != expected:
        raise ValueError(f"output shape {out_t.shape}, expected {expected}")
    in_scale, in_zp = kernel_util.single_quantization(graph, op.inputs[0])
    out_scale, out_zp = kernel_util.single_quantization(graph, op.outputs[0])
    multiplier, shift = quantize_multiplier(float(np.float32(in_scale))
                                            / float(np.float32(out_scale)))
    return MeanParams(input_zp=in_zp, output_zp=out_zp, multiplier=multiplier, shift=shift)


def mean_multiplier(multiplier: int, shift: int, num_elements: int) -> tuple[int, int]:
    """``(multiplier', shift')``: ``1 / num_elements`` folded in as TFLM's ``QuantizedMeanOrSum``."""
    k = min(num_elements.bit_length() - 1, 32, 31 + shift)  # 63 - CountLeadingZeros(n)
    return (multiplier << k) // num_elements, shift - k


def mean(input_data: np.ndarray, input_zp: int, output_zp: int, multiplier: int,
         shift: int) -> np.ndarray:
    """Int8 mean over H and W. input_data : (N, H, W, C) int8. Returns (N, C) int8."""
    n = input_data.shape[1] * input_data.shape[2]
    total = input_data.astype(np.int64).sum(axis=(1, 2))  # (N, C); int32 in TFLM, cannot wrap
    scaled_multiplier, scaled_shift = mean_multiplier(multiplier, shift, n)
    out = multiply_by_quantized_multiplier(total - input_zp * n, scaled_multiplier,
                                           scaled_shift) + output_zp
    return np.clip(out, -128, 127).astype(np.int8)
