"""Zero-skipping (CSR) int8 kernels give exactly the dense kernels' bits, and tflite-micro's.

A zero weight adds nothing to TFLM's accumulator, so summing over the
nonzeros is not an approximation: for every shape, sparsity and
quantization the NumPy CSR reference, the Numba CSR kernel and the dense
kernel agree byte for byte, and the sparse fused TinyConv path equals
tflite-micro on magnitude-pruned models.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from fixtures import assert_fused_equals_tflite_micro, conv_geometry
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kernels import int8_sparse
from kernels.int8_conv import conv_per_channel
from kernels.int8_fully_connected import fully_connected
from tinykws.errors import TinyKWSError
from tinykws.int8 import sparse
from tinykws.int8.fused import FusedTinyConv
from tinykws.int8.quantize_multiplier import quantize_multipliers
from tinykws.int8.sparse import to_csr
from tinykws.tflite.reader import parse_tflite, read_tflite

seeds = st.integers(0, 2 ** 32 - 1)
sparsities = st.sampled_from([0.0, 0.3, 0.7, 0.9, 0.99, 1.0])


def pruned_int8(rng, shape, sparsity: float) -> np.ndarray:
    """Random int8 weights of ``shape`` with about ``sparsity`` of them exactly 0."""
    w = rng.integers(-127, 128, shape).astype(np.int8)
    w[rng.random(shape) < sparsity] = 0
    return w


def multipliers(rng, n):
    """(n,) multipliers and shifts from 2**-20 to 1: outputs from saturated to spread out."""
    return quantize_multipliers(2.0 ** rng.uniform(-20, 0, n))


@settings(max_examples=100)
@given(seeds, st.integers(1, 6), st.integers(1, 30), sparsities)
def test_csr_stores_exactly_the_nonzeros_row_by_row(seed, rows, cols, sparsity):
    w = pruned_int8(np.random.default_rng(seed), (rows, cols), sparsity)
    csr = to_csr(w)
    assert csr.nnz == np.count_nonzero(w) and np.all(csr.values != 0)
    assert csr.segments[0] == 0 and np.all(np.diff(csr.segments) >= 0)
    for r in range(rows):
        j = slice(csr.segments[r], csr.segments[r + 1])
        assert np.all(np.diff(csr.indices[j]) > 0)  # ascending columns within a row
        np.testing.assert_array_equal(csr.values[j], w[r, csr.indices[j]])
    np.testing.assert_array_equal(csr.to_dense(), w)


def test_csr_of_a_conv_filter_numbers_taps_as_tflite_lays_them_out():
    f = np.zeros((2, 3, 4, 5), np.int8)  # (C_out, KH, KW, C_in)
    f[1, 2, 3, 4] = 7
    csr = to_csr(f)
    assert csr.shape == (2, 60) and csr.segments.tolist() == [0, 0, 1]
    assert csr.indices.tolist() == [(2 * 4 + 3) * 5 + 4] and csr.values.tolist() == [7]


@settings(max_examples=80)
@given(seeds, st.integers(1, 5), st.integers(1, 60), st.integers(1, 6), sparsities,
       st.booleans())
def test_sparse_fully_connected_equals_the_dense_kernel(seed, batch, depth, outputs, sparsity,
                                                       per_channel):
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, (batch, depth)).astype(np.int8)
    w = pruned_int8(rng, (outputs, depth), sparsity)
    bias = rng.integers(-5000, 5000, outputs).astype(np.int32)
    m, s = multipliers(rng, outputs if per_channel else 1)
    input_offset, output_offset = int(rng.integers(-127, 129)), int(rng.integers(-128, 128))
    act_min = int(rng.integers(-128, 0))
    act_max = int(rng.integers(act_min, 128))
    args = (bias, input_offset, 0, output_offset, m, s, act_min, act_max)
    dense = fully_connected(x, w, *args)
    csr = to_csr(w)
    reference = sparse.fully_connected_csr(x, csr.values, csr.indices, csr.segments, *args)
    kernel = int8_sparse.fully_connected_csr(x, csr.values, csr.indices, csr.segments, *args)
    np.testing.assert_array_equal(reference, dense)
    np.testing.assert_array_equal(kernel, dense)


@settings(max_examples=80)
@given(seeds, st.integers(1, 3), st.integers(1, 3), st.integers(1, 4), st.integers(1, 3),
       st.integers(1, 2), st.sampled_from(["SAME", "VALID"]), sparsities)
def test_sparse_conv_equals_the_dense_kernel(seed, batch, c_in, kernel_size, stride, dilation,
                                             padding, sparsity):
    rng = np.random.default_rng(seed)
    h, w, c_out = int(rng.integers(1, 13)), int(rng.integers(1, 13)), int(rng.integers(1, 6))
    kh, kw = kernel_size, int(rng.integers(1, 5))
    try:
        geometry = conv_geometry(padding, h, w, kh, kw, stride, dilation)
    except ValueError:  # VALID and the image smaller than the kernel: no output
        assume(False)
    x = rng.integers(-128, 128, (batch, h, w, c_in)).astype(np.int8)
    f = pruned_int8(rng, (c_out, kh, kw, c_in), sparsity)
    bias = rng.integers(-5000, 5000, c_out).astype(np.int32)
    m, s = multipliers(rng, c_out)
    act_min = int(rng.integers(-128, 0))
    act_max = int(rng.integers(act_min, 128))
    args = dict(geometry, bias_data=bias, input_offset=int(rng.integers(-127, 129)),
                output_offset=int(rng.integers(-128, 128)), output_multiplier=m, output_shift=s,
                quantized_activation_min=act_min, quantized_activation_max=act_max)
    dense = conv_per_channel(x, f, **args)
    csr = to_csr(f)
    reference = sparse.conv_per_channel_csr(x, csr.values, csr.indices, csr.segments, kh, kw,
                                            **args)
    kernel = int8_sparse.conv_per_channel_csr(x, csr.values, csr.indices, csr.segments, kh, kw,
                                              **args)
    np.testing.assert_array_equal(reference, dense)
    np.testing.assert_array_equal(kernel, dense)


def test_a_fully_pruned_layer_outputs_its_rescaled_bias():
    x = np.full((1, 8), 100, np.int8)
    m, s = quantize_multipliers([0.5, 0.5])
    csr = to_csr(np.zeros((2, 8), np.int8))
    bias = np.array([11, -11], np.int32)
    got = int8_sparse.fully_connected_csr(x, csr.values, csr.indices, csr.segments, bias, 3, 0, 1,
                                          m, s, -128, 127)
    assert got.tolist() == [[1 + 6, 1 - 5]]  # 5.5 -> 6 and -5.5 -> -5: ties toward +infinity


def test_sparse_kernels_refuse_asymmetric_weights(reference_models_dir):
    """With a weight zero point the stored 0 is not the zero weight: skipping it would be wrong."""
    m, s = quantize_multipliers([0.5])
    csr = to_csr(np.ones((1, 4), np.int8))
    for fully_connected_csr in (sparse.fully_connected_csr, int8_sparse.fully_connected_csr):
        with pytest.raises(ValueError, match="symmetric"):
            fully_connected_csr(np.zeros((1, 4), np.int8), csr.values, csr.indices, csr.segments,
                                np.zeros(1, np.int32), 0, 3, 0, m, s, -128, 127)
    graph = read_tflite(reference_models_dir / "tiny_conv_int8_fc_per_tensor.tflite")
    weights = graph.operators[2].inputs[1]
    tensors = list(graph.tensors)
    tensors[weights] = replace(tensors[weights], zero_point=(3,))  # per-tensor zero point 3
    FusedTinyConv(replace(graph, tensors=tuple(tensors)))  # the dense path handles it
    with pytest.raises(TinyKWSError, match="symmetric"):
        FusedTinyConv(replace(graph, tensors=tuple(tensors)), sparse=True)


# --------------------------------------------------------------------------
# The whole graph against tflite-micro
# --------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["tiny_conv_int8.tflite", "tiny_conv_int8_fc_per_tensor.tflite",
                                  "tiny_conv_int8_logits.tflite"])
def test_sparse_fused_path_equals_tflite_micro_on_reference_models(reference_models_dir, name):
    assert_fused_equals_tflite_micro((reference_models_dir / name).read_bytes(), sparse=True)


@pytest.mark.parametrize("sparsity", [0.5, 0.9, 0.99])
@pytest.mark.parametrize("softmax", [True, False])
def test_sparse_fused_path_equals_tflite_micro_on_magnitude_pruned_models(sparsity, softmax):
    from tinykws.quant.ptq import quantize_model
    from tinykws.nn.model import tiny_conv
    from tinykws.tflite.writer import serialize_tflite

    rng = np.random.default_rng(int(sparsity * 100))
    model = tiny_conv(4, rng)
    for p in model.parameters().values():
        p[...] = rng.normal(0, 0.05, p.shape)
        if p.ndim > 1:  # weights, not biases: zero the smallest |w| in each tensor
            p[np.abs(p) < np.quantile(np.abs(p), sparsity)] = 0
    calibration = rng.uniform(0, 26, (100, 49, 40, 1)).astype(np.float32)
    blob = serialize_tflite(quantize_model(model, calibration, softmax=softmax))
    graph = parse_tflite(blob)
    conv_weights = graph.constant(graph.operators[0].inputs[1])
    assert np.mean(conv_weights == 0) >= sparsity - 0.01  # pruning survived quantization
    assert_fused_equals_tflite_micro(blob, sparse=True)
    assert_fused_equals_tflite_micro(blob, sparse=False)
