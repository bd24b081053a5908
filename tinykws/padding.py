"""SAME and VALID padding, once, as TFLite computes it (``kernels/padding.h``).

The float training layers (:mod:`tinykws.nn.conv`) and the int8 operators
(:mod:`tinykws.int8.conv`, :mod:`tinykws.int8.depthwise_conv`) use these
functions, so a model trained here and run as int8 agrees on every border.
Along one axis, with ``effective = (filter - 1) * dilation + 1``:

- ``ComputeOutSize``: SAME gives ``out = ceil(in / stride)``; VALID gives
  ``out = (in - effective) // stride + 1`` (only windows wholly inside);
- ``ComputePaddingWithOffset``: the padding the window needs,
  ``total = max((out - 1) * stride + effective - in, 0)``, is split
  ``total // 2`` before and ``total // 2 + total % 2`` after: an odd pixel
  goes at the bottom / right (TensorFlow's convention too).

``PaddingValues`` holds the result as TFLite's ``TfLitePaddingValues`` does:
``height`` / ``width`` before, ``height_offset`` / ``width_offset`` the extra
pixel after. The padded image is therefore ``in + 2 * height + height_offset``
rows tall. It is a NamedTuple so that the Numba kernels in ``kernels/``,
which import nothing from ``tinykws``, can take it as an argument.
"""

from __future__ import annotations

from typing import NamedTuple


class PaddingValues(NamedTuple):
    """TFLite's ``TfLitePaddingValues``: pixels before, and the odd extra one after."""

    width: int
    height: int
    width_offset: int = 0
    height_offset: int = 0


def compute_out_size(padding: str, image_size: int, filter_size: int, stride: int,
                     dilation_rate: int = 1) -> int:
    """``ComputeOutSize``: the output length along one axis; ValueError if none fits."""
    effective = (filter_size - 1) * dilation_rate + 1
    if padding == "SAME":
        out = (image_size + stride - 1) // stride
    elif padding == "VALID":
        out = (image_size + stride - effective) // stride
    else:
        raise ValueError(f"padding must be 'SAME' or 'VALID', not {padding!r}")
    if out < 1:
        raise ValueError(f"{padding} convolution needs input {image_size} >= kernel {effective}")
    return out


def compute_padding_with_offset(stride: int, dilation_rate: int, in_size: int,
                                filter_size: int, out_size: int) -> tuple[int, int]:
    """``ComputePaddingWithOffset``: (pixels before, the odd extra pixel after)."""
    effective = (filter_size - 1) * dilation_rate + 1
    total = max((out_size - 1) * stride + effective - in_size, 0)
    return total // 2, total % 2


def compute_padding_height_width(padding: str, stride_height: int, stride_width: int,
                                 dilation_rate_height: int, dilation_rate_width: int,
                                 in_height: int, in_width: int, filter_height: int,
                                 filter_width: int) -> tuple[PaddingValues, int, int]:
    """``ComputePaddingHeightWidth``: ``(padding_values, out_height, out_width)``."""
    out_height = compute_out_size(padding, in_height, filter_height, stride_height,
                                  dilation_rate_height)
    out_width = compute_out_size(padding, in_width, filter_width, stride_width,
                                 dilation_rate_width)
    height, height_offset = compute_padding_with_offset(stride_height, dilation_rate_height,
                                                        in_height, filter_height, out_height)
    width, width_offset = compute_padding_with_offset(stride_width, dilation_rate_width,
                                                      in_width, filter_width, out_width)
    return PaddingValues(width, height, width_offset, height_offset), out_height, out_width
