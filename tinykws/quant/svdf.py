"""Full-integer post-training quantization of an SVDF layer: TFLite's int8 SVDF op.

What :func:`tinykws.quant.ptq.quantize_model` calls for a
:class:`tinykws.nn.svdf.SVDF`. The op (:mod:`tinykws.int8.svdf`) has mixed
types, and each tensor gets the grid of :mod:`tinykws.quant.grid` its type calls for:

- ``weights_feature (F, bins)``: int8 symmetric, one scale (TFLM reads one);
- ``weights_time (F, memory)``: **int16** symmetric, one scale, ``max|w| / 32767``;
- the **activation state** ``(1, memory * F)``: int16 symmetric, zero point 0,
  ``s = max|a| / 32767`` over the calibrated feature activations ``a`` (what
  enters the memory); a variable tensor;
- ``bias (units,)``: int32 with ``s = s_state * s_time``, as TFLM's Prepare insists;
- the output: int8 asymmetric from its calibrated range. The int8 op has no
  fused activation, so a ReLU after the SVDF lives in this range: its minimum
  is 0, the zero point -128, and the op's clamp to int8 is the ReLU.

The model the file holds takes **one frame** per invocation, input ``(1, bins)``:
the state carries the last ``memory`` frames, so a clip's score is the output
after its last frame (:meth:`tinykws.int8.runtime.Int8Runtime.run_clip`).
"""

from __future__ import annotations

import numpy as np

from tinykws.nn.svdf import SVDF
from tinykws.quant.grid import (
    asymmetric_params, channel_ranges, f32, symmetric_quantize, symmetric_scales, symmetric_weights,
    tflite_round)
from tinykws.tflite.model import Operator, Tensor


def graph_input_shape(model) -> tuple[int, ...]:
    """The graph's input: one frame ``(1, bins)`` for a model that starts with an SVDF,
    else the whole ``(1, frames, bins, 1)`` clip."""
    first = model.layers[0]
    return (1, first.bins) if isinstance(first, SVDF) else (1, *model.input_shape)


def state_range(layer: SVDF, x: np.ndarray) -> tuple[float, float]:
    """``(min, max)`` of the feature activations ``layer`` keeps in its memory for inputs ``x``."""
    frames = x.reshape(len(x), x.shape[1], layer.bins)[:, -layer.memory:]  # (N, M, bins)
    a = frames @ layer.params["weights_feature"].T  # (N, M, F)
    return float(a.min()), float(a.max())


def _int16_symmetric(w: np.ndarray) -> tuple[np.ndarray, float]:
    """int16 codes of ``w`` on one symmetric scale ``max|w| / 32767``, and that scale."""
    scale = symmetric_scales(*channel_ranges(w, None), 16)  # (1,)
    codes, _ = symmetric_quantize(w, scale, None, 16)
    return codes.astype(np.int16), float(scale[0])


def quantize_svdf(layer: SVDF, name: str, first: int, input_index: int,
                  states: tuple[float, float], outputs: tuple[float, float], relu: bool,
                  bits: int = 8, grid: str = "tflite") -> tuple[list[Tensor], Operator]:
    """The tensors (to append at index ``first`` on) and the SVDF operator of ``layer``.

    ``input_index``: the running activation it reads (its scale does not enter the
    tensors: TFLM derives the effective scales from them all);
    ``states``/``outputs``: calibrated ``(min, max)`` of the feature activations
    and of the output (after the ReLU when ``relu``). The output tensor is the
    last of the list.
    """
    wf_q, wf_s = symmetric_weights(layer.params["weights_feature"].astype(np.float64), axis=None,
                                   bits=bits, grid=grid)
    wt_q, wt_s = _int16_symmetric(layer.params["weights_time"].astype(np.float64))
    state_scale = float(symmetric_scales(np.array([states[0]]), np.array([states[1]]), 16)[0])
    bias_scale = f32(state_scale * wt_s)
    b_q = tflite_round(layer.params["bias"].astype(np.float64) / bias_scale).astype(np.int32)
    out_scale, out_zp = asymmetric_params(*outputs, bits)
    tensors = [
        Tensor(f"{name}/weights_feature", wf_q.shape, "int8", (float(wf_s[0]),), (0,), data=wf_q),
        Tensor(f"{name}/weights_time", wt_q.shape, "int16", (wt_s,), (0,), data=wt_q),
        Tensor(f"{name}/bias", b_q.shape, "int32", (bias_scale,), (0,), data=b_q),
        Tensor(f"{name}/state", (1, layer.memory * layer.filters), "int16", (state_scale,), (0,),
               is_variable=True),
        Tensor(f"{name}/output", (1, layer.units), "int8", (out_scale,), (out_zp,)),
    ]
    inputs = (input_index, first, first + 1, first + 2, first + 3)
    op = Operator("SVDF", inputs, (first + 4,),
                  {"rank": layer.rank, "activation": "RELU" if relu else "NONE"})
    return tensors, op
