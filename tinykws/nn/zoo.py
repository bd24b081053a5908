"""The model zoo: TensorFlow speech_commands' architectures, built from our layers.

Each builder follows ``tensorflow/examples/speech_commands/models.py``
(``create_<name>_model``) layer for layer: the same kernel sizes, strides,
padding and filter counts, TF's initialisation (truncated normal weights,
std 0.01 — 0.001 for ``single_fc`` — and zero biases), and a dropout after
each ReLU (and between ``low_latency_conv``'s dense layers) that acts only in
training. The input is ``(frames, bins, 1)`` of whatever features are chosen
(49 x 40 for 1 s of micro features). All are :class:`Sequential`, so
training, checkpoints, post-training quantization and the int8 runtime take
them unchanged.

Shapes for the default 49 x 40 input and 4 labels (parameters):

- ``single_fc``: flatten 1960 -> dense 4 (7,844). A linear classifier.
- ``tiny_conv``: conv 10x8 / 2, 8 filters, SAME -> (25, 20, 8) -> dense (16,652).
- ``tiny_embedding_conv``: conv 10x8 / 2, 8 -> (25, 20, 8) -> conv 10x8 / 8, 8
  -> (4, 3, 8) -> dense (6,164). TF's diagram shows three convolutions; its
  code, followed here, has two.
- ``conv`` ("cnn-trad-fpool3"): conv 20x8, 64 filters, SAME -> max pool 2x2 / 2
  -> (25, 20, 64) -> conv 10x4, 64, SAME -> dense (302,212; 128,004 of them the
  dense layer's).
- ``ds_cnn``: MLPerf Tiny's DS-CNN (:mod:`tinykws.nn.ds_cnn`): conv 10x4 / 2, 64,
  batch norm, then four depthwise-separable blocks, average pool, dense
  (23,236 for 4 labels on 49 x 40; MLPerf's own input is 49 x 10 MFCCs).
- ``tc_resnet8`` (Choi et al. 2019, :mod:`tinykws.nn.tc_resnet`): the bins as channels of
  temporal 3x1 and 9x1 convolutions, three residual blocks of widths 24, 32, 48
  (65,508 for 12 labels); ``tc_resnet8_narrow`` is its width multiplier 0.36, widths
  5, 8, 11, 17 (8,571), the widest within TinyConv's int8 ``.tflite`` and arena;
  ``tc_resnet8_mcu`` is width 0.75 without the RESHAPE (37,506), within 12-label
  TinyConv's ``.tflite`` and arena.
- ``low_latency_conv`` ("cnn-one-fstride4", Sainath & Parada 2015): conv over
  all 49 frames x 8 bins, 186 filters, VALID -> (1, 33, 186) -> dense 128 ->
  dense 128 -> dense 4, the dense layers without ReLU as in TF (875,918).
- ``low_latency_svdf`` (Nakkiran et al. 2015): an SVDF (:mod:`tinykws.nn.svdf`)
  of 1280 units, rank 2, a memory of all 49 frames -> ReLU -> dense 256 ->
  dense 256 -> dense 4, the dense layers without ReLU as in TF (623,876). Its
  int8 model streams: one frame per invocation, the SVDF's state holding the
  memory.
"""

from __future__ import annotations

import numpy as np

from tinykws.errors import TinyKWSError
from tinykws.nn.conv import Conv2D
from tinykws.nn.ds_cnn import ds_cnn
from tinykws.nn.layers import Dense, Dropout, Flatten, ReLU
from tinykws.nn.model import TINY_CONV_INPUT, Sequential, tiny_conv, truncated_normal
from tinykws.nn.pooling import MaxPool2D
from tinykws.nn.tc_resnet import MCU_WIDTH, NARROW_WIDTH, tc_resnet8
from tinykws.nn.svdf import SVDF


def _conv(c_in, c_out, kernel, stride, padding, rng, std=0.01) -> Conv2D:
    conv = Conv2D(c_in, c_out, kernel, stride, padding)
    conv.params["weight"][...] = truncated_normal(rng, conv.params["weight"].shape, std)
    return conv


def _dense(n_in, n_out, rng, std=0.01) -> Dense:
    dense = Dense(n_in, n_out)
    dense.params["weight"][...] = truncated_normal(rng, dense.params["weight"].shape, std)
    return dense


def _flat_size(layers, input_shape) -> int:
    return int(np.prod(Sequential(layers, input_shape).shapes()[-1]))


def single_fc(num_labels, rng, input_shape=TINY_CONV_INPUT, dropout=0.5) -> Sequential:
    """``create_single_fc_model``: one dense layer on the flattened features."""
    n = int(np.prod(input_shape))
    return Sequential([Flatten(), _dense(n, num_labels, rng, std=0.001)], input_shape)


