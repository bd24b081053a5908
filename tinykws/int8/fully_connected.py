"""Int8 FULLY_CONNECTED, per-tensor and per-channel, as TFLM's reference kernels.

``reference_integer_ops::FullyConnected`` (per-tensor weights) and
``FullyConnectedPerChannel`` (``reference/integer_ops/fully_connected.h``),
for every batch row ``b`` and output ``out_c``::

    acc  = sum_d (filter[out_c, d] + filter_offset) * (input[b, d] + input_offset)
    acc += bias[out_c]
    acc  = MultiplyByQuantizedMultiplier(acc, multiplier, shift)   # per out_c if per-channel
    out  = clamp(acc + output_offset, output_activation_min, output_activation_max)

``filter_offset = -filter_zero_point`` is 0 for the symmetric weights TFLite
makes (the per-channel kernel has no filter offset at all). The per-tensor
multiplier comes from :func:`~tinykws.int8.quantize_multiplier.fc_per_tensor_multiplier`,
the per-channel ones from :func:`~tinykws.int8.quantize_multiplier.conv_output_multipliers`
(both ``input_scale * weight_scale / output_scale`` in double).
"""

from __future__ import annotations

import numpy as np

from tinykws.int8.quantize_multiplier import multiply_by_quantized_multiplier


def fully_connected(x: np.ndarray, filters: np.ndarray, bias: np.ndarray | None,
                    input_offset: int, filter_offset: int, output_offset: int,
                    output_multiplier, output_shift,
                    output_activation_min: int, output_activation_max: int) -> np.ndarray:
    """Int8 dense layer.

    x : (N, D) int8 (any shape whose last axis is D is flattened to rows);
    filters : (C_out, D) int8; bias : (C_out,) int32 or None;
    output_multiplier, output_shift : int scalars (per-tensor) or (C_out,)
    arrays (per-channel). Returns (N, C_out) int8.
    """
    depth = filters.shape[1]
    rows = x.reshape(-1, depth).astype(np.int64) + input_offset  # (N, D) int64
    acc = rows @ (filters.astype(np.int64) + filter_offset).T  # (N, C_out) int64
    if bias is not None:
        acc += bias.astype(np.int64)
    acc = multiply_by_quantized_multiplier(acc, np.asarray(output_multiplier, np.int64),
                                           np.asarray(output_shift, np.int64))
    acc += output_offset
    return np.clip(acc, output_activation_min, output_activation_max).astype(np.int8)
