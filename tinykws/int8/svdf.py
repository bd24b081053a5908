"""Int8 SVDF, a streaming op: one frame in, the memory of past frames kept as int16 state.

TFLM's ``EvalIntegerSvdfReference<int16_t>`` (``micro/kernels/svdf_common.cc``),
the op TFLite makes of :class:`tinykws.nn.svdf.SVDF`. Inputs, in order:
``input (N, D)`` int8, ``weights_feature (F, D)`` int8, ``weights_time (F, M)``
int16, ``bias (units,)`` int32 and ``activation_state (N, M * F)`` int16, a
*variable* tensor (``is_variable`` in the file) that the op reads and rewrites
on every call; output ``(N, units)`` int8, ``units = F / rank`` (SVDFOptions'
``rank``). The state is filter-major, ``state[n, f * M + j]``, oldest frame
first. Each call, for each example::

    state      <- state shifted left by one                      (the oldest frame leaves)
    dot[f]      = sum_d weights_feature[f, d] * (input[d] - input_zero_point)
    state[f, M-1] = int16(activation_state_zero_point
                          + clamp(MBQM(dot[f], effective_scale_1), -32768, 32767))
    time[f]     = sum_j weights_time[f, j] * (state[f, j] - activation_state_zero_point)
    acc[u]      = bias[u] + sum_r time[u * rank + r]             (the rank reduction)
    out[u]      = clamp(MBQM(acc[u], effective_scale_2) + output_zero_point, -128, 127)

with ``MBQM`` TFLite's ``MultiplyByQuantizedMultiplier`` and the two effective
scales made in Prepare from the tensors' float32 scales::

    effective_scale_1 = input_scale * weights_feature_scale / state_scale
    effective_scale_2 = state_scale * weights_time_scale / output_scale

``svdf_common.cc`` writes these as float products cast to double afterwards,
but the tflite-micro build we test against rounds as if they were taken in
double (a pinned case in ``tests/test_int8_svdf_vs_tflm.py`` tells the two
apart), so they are double products here, as for every other op.

Prepare also insists the bias scale be ``state_scale * weights_time_scale``
(within 1e-5). The sums are int32 in TFLM and wrap there; here they are
exact int64 sums wrapped once at the end, which is the same modulo 2**32.

The op takes no fused activation in int8: the options' ``fused_activation_function``
is ignored and the output is only clamped to int8. A ReLU after the SVDF is
therefore made by the output quantization, whose zero point is -128 when the
calibrated minimum is 0, so the clamp is the ReLU.

TFLM resets an int16 variable tensor to 0 (an int8 one to its zero point):
:meth:`tinykws.int8.runtime.Int8Runtime.reset_state` does the same.

:class:`SvdfParams`, :func:`prepare` and the reference :func:`svdf`, with the
Numba twin :func:`kernels.int8_svdf.svdf`; both take ``(input, state)`` and
return ``(output, new_state)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinykws.int8 import kernel_util
from tinykws.int8.quantize_multiplier import (
    multiply_by_quantized_multiplier, quantize_multiplier, wrap_int32)
from tinykws.tflite.model import Graph, Operator

STATE_INPUT = 4  # the index, among the op's inputs, of the activation state


@dataclass(frozen=True, eq=False)
class SvdfParams:
    """TFLM's ``OpDataSvdf`` plus the rank and the constant tensors the kernel reads."""

    weights_feature: np.ndarray  # (F, D) int8
    weights_time: np.ndarray  # (F, M) int16
    bias: np.ndarray  # (units,) int32
    rank: int
    input_zero_point: int
    output_zero_point: int
    activation_state_zero_point: int
    effective_scale_1_a: int  # multiplier and shift: input * feature -> state
    effective_scale_1_b: int
    effective_scale_2_a: int  # state * time -> output
    effective_scale_2_b: int
    # int8's top, as TFLM clamps; lower only in the quantization study (Int8Runtime's
    # activation_bits), which keeps b-bit outputs on their grid
    quantized_activation_max: int = 127


