"""TC-ResNet8 (Choi et al., Interspeech 2019), as a trainable :class:`~tinykws.nn.model.Sequential`.

"Temporal Convolution for Real-time Keyword Spotting on Mobile Devices"
treats the frequency bins of each frame as the *channels* of a 1-D signal in
time, so every convolution is ``K x 1`` and slides along time only: a few
wide layers see the whole spectrum at once instead of stacking small 2-D
kernels to cover it. Layer for layer as the authors' ``audio_nets/tc_resnet.py``
(hyperconnect/TC-ResNet), NHWC, with ``k`` the width multiplier::

    input (N, frames, bins, 1)
    reshape                                   -> (N, frames, 1, bins)
    conv 3x1, 16k, SAME, batch norm, ReLU     -> (N, frames, 1, 16k)
    3 x residual block, widths 24k, 32k, 48k:
        body:     conv 9x1 / 2, batch norm, ReLU, conv 9x1, batch norm
        shortcut: conv 1x1 / 2, batch norm, ReLU
        ReLU(body + shortcut)                 -> frames halved (ceil), width w
    average pool over all frames              -> (N, 1, 1, 48k)
    dropout 0.5, flatten, dense num_labels (the logits)

Widths are ``int(16 k)`` etc., as the authors round; the stride 2 goes with a
change of width (every block here). Their convolutions have no bias (a batch
norm follows); ours keep one, which the batch norm's shift makes redundant and
folding absorbs. Weights are Glorot-uniform (their ``xavier_initializer``),
batch norms Keras' (momentum 0.99; theirs 0.997, for far longer training).
The paper's input is 98 frames of 40 MFCCs; any ``(frames, bins, 1)`` works.
For 49 x 40 and 12 labels TC-ResNet8 has 65,508 trainable parameters (the
paper's 66k).

``tc_resnet8_narrow`` is ``k = 0.36`` (widths 5, 8, 11, 17; 8,571 parameters
for 12 labels): the widest TC-ResNet8 whose int8 ``.tflite`` fits TinyConv's
(micro_speech's 18,712 bytes; 17,696 measured) and whose tflite-micro arena is
no larger. The file is about 9 kB more than the weights: each of the 43
tensors carries a name, a shape and its quantization (12 bytes per channel of
every per-channel weight and bias), so ``k = 0.5`` (17,256 parameters) takes
27,648 bytes and ``k = 0.375`` (10,038) 19,472.

``tc_resnet8_mcu`` is sized for the 12-label task's budget, TinyConv with 12
outputs (48,660 parameters, a 50,656-byte ``.tflite``, a 9,616-byte
tflite-micro arena): ``k = 0.75`` with the first layer as a ``3 x bins`` VALID
convolution (``reshape=False`` below), so the graph has no RESHAPE and the
arena no second copy of the input. 37,506 parameters, 49,808 bytes and an
8,960-byte arena for 12 labels (the same width with the RESHAPE needs 10,496).
"""

from __future__ import annotations

import numpy as np

from tinykws.nn.batch_norm import BatchNorm
from tinykws.nn.conv import Conv2D
from tinykws.nn.ds_cnn import glorot_uniform
from tinykws.nn.layers import Dense, Dropout, Flatten, ReLU
from tinykws.nn.model import Sequential
from tinykws.nn.pooling import AveragePool2D
from tinykws.nn.resnet import Reshape, ResidualBlock

WIDTHS = (16, 24, 32, 48)  # the first convolution, then the three blocks
NARROW_WIDTH = 0.36  # tc_resnet8_narrow: within TinyConv's flash and RAM (module doc)
MCU_WIDTH = 0.75  # tc_resnet8_mcu: within 12-label TinyConv's flash and RAM, no RESHAPE (module doc)


def _conv(rng, cin: int, cout: int, kernel: tuple[int, int], stride: int = 1,
          padding: str = "SAME") -> Conv2D:
    conv = Conv2D(cin, cout, kernel, (stride, 1), padding)
    taps = kernel[0] * kernel[1]
    conv.params["weight"][...] = glorot_uniform(rng, conv.params["weight"].shape, taps * cin,
                                                taps * cout)
    return conv


def residual_block(rng, cin: int, cout: int, kernel: int = 9) -> ResidualBlock:
    """One TC-ResNet block: stride 2 and a projecting shortcut when the width changes."""
    stride = 2 if cout != cin else 1
    body = [_conv(rng, cin, cout, (kernel, 1), stride), BatchNorm(cout), ReLU(),
            _conv(rng, cout, cout, (kernel, 1)), BatchNorm(cout)]
    shortcut = [_conv(rng, cin, cout, (1, 1), stride), BatchNorm(cout), ReLU()] if stride > 1 else []
    return ResidualBlock(body, shortcut)


def tc_resnet8(num_labels: int, rng: np.random.Generator, input_shape: tuple[int, int, int],
               width: float = 1.0, dropout: float = 0.5, reshape: bool = True) -> Sequential:
    """TC-ResNet8 with width multiplier ``width`` for ``(frames, bins, 1)`` inputs (module doc).

    ``reshape=False`` makes the first layer a ``3 x bins`` VALID convolution of
    the one-channel input, the same sums as the paper's 3x1 convolution over
    ``bins`` channels but without its time padding (two frames fewer), so the
    graph needs no RESHAPE and the arena no second copy of the input.
    """
    frames, bins, channels = input_shape
    widths = [int(n * width) for n in WIDTHS]
    if reshape:
        first = [Reshape((frames, 1, bins * channels)),
                 _conv(rng, bins * channels, widths[0], (3, 1))]
    else:
        first = [_conv(rng, channels, widths[0], (3, bins), padding="VALID")]
    layers = first + [BatchNorm(widths[0]), ReLU()]
    layers += [residual_block(rng, cin, cout) for cin, cout in zip(widths, widths[1:])]
    left = Sequential(layers, input_shape).shapes()[-1][0]  # frames after the strides
    dense = Dense(widths[-1], num_labels)
    dense.params["weight"][...] = glorot_uniform(rng, dense.params["weight"].shape, widths[-1],
                                                 num_labels)
    layers += [AveragePool2D((left, 1)), Dropout(dropout), Flatten(), dense]
    return Sequential(layers, input_shape)