def conv(num_labels, rng, input_shape=TINY_CONV_INPUT, dropout=0.5) -> Sequential:
    """``create_conv_model`` ("cnn-trad-fpool3", Sainath & Parada 2015): two wide convolutions
    with a 2x2 max pool between them, then dense."""
    c = input_shape[-1]
    layers = [_conv(c, 64, (20, 8), (1, 1), "SAME", rng), ReLU(), Dropout(dropout),
              MaxPool2D((2, 2), (2, 2), "SAME"),
              _conv(64, 64, (10, 4), (1, 1), "SAME", rng), ReLU(), Dropout(dropout), Flatten()]
    return Sequential(layers + [_dense(_flat_size(layers, input_shape), num_labels, rng)], input_shape)


def _ds_cnn(num_labels, rng, input_shape=TINY_CONV_INPUT, dropout=None) -> Sequential:
    return ds_cnn(num_labels, rng, tuple(input_shape))


def tiny_embedding_conv(num_labels, rng, input_shape=TINY_CONV_INPUT, dropout=0.5) -> Sequential:
    """``create_tiny_embedding_conv_model``: two strided convolutions, then dense."""
    c = input_shape[-1]
    layers = [_conv(c, 8, (10, 8), (2, 2), "SAME", rng), ReLU(), Dropout(dropout),
              _conv(8, 8, (10, 8), (8, 8), "SAME", rng), ReLU(), Dropout(dropout), Flatten()]
    return Sequential(layers + [_dense(_flat_size(layers, input_shape), num_labels, rng)], input_shape)


def low_latency_conv(num_labels, rng, input_shape=TINY_CONV_INPUT, dropout=0.5) -> Sequential:
    """``create_low_latency_conv_model``: one convolution over every frame, three dense layers."""
    frames, _, c = input_shape
    layers = [_conv(c, 186, (frames, 8), (1, 1), "VALID", rng), ReLU(), Dropout(dropout), Flatten()]
    n = _flat_size(layers, input_shape)
    return Sequential(layers + [_dense(n, 128, rng), Dropout(dropout), _dense(128, 128, rng),
                                Dropout(dropout), _dense(128, num_labels, rng)], input_shape)


def low_latency_svdf(num_labels, rng, input_shape=TINY_CONV_INPUT, dropout=0.5) -> Sequential:
    """``create_low_latency_svdf_model``: an SVDF over every frame, three dense layers."""
    frames, bins, c = input_shape
    if c != 1:
        raise ValueError(f"the SVDF takes one channel, not {c}")
    svdf = SVDF(bins, units=1280, rank=2, memory=frames)
    for name in ("weights_feature", "weights_time"):
        svdf.params[name][...] = truncated_normal(rng, svdf.params[name].shape, 0.01)
    return Sequential([svdf, ReLU(), Dropout(dropout), _dense(1280, 256, rng), Dropout(dropout),
                       _dense(256, 256, rng), Dropout(dropout), _dense(256, num_labels, rng)],
                      input_shape)


def _tiny_conv(num_labels, rng, input_shape=TINY_CONV_INPUT, dropout=0.5) -> Sequential:
    if tuple(input_shape) != TINY_CONV_INPUT:
        raise TinyKWSError(f"tiny_conv is built for {TINY_CONV_INPUT} inputs, not {tuple(input_shape)}")
    return tiny_conv(num_labels, rng, dropout=dropout)


def _tc_resnet8(num_labels, rng, input_shape=TINY_CONV_INPUT, dropout=0.5) -> Sequential:
    return tc_resnet8(num_labels, rng, tuple(input_shape), dropout=dropout)


def _tc_resnet8_narrow(num_labels, rng, input_shape=TINY_CONV_INPUT, dropout=0.5) -> Sequential:
    return tc_resnet8(num_labels, rng, tuple(input_shape), width=NARROW_WIDTH, dropout=dropout)


def _tc_resnet8_mcu(num_labels, rng, input_shape=TINY_CONV_INPUT, dropout=0.5) -> Sequential:
    return tc_resnet8(num_labels, rng, tuple(input_shape), width=MCU_WIDTH, dropout=dropout,
                      reshape=False)


MODELS = {
    "tiny_conv": _tiny_conv,
    "single_fc": single_fc,
    "tiny_embedding_conv": tiny_embedding_conv,
    "low_latency_conv": low_latency_conv,
    "conv": conv,
    "ds_cnn": _ds_cnn,
    "tc_resnet8": _tc_resnet8,
    "tc_resnet8_narrow": _tc_resnet8_narrow,
    "tc_resnet8_mcu": _tc_resnet8_mcu,
    "low_latency_svdf": low_latency_svdf,
}


def build_model(name: str, num_labels: int, rng: np.random.Generator,
                input_shape=TINY_CONV_INPUT) -> Sequential:
    """The zoo model ``name`` for ``num_labels`` outputs and ``(frames, bins, 1)`` inputs."""
    if name not in MODELS:
        raise TinyKWSError(f"unknown model {name!r}; the zoo has {', '.join(MODELS)}")
    try:
        return MODELS[name](num_labels, rng, tuple(input_shape))
    except ValueError as exc:  # a kernel larger than what reaches it
        raise TinyKWSError(f"{name} cannot take {tuple(input_shape)} inputs: {exc}") from None
