"""MLPerf Tiny's keyword-spotting DS-CNN, as a trainable :class:`~tinykws.nn.model.Sequential`.

The network of ``mlcommons/tiny`` ``benchmark/training/keyword_spotting/keras_model.py``
(``model_name == 'ds_cnn'``), layer for layer, NHWC::

    input (N, H, W, 1)                          MLPerf: 49 x 10 MFCCs
    conv 10x4, 64 filters, stride 2, SAME       -> (N, ceil(H/2), ceil(W/2), 64)
    batch norm, ReLU, dropout 0.2
    4 x [depthwise conv 3x3, SAME (groups = 64), batch norm, ReLU,
         conv 1x1, 64 filters, batch norm, ReLU]
    dropout 0.4
    average pool (int(H/2), int(W/2)), stride = pool, VALID   -> (N, 1, 1, 64)
    flatten, dense num_labels (the logits; softmax is in the loss)

Every convolution has a bias, as Keras' default (``use_bias=True``), which
folding the batch norm into it then absorbs. Weights are Glorot-uniform (Keras'
default initializer; fans counted from our weight shapes), biases zero, batch
norm ``gamma = 1``, ``beta = 0``. MLPerf also puts an L2 penalty of 1e-4 on the
convolution kernels; that belongs to the training loop. With 12 labels on
49 x 10 inputs the trainable parameters number 23,756, Keras' count (the
moving statistics of the nine batch norms are state, not parameters).
"""

from __future__ import annotations

import numpy as np

from tinykws.nn.batch_norm import BatchNorm
from tinykws.nn.conv import Conv2D
from tinykws.nn.layers import Dense, Dropout, Flatten, ReLU
from tinykws.nn.model import Sequential
from tinykws.nn.pooling import AveragePool2D

MLPERF_INPUT = (49, 10, 1)  # 49 frames of 10 MFCCs


def glorot_uniform(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int,
                   fan_out: int) -> np.ndarray:
    """U(-l, l) with ``l = sqrt(6 / (fan_in + fan_out))`` (Glorot & Bengio, 2010), float32."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, shape).astype(np.float32)


def _conv(rng, cin: int, cout: int, kernel, stride=(1, 1), groups: int = 1) -> Conv2D:
    conv = Conv2D(cin, cout, kernel, stride, "SAME", groups)
    taps = kernel[0] * kernel[1]
    conv.params["weight"][...] = glorot_uniform(rng, conv.params["weight"].shape,
                                                taps * cin // groups, taps * cout // groups)
    return conv


def ds_cnn(num_labels: int, rng: np.random.Generator,
           input_shape: tuple[int, int, int] = MLPERF_INPUT, filters: int = 64,
           blocks: int = 4) -> Sequential:
    """MLPerf Tiny's DS-CNN for ``input_shape`` (see the module doc)."""
    h, w, channels = input_shape
    layers = [_conv(rng, channels, filters, (10, 4), (2, 2)), BatchNorm(filters), ReLU(),
              Dropout(0.2)]
    for _ in range(blocks):
        layers += [_conv(rng, filters, filters, (3, 3), groups=filters), BatchNorm(filters),
                   ReLU(), _conv(rng, filters, filters, (1, 1)), BatchNorm(filters), ReLU()]
    dense = Dense(filters, num_labels)
    dense.params["weight"][...] = glorot_uniform(rng, dense.params["weight"].shape, filters,
                                                 num_labels)
    layers += [Dropout(0.4), AveragePool2D((h // 2, w // 2)), Flatten(), dense]
    model = Sequential(layers, input_shape)
    if model.shapes()[-2] != (filters,):
        raise ValueError(f"input {input_shape} leaves {model.shapes()[-3]} after pooling, "
                         "not one position per filter")
    return model