def prepare(graph: Graph, op: Operator) -> SvdfParams:
    """:class:`SvdfParams` of an int8 SVDF with int16 time weights and state (TFLM's ``PrepareSvdf``)."""
    if len(op.inputs) != 5 or min(op.inputs) < 0:
        raise ValueError(f"SVDF needs 5 inputs (input, weights_feature, weights_time, bias, "
                         f"activation_state), has {op.inputs}")
    i_in, i_wf, i_wt, i_bias, i_state = op.inputs
    kernel_util.require_int8(graph, op, (i_in, i_wf, op.outputs[0]))
    t = graph.tensors
    for index, dtype in ((i_wt, "int16"), (i_state, "int16"), (i_bias, "int32")):
        if t[index].dtype != dtype:
            raise ValueError(f"tensor {t[index].name!r} is {t[index].dtype}, SVDF needs {dtype}")
    if not t[i_state].is_variable:
        raise ValueError(f"the activation state {t[i_state].name!r} must be a variable tensor")
    rank = int(op.options.get("rank", 0))
    wf, wt = graph.constant(i_wf), graph.constant(i_wt)
    filters, memory = wt.shape
    batch = t[i_in].shape[0]
    if rank < 1 or filters % rank or wf.shape != (filters, t[i_in].shape[1]):
        raise ValueError(f"weights_feature {wf.shape}, weights_time {wt.shape} and rank {rank} "
                         f"do not fit input {t[i_in].shape}")
    units = filters // rank
    expected = {i_bias: (units,), i_state: (batch, memory * filters), op.outputs[0]: (batch, units)}
    for index, shape in expected.items():
        if tuple(t[index].shape) != shape:
            raise ValueError(f"tensor {t[index].name!r} has shape {t[index].shape}, expected {shape}")
    s_in, zp_in = kernel_util.single_quantization(graph, i_in)
    s_state, zp_state = kernel_util.single_quantization(graph, i_state)
    s_out, zp_out = kernel_util.single_quantization(graph, op.outputs[0])
    s_wf, s_wt = t[i_wf].scale[0], t[i_wt].scale[0]  # TFLM reads params.scale: the first one
    if abs(t[i_bias].scale[0] - s_state * s_wt) >= 1e-5:
        raise ValueError(f"bias scale {t[i_bias].scale[0]} is not state scale x time weights "
                         f"scale {s_state * s_wt}")
    m1, shift1 = quantize_multiplier(s_in * s_wf / s_state)
    m2, shift2 = quantize_multiplier(s_state * s_wt / s_out)
    return SvdfParams(wf, wt, graph.constant(i_bias).astype(np.int32), rank, zp_in, zp_out,
                      zp_state, m1, shift1, m2, shift2)


def svdf(input_data: np.ndarray, activation_state: np.ndarray, weights_feature: np.ndarray,
         weights_time: np.ndarray, bias: np.ndarray, rank: int, input_zero_point: int,
         output_zero_point: int, activation_state_zero_point: int, effective_scale_1_a: int,
         effective_scale_1_b: int, effective_scale_2_a: int, effective_scale_2_b: int,
         quantized_activation_max: int = 127) -> tuple[np.ndarray, np.ndarray]:
    """One SVDF call. input_data : (N, D) int8; activation_state : (N, M * F) int16.

    Returns ``(output (N, units) int8, new activation_state (N, M * F) int16)``;
    the input state is left as it was.
    """
    n = len(input_data)
    filters, memory = weights_time.shape
    x = input_data.reshape(n, -1).astype(np.int64) - input_zero_point  # (N, D)
    dot = x @ weights_feature.astype(np.int64).T  # (N, F): the feature filter
    dot = np.clip(multiply_by_quantized_multiplier(dot, effective_scale_1_a, effective_scale_1_b),
                  -32768, 32767)
    newest = (dot + activation_state_zero_point).astype(np.int16)  # wraps, as C's int16 does
    state = activation_state.reshape(n, filters, memory)  # (N, F, M), oldest first
    state = np.concatenate([state[:, :, 1:], newest[:, :, None]], axis=2)
    time = ((state.astype(np.int64) - activation_state_zero_point)
            * weights_time.astype(np.int64)).sum(axis=2)  # (N, F): the time filter
    acc = wrap_int32(bias.astype(np.int64) + time.reshape(n, filters // rank, rank).sum(axis=2))
    out = multiply_by_quantized_multiplier(acc, effective_scale_2_a, effective_scale_2_b)
    out = np.clip(out + output_zero_point, -128, quantized_activation_max).astype(np.int8)  # (N, units)
    return out, state.reshape(n, filters * memory)
