"""Int8 FULLY_CONNECTED and CONV_2D over compressed-row (CSR) weights: zeros skipped.

Unstructured magnitude pruning leaves most weights exactly 0. A zero weight
adds ``0 * (input + input_offset) = 0`` to TFLM's int32 accumulator, so
summing over the nonzero weights only gives the *same* accumulator, and after
the unchanged output stage (+ bias, ``MultiplyByQuantizedMultiplier``,
+ output_offset, clamp) the same int8 outputs, bit for bit, as the dense
kernels of :mod:`tinykws.int8.fully_connected` and :mod:`tinykws.int8.conv`
(and so as tflite-micro, which has no sparse kernels and runs the dense
ones). That rests on the weights being symmetric (``filter_offset = 0``, as
TFLite's int8 spec makes them): with a weight zero point ``z`` the stored
value ``z`` is the zero and the stored ``0`` is not, so the kernels here
refuse ``filter_offset != 0``.

Storage, per output row (an output neuron, or a conv filter flattened in
TFLite's ``(KH, KW, C_in)`` order)::

    values[segments[r]:segments[r + 1]]    the nonzero int8 weights of row r
    indices[segments[r]:segments[r + 1]]   their columns (tap numbers), ascending

the ``array_segments`` / ``array_indices`` pair of a ``SPARSE_CSR`` dimension
in TFLite's ``SparsityParameters`` (scipy calls them ``indptr`` / ``indices``).

These are the readable references; :mod:`kernels.int8_sparse` runs the same
sums in Numba.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinykws.int8.quantize_multiplier import multiply_by_quantized_multiplier


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


def _require_symmetric(filter_offset: int) -> None:
    if filter_offset != 0:
        raise ValueError(f"sparse kernels need symmetric weights (filter_offset 0), "
                         f"got {filter_offset}: the zero weight would not be the stored 0")


def _output_stage(acc, bias, output_multiplier, output_shift, output_offset,
                  output_activation_min, output_activation_max) -> np.ndarray:
    """TFLM's epilogue on int64 accumulators (last axis = output channel)."""
    if bias is not None:
        acc = acc + bias.astype(np.int64)
    acc = multiply_by_quantized_multiplier(acc, np.asarray(output_multiplier, np.int64),
                                           np.asarray(output_shift, np.int64))
    acc += output_offset
    return np.clip(acc, output_activation_min, output_activation_max).astype(np.int8)


def fully_connected_csr(x: np.ndarray, weights: CsrWeights, bias: np.ndarray | None,
                        input_offset: int, filter_offset: int, output_offset: int,
                        output_multiplier, output_shift, output_activation_min: int,
                        output_activation_max: int) -> np.ndarray:
    """Int8 dense layer summing over the nonzero weights only.

    The arguments of :func:`tinykws.int8.fully_connected.fully_connected`
    with ``filters`` replaced by its :func:`to_csr`; for every row ``b`` and
    output ``out_c``::

        acc = sum over j in row out_c of values[j] * (x[b, indices[j]] + input_offset)

    x : (N, D) int8. Returns (N, C_out) int8.
    """
    _require_symmetric(filter_offset)
    rows = x.reshape(-1, weights.shape[1]).astype(np.int64) + input_offset  # (N, D) int64
    acc = np.zeros((rows.shape[0], weights.shape[0]), np.int64)  # (N, C_out)
    for out_c in range(weights.shape[0]):
        j = slice(weights.segments[out_c], weights.segments[out_c + 1])
        acc[:, out_c] = rows[:, weights.indices[j]] @ weights.values[j].astype(np.int64)
    return _output_stage(acc, bias, output_multiplier, output_shift, output_offset,
                         output_activation_min, output_activation_max)


def conv2d_per_channel_csr(x: np.ndarray, weights: CsrWeights, filter_shape: tuple[int, int, int],
                           bias: np.ndarray | None, input_offset: int, output_offset: int,
                           output_multiplier: np.ndarray, output_shift: np.ndarray,
                           output_activation_min: int, output_activation_max: int,
                           stride_h: int, stride_w: int, pad_h: int, pad_w: int,
                           out_h: int, out_w: int, dilation_h: int = 1,
                           dilation_w: int = 1) -> np.ndarray:
    """Per-channel int8 convolution visiting each filter's nonzero taps only.

    The arguments of :func:`tinykws.int8.conv.conv2d_per_channel` with
    ``filters`` replaced by its :func:`to_csr` and ``filter_shape = (KH, KW,
    C_in)``. Each nonzero tap ``(ky, kx, ic)`` of filter ``out_c`` adds its
    weight times the strided slice of the zero-padded ``x + input_offset``
    it sees (zeros in the padding: TFLM's skipped taps).

    x : (N, H, W, C_in) int8. Returns (N, out_h, out_w, C_out) int8.
    """
    n, h, w, c_in = x.shape
    kh, kw, _ = filter_shape
    need_h = (out_h - 1) * stride_h + (kh - 1) * dilation_h + 1
    need_w = (out_w - 1) * stride_w + (kw - 1) * dilation_w + 1
    padded = np.zeros((n, max(need_h, pad_h + h), max(need_w, pad_w + w), c_in), np.int64)
    padded[:, pad_h:pad_h + h, pad_w:pad_w + w, :] = x.astype(np.int64) + input_offset
    acc = np.zeros((n, out_h, out_w, weights.shape[0]), np.int64)  # int32 in TFLM
    for out_c in range(weights.shape[0]):
        for j in range(weights.segments[out_c], weights.segments[out_c + 1]):
            ky, kx, ic = np.unravel_index(weights.indices[j], filter_shape)
            y0, x0 = ky * dilation_h, kx * dilation_w
            seen = padded[:, y0:y0 + (out_h - 1) * stride_h + 1:stride_h,
                          x0:x0 + (out_w - 1) * stride_w + 1:stride_w, ic]  # (N, oh, ow)
            acc[..., out_c] += np.int64(weights.values[j]) * seen
    return _output_stage(acc, bias, output_multiplier, output_shift, output_offset,
                         output_activation_min, output_activation_max)
