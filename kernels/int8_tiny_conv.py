"""The im2col fill of the fused batch-1 TinyConv path (:class:`tinykws.int8.fused.FusedTinyConv`).

That path multiplies this matrix with the weights through BLAS, exactly
(every partial sum is an integer below 2**24, see :mod:`kernels.int8_conv_gemm`),
so the only per-call work besides the product is this one Numba loop.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def fill_im2col(input_data, cols, input_offset, filter_height, filter_width, stride_height,
                stride_width, padding_values, output_height, output_width):
    """input_data : (H, W) int8 -> cols : (out_h * out_w, KH * KW) float32 of ``x + input_offset``.

    Taps outside the image are 0, TFLM's skipped taps; ``padding_values`` is
    TFLite's ``PaddingValues`` (only the padding before is read).
    """
    height, width = input_data.shape
    pad_height, pad_width = padding_values.height, padding_values.width
    for oy in range(output_height):
        for ox in range(output_width):
            row = oy * output_width + ox
            for ky in range(filter_height):
                iy = oy * stride_height - pad_height + ky
                for kx in range(filter_width):
                    ix = ox * stride_width - pad_width + kx
                    if 0 <= iy < height and 0 <= ix < width:
                        cols[row, ky * filter_width + kx] = np.float32(
                            input_data[iy, ix] + input_offset)
                    else:
                        cols[row, ky * filter_width + kx] = 0.0
