"""Per-channel int8 CONV_2D, as TFLM's ``reference_integer_ops::ConvPerChannel``.

The integer recipe (``reference/integer_ops/conv.h``), for every output
position and output channel::

    acc  = sum over (filter_y, filter_x, in_channel) inside the image of
           filter[out_c, fy, fx, ic] * (input[b, in_y, in_x, ic] + input_offset)
    acc += bias[out_c]
    acc  = MultiplyByQuantizedMultiplier(acc, output_multiplier[out_c], output_shift[out_c])
    acc += output_offset
    out  = clamp(acc, output_activation_min, output_activation_max)

with ``input_offset = -input_zero_point`` and ``output_offset =
output_zero_point``. Taps falling in the padding are *skipped*, which is the
same as padding ``input + input_offset`` with zeros (what this vectorised
reference does). Weights are symmetric (zero point 0). Padding follows
``ComputePaddingHeightWidth`` (``kernels/padding.h``): SAME pads
``((out - 1) * stride + effective_filter - in) // 2`` before (the odd extra
pixel goes after), VALID pads nothing.
"""

from __future__ import annotations

import numpy as np

from tinykws.int8.quantize_multiplier import multiply_by_quantized_multiplier


def output_size(padding: str, in_size: int, filter_size: int, stride: int,
                dilation: int = 1) -> int:
    """``ComputeOutSize``: spatial output length for SAME or VALID padding."""
    effective = (filter_size - 1) * dilation + 1
    if padding == "SAME":
        return (in_size + stride - 1) // stride
    if padding == "VALID":
        return (in_size + stride - effective) // stride
    raise ValueError(f"unknown padding {padding!r}")


def compute_padding(stride: int, dilation: int, in_size: int, filter_size: int,
                    out_size: int) -> int:
    """``ComputePadding``: pixels of padding before the first input row/column."""
    effective = (filter_size - 1) * dilation + 1
    total = (out_size - 1) * stride + effective - in_size
    return max(int(total / 2), 0)  # C's truncating division, then clamp at 0


def conv2d_per_channel(x: np.ndarray, filters: np.ndarray, bias: np.ndarray | None,
                       input_offset: int, output_offset: int,
                       output_multiplier: np.ndarray, output_shift: np.ndarray,
                       output_activation_min: int, output_activation_max: int,
                       stride_h: int, stride_w: int, pad_h: int, pad_w: int,
                       out_h: int, out_w: int, dilation_h: int = 1,
                       dilation_w: int = 1) -> np.ndarray:
    """Int8 convolution with one (multiplier, shift) per output channel.

    Parameters
    ----------
    x : (N, H, W, C_in) int8 input.
    filters : (C_out, KH, KW, C_in) int8 weights.
    bias : (C_out,) int32 or None.
    output_multiplier, output_shift : (C_out,) int32, from
        :func:`~tinykws.int8.quantize_multiplier.conv_output_multipliers`.

    Returns (N, out_h, out_w, C_out) int8.
    """
    n, h, w, c_in = x.shape
    c_out, kh, kw, _ = filters.shape
    # Padded region holds 0 == (input_zero_point + input_offset): the skipped taps.
    shifted = x.astype(np.int64) + input_offset  # (N, H, W, C_in) int64
    eff_h, eff_w = (kh - 1) * dilation_h + 1, (kw - 1) * dilation_w + 1
    need_h = (out_h - 1) * stride_h + eff_h
    need_w = (out_w - 1) * stride_w + eff_w
    padded = np.zeros((n, max(need_h, pad_h + h), max(need_w, pad_w + w), c_in), np.int64)
    padded[:, pad_h:pad_h + h, pad_w:pad_w + w, :] = shifted
    w64 = filters.astype(np.int64)  # (C_out, KH, KW, C_in) int64
    acc = np.zeros((n, out_h, out_w, c_out), np.int64)  # int32 in TFLM; no overflow here
    for fy in range(kh):
        for fx in range(kw):
            y0, x0 = fy * dilation_h, fx * dilation_w
            patch = padded[:, y0:y0 + (out_h - 1) * stride_h + 1:stride_h,
                           x0:x0 + (out_w - 1) * stride_w + 1:stride_w, :]  # (N, oh, ow, C_in)
            acc += patch @ w64[:, fy, fx, :].T
    if bias is not None:
        acc += bias.astype(np.int64)
    acc = multiply_by_quantized_multiplier(acc, output_multiplier.astype(np.int64),
                                           output_shift.astype(np.int64))
    acc += output_offset
    return np.clip(acc, output_activation_min, output_activation_max).astype(np.int8)
