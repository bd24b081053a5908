"""Full-int8 export of a residual block: each branch's convolutions, then one ADD.

A :class:`~tinykws.nn.resnet.ResidualBlock` ``ReLU(body(x) + shortcut(x))``
becomes, in TFLite, the body's convolutions reading ``x``, the shortcut's
convolutions reading ``x`` too (none for an identity shortcut: the ADD reads
``x`` itself), and an ADD of the two branch outputs with the final ReLU fused
(``activation = RELU``). Batch norms are folded into the convolutions before
them first, as for the rest of the model
(:func:`tinykws.nn.batch_norm.fold_batch_norms`), and a ReLU after a
convolution is fused into it.

Every tensor gets its own scale from calibration, the ADD's output included:
the two branches arrive with different scales and TFLM's ADD rescales both
to a common one before summing (:mod:`tinykws.int8.add`), so the sum needs no
scale shared with its inputs. The order in which tensors are written (body,
shortcut, sum) is the order :func:`residual_ranges` lists their ranges in.
"""

from __future__ import annotations

import numpy as np

from tinykws.nn.batch_norm import fold_batch_norms
from tinykws.nn.conv import Conv2D
from tinykws.nn.layers import ReLU
from tinykws.nn.model import Sequential
from tinykws.nn.resnet import ResidualBlock
from tinykws.quant.grid import asymmetric_params
from tinykws.tflite.model import Operator, Tensor


def folded(block: ResidualBlock) -> ResidualBlock:
    """The block at inference with every batch norm folded into its convolution."""
    return ResidualBlock(fold_batch_norms(block.body), fold_batch_norms(block.shortcut))


def residual_ranges(block: ResidualBlock, x: np.ndarray) -> list[tuple[float, float]]:
    """``(min, max)`` of each branch's conv outputs on ``x``, then of the block's output."""
    from tinykws.quant.ptq import calibrate  # (ptq imports this module)

    block = folded(block)
    ranges = [r for _, layers in block.branches()
              for r in calibrate(Sequential(layers, x.shape[1:]), x)]
    y = block.forward(x)  # (N, OH, OW, O), after the ReLU
    return ranges + [(float(y.min()), float(y.max()))]


def add_residual_block(tensors: list[Tensor], ops: list[Operator], block: ResidualBlock,
                       name: str, current: int, scale: float, ranges, bits: int,
                       grid: str) -> tuple[int, float]:
    """Append ``block`` reading tensor ``current`` (of scale ``scale``); the sum's index and
    scale. ``ranges`` is the iterator of calibrated ranges :func:`quantize_model` walks."""
    from tinykws.quant.ptq import add_conv  # (ptq imports this module)

    ends = []  # the tensor each branch ends in
    for branch, layers in folded(block).branches():
        at, at_scale = current, scale
        for j, layer in enumerate(layers):
            after_conv = j > 0 and isinstance(layers[j - 1], Conv2D)
            if isinstance(layer, ReLU) and after_conv:
                continue  # fused into the convolution
            if not isinstance(layer, Conv2D):
                raise ValueError(f"cannot export {type(layer).__name__} in a residual {branch}")
            relu = j + 1 < len(layers) and isinstance(layers[j + 1], ReLU)
            at, at_scale = add_conv(tensors, ops, layer, f"{name}/{branch}{j}", at, at_scale,
                                    next(ranges), relu, bits, grid)
        ends.append(at)
    out_scale, out_zp = asymmetric_params(*next(ranges), bits)
    tensors.append(Tensor(f"{name}/output", tensors[ends[0]].shape, "int8", (out_scale,),
                          (out_zp,)))
    ops.append(Operator("ADD", tuple(ends), (len(tensors) - 1,), {"activation": "RELU"}))
    return len(tensors) - 1, out_scale
