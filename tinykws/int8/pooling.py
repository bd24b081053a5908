"""Int8 AVERAGE_POOL_2D and MAX_POOL_2D, as TFLM's ``reference_integer_ops::AveragePool`` / ``MaxPool``.

Both visit, for every output position and channel, the part of the
``filter_height`` x ``filter_width`` window that lies inside the image
(``reference/integer_ops/pooling.h``)::

    in_y_origin = out_y * stride_height - padding_values.height      (likewise x)
    taps        = window rows/columns with 0 <= in_y < H, 0 <= in_x < W

    average:  acc = sum of input over taps (int32);  n = number of taps
              acc = (acc + n / 2) / n  if acc > 0  else  (acc - n / 2) / n   (C division)
    max:      acc = max of input over taps (starting from -128)
    out = clamp(acc, quantized_activation_min, quantized_activation_max)

The average is of the raw int8 values: there is no rescaling, because TFLM's
``PoolingPrepare`` requires the output to have the input's scale (to 1e-6)
and zero point. Its rounding, with C's truncating division, is round half
away from zero: ``7 / 2 -> 4``, ``-7 / 2 -> -4``. Padding is TFLite's
``ComputePaddingHeightWidth`` with dilation 1 (:mod:`tinykws.padding`); only
the padding before (``height``, ``width``) enters, the odd extra pixel after is
simply outside the image.

The layout is that of every op of :mod:`tinykws.int8.runtime`: :class:`PoolParams`,
:func:`prepare`, the NumPy references :func:`average_pool` and :func:`max_pool`,
and their Numba twins in :mod:`kernels.int8_pooling` (same names and arguments).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinykws.int8 import kernel_util
from tinykws.int8.quantize_multiplier import activation_range
from tinykws.padding import PaddingValues, compute_padding_height_width
from tinykws.tflite.model import Graph, Operator


@dataclass(frozen=True)
class PoolParams:
    """TFLM's ``PoolParams`` (``kernels/internal/types.h``), int8 fields, plus the output size."""

    stride_height: int
    stride_width: int
    filter_height: int
    filter_width: int
    padding_values: PaddingValues
    quantized_activation_min: int
    quantized_activation_max: int
    output_height: int
    output_width: int


def prepare(graph: Graph, op: Operator) -> PoolParams:
    """:class:`PoolParams` of either pooling, as TFLM's ``PoolingPrepare``; ValueError if it refuses."""
    kernel_util.require_int8(graph, op, (op.inputs[0], op.outputs[0]))
    in_t, out_t = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
    if len(in_t.shape) != 4 or len(out_t.shape) != 4:
        raise ValueError(f"needs 4-D input and output, got {in_t.shape} and {out_t.shape}")
    o = op.options
    padding_values, out_h, out_w = compute_padding_height_width(
        o["padding"], o["stride_h"], o["stride_w"], 1, 1, in_t.shape[1], in_t.shape[2],
        o["filter_height"], o["filter_width"])
    if tuple(out_t.shape) != (in_t.shape[0], out_h, out_w, in_t.shape[3]):
        raise ValueError(f"input {in_t.shape} and output {out_t.shape} do not fit "
                         f"(expected output size {(out_h, out_w)})")
    in_scale, in_zp = kernel_util.single_quantization(graph, op.inputs[0])
    out_scale, out_zp = kernel_util.single_quantization(graph, op.outputs[0])
    # TFLM subtracts the two float32 scales in float32.
    if abs(np.float32(in_scale) - np.float32(out_scale)) > 1e-6 or in_zp != out_zp:
        raise ValueError(f"int8 pooling needs the input's scale and zero point on its output, "
                         f"got ({in_scale}, {in_zp}) and ({out_scale}, {out_zp})")
    act_min, act_max = activation_range(o["activation"], out_scale, out_zp)
    return PoolParams(stride_height=o["stride_h"], stride_width=o["stride_w"],
                      filter_height=o["filter_height"], filter_width=o["filter_width"],
                      padding_values=padding_values, quantized_activation_min=act_min,
                      quantized_activation_max=act_max, output_height=out_h,
                      output_width=out_w)


def _windows(input_data: np.ndarray, fill: int, stride_height: int, stride_width: int,
             filter_height: int, filter_width: int, padding_values: PaddingValues,
             output_height: int, output_width: int) -> np.ndarray:
    """Every window of the input, padded with ``fill``: (N, OH, OW, C, FH, FW) int32.

    The image is padded enough on every side for every window (``padding_values``
    before, whatever the last window needs after), so padded taps are ``fill``.
    """
    n, h, w, c = input_data.shape
    top, left = padding_values.height, padding_values.width
    bottom = max((output_height - 1) * stride_height + filter_height - top - h, 0)
    right = max((output_width - 1) * stride_width + filter_width - left - w, 0)
    padded = np.pad(input_data.astype(np.int32), ((0, 0), (top, bottom), (left, right), (0, 0)),
                    constant_values=fill)  # (N, H+, W+, C) int32
    windows = np.lib.stride_tricks.sliding_window_view(padded, (filter_height, filter_width),
                                                       axis=(1, 2))  # (N, ., ., C, FH, FW)
    return windows[:, ::stride_height, ::stride_width][:, :output_height, :output_width]


def average_pool(input_data: np.ndarray, stride_height: int, stride_width: int,
                 filter_height: int, filter_width: int, padding_values: PaddingValues,
                 quantized_activation_min: int, quantized_activation_max: int,
                 output_height: int, output_width: int) -> np.ndarray:
    """Int8 average pooling over the taps inside the image, rounded half away from zero.

    input_data : (N, H, W, C) int8. Returns (N, output_height, output_width, C) int8.
    """
    geometry = dict(stride_height=stride_height, stride_width=stride_width,
                    filter_height=filter_height, filter_width=filter_width,
                    padding_values=padding_values, output_height=output_height,
                    output_width=output_width)
    acc = _windows(input_data, 0, **geometry).sum(axis=(4, 5))  # (N, OH, OW, C)
    inside = np.ones((1, *input_data.shape[1:3], 1), np.int8)
    count = _windows(inside, 0, **geometry).sum(axis=(4, 5))  # (1, OH, OW, 1) taps inside
    half = count // 2
    # C's division truncates toward zero: |acc +- half| // count with acc's sign.
    rounded = np.where(acc > 0, (acc + half) // count, -((half - acc) // count))
    return np.clip(rounded, quantized_activation_min, quantized_activation_max).astype(np.int8)


def max_pool(input_data: np.ndarray, stride_height: int, stride_width: int,
             filter_height: int, filter_width: int, padding_values: PaddingValues,
             quantized_activation_min: int, quantized_activation_max: int,
             output_height: int, output_width: int) -> np.ndarray:
    """Int8 max pooling over the taps inside the image.

    input_data : (N, H, W, C) int8. Returns (N, output_height, output_width, C) int8.
    Padding is filled with -128, which never beats a pixel (TFLM starts from -128).
    """
    acc = _windows(input_data, -128, stride_height, stride_width, filter_height, filter_width,
                   padding_values, output_height, output_width).max(axis=(4, 5))
    return np.clip(acc, quantized_activation_min, quantized_activation_max).astype(np.int8)
