"""Our int8 interpreter: run a parsed TFLite graph op by op, bit-exact with tflite-micro.

:class:`Int8Runtime` does what TFLM's ``Prepare`` step does once (turn float
scales into integer multipliers and shifts, activation bounds, padding) and
then, per call, runs each operator's kernel in order:

- ``backend="numba"`` (default) uses the kernels in ``kernels/int8_*.py``.
  CONV_2D, and DEPTHWISE_CONV_2D with one input channel (TinyConv's first
  layer in its micro_speech form), take the exact im2col + GEMM path of
  ``kernels/int8_conv_gemm.py`` when the weights allow it (float32 up to
  ~500 full-scale taps per output, float64 beyond); ``gemm=False`` forces the
  plain loop kernels;
- ``backend="numpy"`` uses the readable NumPy references in :mod:`tinykws.int8`.

All produce exactly tflite-micro's bytes, for every intermediate tensor.

Batches: a TFLite graph is made for batch 1 (input ``(1, 49, 40, 1)``); pass
``(N, 49, 40, 1)`` and every op runs on N examples at once (RESHAPE keeps the
leading N). Since every op here treats examples independently, the result
for each example equals running it alone.

A note on other runtimes: ai-edge-litert with ``OpResolverType.BUILTIN_REF``
uses the same reference kernels and matches bit for bit; its default resolver
(optimised kernels with XNNPACK) rounds differently and is *not* bit-exact.
Measured on the reference models with uniformly random int8 inputs: the int8
logits differ by at most 1 on 6-10% of inputs, and the softmax outputs by
up to 6-11 units of 1/256 on 1-3% of inputs (see
``tests/test_int8_vs_tflm.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from kernels import (
    int8_conv, int8_conv_gemm, int8_depthwise_conv, int8_fully_connected, int8_quantize,
    int8_softmax)
from tinykws.errors import TinyKWSError
from tinykws.int8 import conv as conv_ref
from tinykws.int8 import depthwise_conv as dw_ref
from tinykws.int8 import fully_connected as fc_ref
from tinykws.int8 import quantize as quant_ref
from tinykws.int8 import softmax as softmax_ref
from tinykws.int8.quantize_multiplier import (
    activation_range, conv_output_multipliers, fc_per_tensor_multiplier)
from tinykws.int8.reshape import reshape
from tinykws.tflite.model import Graph, Operator


@dataclass(frozen=True)
class PreparedOp:
    """One operator with its integer parameters worked out (TFLM's OpData)."""

    op: str
    inputs: tuple[int, ...]
    output: int
    output_shape: tuple[int, ...]
    params: dict


class Int8Runtime:
    """Runs an int8 :class:`~tinykws.tflite.model.Graph` with one input and outputs."""

    def __init__(self, graph: Graph, backend: str = "numba", gemm: bool = True,
                 activation_bits: int = 8):
        """``activation_bits < 8`` (the quantization study, not TFLite) clamps every
        CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED output to int8's lowest
        ``2^bits`` codes, ``-128 .. -129 + 2^bits``: the unsigned b-bit grid of
        :func:`tinykws.quant.grid.asymmetric_params` held in int8.
        """
        if not 2 <= activation_bits <= 8:
            raise ValueError(f"activation_bits must be between 2 and 8, not {activation_bits}")
        if backend not in ("numba", "numpy"):
            raise ValueError(f"backend must be 'numba' or 'numpy', not {backend!r}")
        if len(graph.inputs) != 1:
            raise TinyKWSError(f"model has {len(graph.inputs)} inputs; only 1 is supported")
        self.graph = graph
        self.backend = backend
        self.gemm = gemm and backend == "numba"
        self.ops = tuple(_narrow(_prepare_checked(graph, op), activation_bits)
                         for op in graph.operators)
        _check_dataflow(graph, self.ops)

    def run(self, x: np.ndarray, keep_all: bool = False):
        """Run the graph on ``x`` (batch first).

        Returns the first output array, or with ``keep_all`` a dict from
        tensor index to array holding the input and every op's output.
        """
        g = self.graph
        in_t = g.tensors[g.inputs[0]]
        x = np.asarray(x)
        if x.dtype != np.dtype(in_t.dtype) or x.shape[1:] != tuple(in_t.shape[1:]):
            raise TinyKWSError(f"input must be (N, {', '.join(map(str, in_t.shape[1:]))}) "
                               f"{in_t.dtype}, got {x.shape} {x.dtype}")
        batch = x.shape[0]
        values = {g.inputs[0]: x}
        for op in self.ops:
            args = [values[i] if i in values else None for i in op.inputs]
            values[op.output] = _execute(op, args, batch, self.backend, self.gemm)
        if keep_all:
            return values
        return values[g.outputs[0]]


def _narrow(op: PreparedOp, bits: int) -> PreparedOp:
    """``op`` with its output clamp narrowed to ``2^bits`` codes (no change at 8 bits)."""
    if bits == 8 or "output_activation_max" not in op.params:
        return op
    top = min(op.params["output_activation_max"], -129 + 2 ** bits)
    return replace(op, params={**op.params, "output_activation_max": top})


def _check_dataflow(graph: Graph, ops: tuple[PreparedOp, ...]) -> None:
    """Every op reads a tensor computed before it; the output is computed."""
    ready = {graph.inputs[0]}
    for op in ops:
        if op.inputs[0] not in ready:
            raise TinyKWSError(f"{op.op} reads tensor {op.inputs[0]} before any operator "
                               "computes it (operators must be in execution order)")
        ready.add(op.output)
    if len(graph.outputs) != 1 or graph.outputs[0] not in ready:
        raise TinyKWSError(f"model outputs {graph.outputs}: need one output computed by the "
                           "operators")


def _check_same_size(graph: Graph, op: Operator) -> None:
    """Element-wise ops and RESHAPE keep the batch dimension and the element count."""
    in_shape = graph.tensors[op.inputs[0]].shape
    out_shape = graph.tensors[op.outputs[0]].shape
    same = (len(in_shape) >= 1 and len(out_shape) >= 1 and in_shape[0] == out_shape[0]
            and int(np.prod(in_shape, dtype=np.int64)) == int(np.prod(out_shape, dtype=np.int64)))
    if not same or (op.op != "RESHAPE" and in_shape != out_shape):
        raise ValueError(f"input shape {in_shape} and output shape {out_shape} do not match")


def _input_quant(graph: Graph, index: int) -> tuple[float, int]:
    t = graph.tensors[index]
    if len(t.scale) != 1:
        raise TinyKWSError(f"tensor {t.name!r} needs one scale, has {len(t.scale)}")
    return t.scale[0], t.zero_point[0]


def _require_int8(graph: Graph, op: Operator, indices) -> None:
    for i in indices:
        if graph.tensors[i].dtype != "int8":
            raise TinyKWSError(f"{op.op}: tensor {graph.tensors[i].name!r} is "
                               f"{graph.tensors[i].dtype}; only int8 is supported")


def _bias(graph: Graph, op: Operator, channels: int) -> np.ndarray:
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        return graph.constant(op.inputs[2]).astype(np.int32).reshape(-1)
    return np.zeros(channels, np.int32)


def _prepare_checked(graph: Graph, op: Operator) -> PreparedOp:
    """:func:`_prepare`, turning what TFLM's Prepare would reject into TinyKWSError."""
    required = 2 if op.op in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED") else 1
    if len(op.inputs) < required or min(op.inputs[:required]) < 0 or len(op.outputs) != 1 \
            or op.outputs[0] < 0:
        raise TinyKWSError(f"{op.op} needs {required} input tensor(s) and 1 output, "
                           f"has inputs {op.inputs} and outputs {op.outputs}")
    try:
        return _prepare(graph, op)
    except (ValueError, KeyError, IndexError) as err:
        raise TinyKWSError(f"cannot run {op.op} (outputs {op.outputs}): {err}") from None


def _check_conv_shapes(graph: Graph, op: Operator) -> None:
    """The shape rules TFLM's conv Prepare enforces, as ValueError."""
    in_t, w_t, out_t = (graph.tensors[op.inputs[0]], graph.tensors[op.inputs[1]],
                        graph.tensors[op.outputs[0]])
    if len(in_t.shape) != 4 or len(w_t.shape) != 4 or len(out_t.shape) != 4:
        raise ValueError(f"needs 4-D input, weights and output, got {in_t.shape}, "
                         f"{w_t.shape}, {out_t.shape}")
    o = op.options
    if op.op == "CONV_2D":
        channels_ok = w_t.shape[3] == in_t.shape[3] and w_t.shape[0] == out_t.shape[3]
    else:
        channels_ok = (w_t.shape[0] == 1 and w_t.shape[3] == out_t.shape[3]
                       == in_t.shape[3] * o["depth_multiplier"])
    expected = tuple(conv_ref.output_size(o["padding"], in_t.shape[axis], w_t.shape[axis],
                                          o[stride], o[dilation])
                     for axis, stride, dilation in ((1, "stride_h", "dilation_h"),
                                                    (2, "stride_w", "dilation_w")))
    if len(w_t.scale) not in (1, out_t.shape[3]):
        raise ValueError(f"weights have {len(w_t.scale)} scales for {out_t.shape[3]} channels")
    if not channels_ok or tuple(out_t.shape[1:3]) != expected:
        raise ValueError(f"input {in_t.shape}, weights {w_t.shape} and output {out_t.shape} "
                         f"do not fit (expected output size {expected})")


def _prepare(graph: Graph, op: Operator) -> PreparedOp:
    """Integer parameters of ``op``, as the TFLM kernel's Prepare computes them."""
    out_index = op.outputs[0]
    out_t = graph.tensors[out_index]
    params: dict = {}
    if op.op in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        _require_int8(graph, op, (op.inputs[0], op.inputs[1], out_index))
        _check_conv_shapes(graph, op)
        in_t, w_t = graph.tensors[op.inputs[0]], graph.tensors[op.inputs[1]]
        in_scale, in_zp = _input_quant(graph, op.inputs[0])
        out_scale, out_zp = _input_quant(graph, out_index)
        o = op.options
        filters = graph.constant(op.inputs[1])
        channels = out_t.shape[3]
        kh, kw = w_t.shape[1], w_t.shape[2]
        out_h, out_w = out_t.shape[1], out_t.shape[2]
        multiplier, shift = conv_output_multipliers(in_scale, w_t.scale, out_scale, channels)
        act_min, act_max = activation_range(o["activation"], out_scale, out_zp)
        params = dict(
            filters=filters, bias=_bias(graph, op, channels),
            input_offset=-in_zp, output_offset=out_zp,
            output_multiplier=multiplier, output_shift=shift,
            output_activation_min=act_min, output_activation_max=act_max,
            stride_h=o["stride_h"], stride_w=o["stride_w"],
            pad_h=conv_ref.compute_padding(o["stride_h"], o["dilation_h"], in_t.shape[1], kh,
                                           out_h),
            pad_w=conv_ref.compute_padding(o["stride_w"], o["dilation_w"], in_t.shape[2], kw,
                                           out_w),
            out_h=out_h, out_w=out_w, dilation_h=o["dilation_h"], dilation_w=o["dilation_w"])
        if op.op == "DEPTHWISE_CONV_2D":
            params["depth_multiplier"] = o["depth_multiplier"]
            if in_t.shape[3] == 1:
                # One input channel: the depthwise conv is the CONV_2D with
                # weights (out, kh, kw, 1) (see conv_as_depthwise) — the same
                # sums, so the same bits — and the conv kernel is faster.
                params["conv_filters"] = np.ascontiguousarray(np.transpose(filters, (3, 1, 2, 0)))
        params["gemm_weights"] = _gemm_weights(op, filters, in_t.shape[3])
    elif op.op == "FULLY_CONNECTED":
        _require_int8(graph, op, (op.inputs[0], op.inputs[1], out_index))
        w_t = graph.tensors[op.inputs[1]]
        in_scale, in_zp = _input_quant(graph, op.inputs[0])
        out_scale, out_zp = _input_quant(graph, out_index)
        filters = graph.constant(op.inputs[1])
        in_size = int(np.prod(graph.tensors[op.inputs[0]].shape))
        if filters.ndim != 2 or in_size % filters.shape[1] or out_t.shape[-1] != filters.shape[0]:
            raise ValueError(f"weights {filters.shape} do not fit input "
                             f"{graph.tensors[op.inputs[0]].shape} and output {out_t.shape}")
        if len(w_t.scale) not in (1, filters.shape[0]):
            raise ValueError(f"weights have {len(w_t.scale)} scales for "
                             f"{filters.shape[0]} outputs")
        if w_t.is_per_channel:
            multiplier, shift = conv_output_multipliers(in_scale, w_t.scale, out_scale,
                                                        filters.shape[0])
            filter_offset = 0  # the per-channel kernel has no weight offset
        else:
            m, s = fc_per_tensor_multiplier(in_scale, w_t.scale[0], out_scale)
            multiplier, shift = np.array([m], np.int32), np.array([s], np.int32)
            filter_offset = -w_t.zero_point[0]
        act_min, act_max = activation_range(op.options.get("activation", "NONE"),
                                            out_scale, out_zp)
        params = dict(filters=filters, bias=_bias(graph, op, filters.shape[0]),
                      input_offset=-in_zp, filter_offset=filter_offset, output_offset=out_zp,
                      output_multiplier=multiplier, output_shift=shift,
                      output_activation_min=act_min, output_activation_max=act_max)
    elif op.op == "SOFTMAX":
        _require_int8(graph, op, (op.inputs[0], out_index))
        _check_same_size(graph, op)
        in_scale, _ = _input_quant(graph, op.inputs[0])
        out_scale, out_zp = _input_quant(graph, out_index)
        if out_zp != -128 or np.float32(out_scale) != np.float32(1 / 256):
            raise TinyKWSError("int8 SOFTMAX output must have scale 1/256 and zero point -128 "
                               f"(TFLM requires it), got {out_scale} and {out_zp}")
        multiplier, left_shift, diff_min = softmax_ref.softmax_params(
            in_scale, op.options.get("beta", 1.0))
        params = dict(input_multiplier=multiplier, input_left_shift=left_shift,
                      diff_min=diff_min)
    elif op.op == "RESHAPE":
        _check_same_size(graph, op)
    elif op.op == "QUANTIZE":
        _check_same_size(graph, op)
        in_t = graph.tensors[op.inputs[0]]
        out_scale, out_zp = _input_quant(graph, out_index)
        _require_int8(graph, op, (out_index,))
        if in_t.dtype == "float32":
            params = dict(mode="quantize", scale=out_scale, zero_point=out_zp)
        elif in_t.dtype == "int8":
            in_scale, in_zp = _input_quant(graph, op.inputs[0])
            m, s = quant_ref.requantize_params(in_scale, out_scale)
            params = dict(mode="requantize", input_zero_point=in_zp, output_zero_point=out_zp,
                          multiplier=m, shift=s)
        else:
            raise TinyKWSError(f"QUANTIZE from {in_t.dtype} is not supported")
    elif op.op == "DEQUANTIZE":
        _require_int8(graph, op, (op.inputs[0],))
        _check_same_size(graph, op)
        scale, zp = _input_quant(graph, op.inputs[0])
        params = dict(scale=scale, zero_point=zp)
    else:
        raise TinyKWSError(f"operator {op.op} is not supported by the int8 runtime")
    return PreparedOp(op=op.op, inputs=op.inputs, output=out_index,
                      output_shape=tuple(out_t.shape), params=params)


def _gemm_weights(op: Operator, filters: np.ndarray, in_channels: int) -> np.ndarray | None:
    """The (taps, C_out) matrix of the exact GEMM path, or None where it does not apply.

    A DEPTHWISE_CONV_2D with one input channel is a CONV_2D whose filters are
    its (1, KH, KW, C_out) weights transposed to (C_out, KH, KW, 1).
    """
    if op.op == "DEPTHWISE_CONV_2D":
        if in_channels != 1:
            return None
        filters = np.transpose(filters, (3, 1, 2, 0))  # (C_out, KH, KW, 1)
    dtype = int8_conv_gemm.gemm_dtype(filters)
    return None if dtype is None else int8_conv_gemm.weights_matrix(filters, dtype)


def _execute(op: PreparedOp, args: list, batch: int, backend: str, gemm: bool) -> np.ndarray:
    """Run one prepared op on a batch with the chosen backend."""
    p = op.params
    x = args[0]
    out_shape = (batch,) + op.output_shape[1:]
    numba = backend == "numba"
    if gemm and p.get("gemm_weights") is not None:
        return int8_conv_gemm.conv_per_channel_gemm(
            x, p["gemm_weights"], p["bias"], p["input_offset"], p["output_offset"],
            p["output_multiplier"], p["output_shift"], p["output_activation_min"],
            p["output_activation_max"], p["filters"].shape[1], p["filters"].shape[2],
            p["stride_h"], p["stride_w"], p["pad_h"], p["pad_w"], p["out_h"], p["out_w"],
            p["dilation_h"], p["dilation_w"])
    if op.op == "CONV_2D":
        if numba:
            return int8_conv.conv_per_channel(
                x, p["filters"], p["bias"], p["input_offset"], p["output_offset"],
                p["output_multiplier"], p["output_shift"], p["output_activation_min"],
                p["output_activation_max"], p["stride_h"], p["stride_w"], p["pad_h"],
                p["pad_w"], p["out_h"], p["out_w"], p["dilation_h"], p["dilation_w"])
        return conv_ref.conv2d_per_channel(
            x, p["filters"], p["bias"], p["input_offset"], p["output_offset"],
            p["output_multiplier"], p["output_shift"], p["output_activation_min"],
            p["output_activation_max"], p["stride_h"], p["stride_w"], p["pad_h"], p["pad_w"],
            p["out_h"], p["out_w"], p["dilation_h"], p["dilation_w"])
    if op.op == "DEPTHWISE_CONV_2D" and numba and "conv_filters" in p:
        return int8_conv.conv_per_channel(
            x, p["conv_filters"], p["bias"], p["input_offset"], p["output_offset"],
            p["output_multiplier"], p["output_shift"], p["output_activation_min"],
            p["output_activation_max"], p["stride_h"], p["stride_w"], p["pad_h"],
            p["pad_w"], p["out_h"], p["out_w"], p["dilation_h"], p["dilation_w"])
    if op.op == "DEPTHWISE_CONV_2D":
        if numba:
            return int8_depthwise_conv.depthwise_conv_per_channel(
                x, p["filters"], p["bias"], p["depth_multiplier"], p["input_offset"],
                p["output_offset"], p["output_multiplier"], p["output_shift"],
                p["output_activation_min"], p["output_activation_max"], p["stride_h"],
                p["stride_w"], p["pad_h"], p["pad_w"], p["out_h"], p["out_w"],
                p["dilation_h"], p["dilation_w"])
        return dw_ref.depthwise_conv2d_per_channel(
            x, p["filters"], p["bias"], p["depth_multiplier"], p["input_offset"],
            p["output_offset"], p["output_multiplier"], p["output_shift"],
            p["output_activation_min"], p["output_activation_max"], p["stride_h"],
            p["stride_w"], p["pad_h"], p["pad_w"], p["out_h"], p["out_w"],
            p["dilation_h"], p["dilation_w"])
    if op.op == "FULLY_CONNECTED":
        rows = x.reshape(-1, p["filters"].shape[1])  # (N * rows, D) int8
        if numba:
            y = int8_fully_connected.fully_connected(
                rows, p["filters"], p["bias"], p["input_offset"], p["filter_offset"],
                p["output_offset"], p["output_multiplier"], p["output_shift"],
                p["output_activation_min"], p["output_activation_max"])
        else:
            y = fc_ref.fully_connected(rows, p["filters"], p["bias"], p["input_offset"],
                                       p["filter_offset"], p["output_offset"],
                                       p["output_multiplier"], p["output_shift"],
                                       p["output_activation_min"], p["output_activation_max"])
        return y.reshape(out_shape)
    if op.op == "SOFTMAX":
        rows = x.reshape(-1, x.shape[-1])  # (rows, depth) int8
        if numba:
            y = int8_softmax.softmax(rows, p["input_multiplier"], p["input_left_shift"],
                                     p["diff_min"])
        else:
            y = softmax_ref.softmax(rows, p["input_multiplier"], p["input_left_shift"],
                                    p["diff_min"])
        return y.reshape(x.shape)
    if op.op == "RESHAPE":
        return reshape(x, op.output_shape, batch=batch)
    if op.op == "QUANTIZE":
        flat = x.reshape(-1)
        if p["mode"] == "quantize":
            if numba:
                y = int8_quantize.quantize_kernel(flat.astype(np.float32), np.float32(p["scale"]),
                                    p["zero_point"])
            else:
                y = quant_ref.quantize(flat, p["scale"], p["zero_point"])
        elif numba:
            y = int8_quantize.requantize_kernel(flat, p["input_zero_point"], p["output_zero_point"],
                                  p["multiplier"], p["shift"])
        else:
            y = quant_ref.requantize(flat, p["input_zero_point"], p["output_zero_point"],
                                     p["multiplier"], p["shift"])
        return y.reshape(x.shape)
    if op.op == "DEQUANTIZE":
        if numba:
            y = int8_quantize.dequantize_kernel(x.reshape(-1), float(np.float32(p["scale"])),
                                                p["zero_point"])
        else:
            y = quant_ref.dequantize(x.reshape(-1), p["scale"], p["zero_point"])
        return y.reshape(x.shape)
    raise TinyKWSError(f"operator {op.op} is not supported by the int8 runtime")
