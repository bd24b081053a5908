"""Int8 FULLY_CONNECTED and CONV_2D over compressed-row (CSR) weights: zeros skipped.

Unstructured magnitude pruning leaves most weights exactly 0. A zero weight
adds ``0 * (input + input_offset) = 0`` to TFLM's int32 accumulator, so
summing over the nonzero weights only gives the *same* accumulator, and after
the unchanged output stage (+ bias, ``MultiplyByQuantizedMultiplier``,
+ output_offset, clamp) the same int8 outputs, bit for bit, as the dense
kernels of :mod:`tinykws.int8.fully_connected` and :mod:`tinykws.int8.conv`
(and so as tflite-micro, which has no sparse kernels and runs the dense
ones). That rests on the weights being symmetric (``weights_offset = 0``, as
TFLite's int8 spec makes them): with a weight zero point ``z`` the stored
value ``z`` is the zero and the stored ``0`` is not, so the kernels here
refuse ``weights_offset != 0``.

Storage, per output row (an output neuron, or a conv filter flattened in
TFLite's ``(KH, KW, C_in)`` order)::

    values[segments[r]:segments[r + 1]]    the nonzero int8 weights of row r
    indices[segments[r]:segments[r + 1]]   their columns (tap numbers), ascending

the ``array_segments`` / ``array_indices`` pair of a ``SPARSE_CSR`` dimension
in TFLite's ``SparsityParameters`` (scipy calls them ``indptr`` / ``indices``).

These are the readable references; :mod:`kernels.int8_sparse` runs the same
sums in Numba, with the same names and arguments. They are not ops of the
runtime (TFLite has no sparse int8 kernels) but of the fused batch-1 path,
:class:`tinykws.int8.fused.FusedTinyConv`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinykws.int8.quantize_multiplier import output_stage
from tinykws.padding import PaddingValues


@dataclass(frozen=True)
class CsrWeights:
    """A (rows, columns) int8 weight matrix with only its nonzeros stored."""

    values: np.ndarray  # (nnz,) int8
    indices: np.ndarray  # (nnz,) int32 column of each value
    segments: np.ndarray  # (rows + 1,) int32: row r is values[segments[r]:segments[r + 1]]
    shape: tuple[int, int]

    @property
    def nnz(self) -> int:
        return int(self.values.size)

    def to_dense(self) -> np.ndarray:
        """The (rows, columns) int8 matrix back, zeros filled in."""
        dense = np.zeros(self.shape, np.int8)
        # rows: (nnz,) the row of each stored value
        rows = np.repeat(np.arange(self.shape[0]), np.diff(self.segments))
        dense[rows, self.indices] = self.values
        return dense


def to_csr(filters: np.ndarray) -> CsrWeights:
    """CSR of ``filters``: (C_out, ...) int8, each output's weights flattened in C order.

    For FULLY_CONNECTED ``(C_out, D)``; for CONV_2D ``(C_out, KH, KW, C_in)``
    becomes ``(C_out, KH * KW * C_in)`` with tap ``(ky * KW + kx) * C_in + ic``.
    """
    matrix = np.asarray(filters, np.int8).reshape(filters.shape[0], -1)  # (rows, cols) int8
    rows, cols = np.nonzero(matrix)  # row-major order: rows ascending, columns ascending within
    segments = np.zeros(matrix.shape[0] + 1, np.int32)
    np.cumsum(np.bincount(rows, minlength=matrix.shape[0]), out=segments[1:])
    return CsrWeights(matrix[rows, cols].copy(), cols.astype(np.int32), segments, matrix.shape)


def require_symmetric(weights_offset: int) -> None:
    """Skipping stored zeros is exact only when the stored 0 is the zero weight."""
    if weights_offset != 0:
        raise ValueError(f"sparse kernels need symmetric weights (weights_offset 0), "
                         f"got {weights_offset}: the zero weight would not be the stored 0")


def fully_connected_csr(input_data: np.ndarray, filter_values: np.ndarray,
                        filter_indices: np.ndarray, filter_segments: np.ndarray,
                        bias_data: np.ndarray | None, input_offset: int, weights_offset: int,
                        output_offset: int, output_multiplier, output_shift,
                        quantized_activation_min: int,
                        quantized_activation_max: int) -> np.ndarray:
    """Int8 dense layer summing over the nonzero weights only.

    The arguments of :func:`tinykws.int8.fully_connected.fully_connected`
    with ``filter_data`` replaced by the three arrays of its :func:`to_csr`;
    for every row ``b`` and output ``out_c``::

        acc = sum over j in row out_c of values[j] * (input[b, indices[j]] + input_offset)

    input_data : (N, D) int8. Returns (N, C_out) int8.
    """
    require_symmetric(weights_offset)
    rows = input_data.astype(np.int64) + input_offset  # (N, D) int64
    acc = np.zeros((rows.shape[0], filter_segments.size - 1), np.int64)  # (N, C_out)
    for out_c in range(acc.shape[1]):
        j = slice(filter_segments[out_c], filter_segments[out_c + 1])
        acc[:, out_c] = rows[:, filter_indices[j]] @ filter_values[j].astype(np.int64)
    return output_stage(acc, bias_data, output_multiplier, output_shift, output_offset,
                        quantized_activation_min, quantized_activation_max)


def conv_per_channel_csr(input_data: np.ndarray, filter_values: np.ndarray,
                         filter_indices: np.ndarray, filter_segments: np.ndarray,
                         filter_height: int, filter_width: int, bias_data: np.ndarray | None,
                         padding_values: PaddingValues, stride_width: int, stride_height: int,
                         dilation_width_factor: int, dilation_height_factor: int,
                         input_offset: int, output_offset: int, output_multiplier: np.ndarray,
                         output_shift: np.ndarray, quantized_activation_min: int,
                         quantized_activation_max: int, output_height: int,
                         output_width: int) -> np.ndarray:
    """Per-channel int8 convolution visiting each filter's nonzero taps only.

    The arguments of :func:`tinykws.int8.conv.conv_per_channel` with
    ``filter_data`` replaced by the three arrays of its :func:`to_csr` and its
    ``filter_height``, ``filter_width``. Each nonzero tap ``(ky, kx, ic)`` of
    filter ``out_c`` adds its weight times the strided slice of the
    zero-padded ``input + input_offset`` it sees (zeros in the padding:
    TFLM's skipped taps).

    input_data : (N, H, W, C_in) int8. Returns (N, output_height, output_width, C_out) int8.
    """
    filter_shape = (filter_height, filter_width, input_data.shape[3])
    p = padding_values
    padded = np.pad(input_data.astype(np.int64) + input_offset,
                    ((0, 0), (p.height, p.height + p.height_offset),
                     (p.width, p.width + p.width_offset), (0, 0)))  # (N, H+, W+, C_in) int64
    acc = np.zeros(padded.shape[:1] + (output_height, output_width, filter_segments.size - 1),
                   np.int64)  # int32 in TFLM (see output_stage)
    for out_c in range(acc.shape[3]):
        for j in range(filter_segments[out_c], filter_segments[out_c + 1]):
            ky, kx, ic = np.unravel_index(filter_indices[j], filter_shape)
            y0, x0 = ky * dilation_height_factor, kx * dilation_width_factor
            seen = padded[:, y0:y0 + (output_height - 1) * stride_height + 1:stride_height,
                          x0:x0 + (output_width - 1) * stride_width + 1:stride_width, ic]
            acc[..., out_c] += np.int64(filter_values[j]) * seen  # seen: (N, oh, ow)
    return output_stage(acc, bias_data, output_multiplier, output_shift, output_offset,
                        quantized_activation_min, quantized_activation_max)
