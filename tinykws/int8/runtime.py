"""Our int8 interpreter: run a parsed TFLite graph op by op, bit-exact with tflite-micro.

:class:`Int8Runtime` does what TFLM's ``Prepare`` step does once (turn float
scales into integer multipliers and shifts, activation bounds, padding) and
then, per call, runs each operator's kernel in order. Every op is one module
of :mod:`tinykws.int8` shaped like its TFLM twin, and one row of :data:`OPS`:

- ``prepare(graph, op) -> params``, a frozen dataclass with TFLM's field
  names (``ConvParams``, ``FullyConnectedParams``, ``SoftmaxParams``, ...);
- ``reference``, the readable NumPy function (``backend="numpy"``), and
  ``kernel``, its Numba twin in ``kernels/int8_*.py`` (``backend="numba"``,
  the default): both take the input and the params' fields by name, so
  ``kernel(x, **vars(params))`` and ``reference(x, **vars(params))`` give the
  same bits;
- optionally ``gemm(params)``: the integer GEMM over stride phases of
  ``kernels/int8_conv_phases.py`` (int16 inputs and weights, int32 sums, no
  BLAS), which CONV_2D, and DEPTHWISE_CONV_2D with one input channel
  (TinyConv's first layer in its micro_speech form), take by default;
  ``gemm=False`` forces the plain loop kernels.

All produce exactly tflite-micro's bytes, for every intermediate tensor.

Streaming ops: SVDF reads and rewrites a *variable* tensor (its memory of past
frames), so a graph with one keeps state between calls, as TFLM's interpreter
does between invocations. Its input is one frame; :meth:`Int8Runtime.run_clip`
feeds a whole clip frame by frame from a fresh state, and
:meth:`Int8Runtime.reset_state` starts a new stream.

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
from functools import partial
from typing import Callable, NamedTuple

import numpy as np

from kernels import (
    int8_add, int8_conv, int8_depthwise_conv, int8_fully_connected, int8_mean, int8_pooling,
    int8_quantize, int8_softmax, int8_svdf)
from tinykws.errors import TinyKWSError
from tinykws.int8 import (
    add, conv, depthwise_conv, fully_connected, mean, pooling, quantize, reshape, softmax, svdf)
from tinykws.tflite.model import Graph, Operator


class OpKernels(NamedTuple):
    """One row of the op table: how to prepare an op and the functions that run it."""

    prepare: Callable  # (graph, op) -> params dataclass
    reference: Callable  # (input_data, **fields of params) -> output, NumPy
    kernel: Callable  # the same, Numba
    gemm: Callable | None = None  # params -> (input_data -> output) or None: the fast path
    activations: int = 1  # how many leading inputs are activations the kernel reads (ADD: 2)
    # The input that is a variable tensor the op reads and rewrites (SVDF: 4), or None;
    # such a kernel takes (activations..., state) and returns (output, new state).
    state: int | None = None


# TFLM's QUANTIZE picks its kernel by the input's type: float32 -> AffineQuantize,
# int8 -> Requantize; the second gets a row of its own.
REQUANTIZE = "QUANTIZE (int8 -> int8)"

OPS: dict[str, OpKernels] = {
    "CONV_2D": OpKernels(conv.prepare, conv.conv_per_channel, int8_conv.conv_per_channel,
                         conv.gemm),
    "DEPTHWISE_CONV_2D": OpKernels(depthwise_conv.prepare,
                                   depthwise_conv.depthwise_conv_per_channel,
                                   int8_depthwise_conv.depthwise_conv_per_channel,
                                   depthwise_conv.gemm),
    "FULLY_CONNECTED": OpKernels(fully_connected.prepare, fully_connected.fully_connected,
                                 int8_fully_connected.fully_connected),
    "SOFTMAX": OpKernels(softmax.prepare, softmax.softmax, int8_softmax.softmax),
    "QUANTIZE": OpKernels(quantize.prepare, quantize.affine_quantize,
                          int8_quantize.affine_quantize),
    REQUANTIZE: OpKernels(quantize.prepare_requantize, quantize.requantize,
                          int8_quantize.requantize),
    "DEQUANTIZE": OpKernels(quantize.prepare_dequantize, quantize.dequantize,
                            int8_quantize.dequantize),
    "RESHAPE": OpKernels(reshape.prepare, reshape.reshape, reshape.reshape),
    "AVERAGE_POOL_2D": OpKernels(pooling.prepare, pooling.average_pool,
                                 int8_pooling.average_pool),
    "MAX_POOL_2D": OpKernels(pooling.prepare, pooling.max_pool, int8_pooling.max_pool),
    "ADD": OpKernels(add.prepare, add.add, int8_add.add, activations=2),
    "MEAN": OpKernels(mean.prepare, mean.mean, int8_mean.mean),
    "SVDF": OpKernels(svdf.prepare, svdf.svdf, int8_svdf.svdf, state=svdf.STATE_INPUT),
}

# Inputs an op cannot run without (the rest, such as a bias, are optional).
_REQUIRED_INPUTS = {"CONV_2D": 2, "DEPTHWISE_CONV_2D": 2, "FULLY_CONNECTED": 2, "ADD": 2,
                    "MEAN": 2, "SVDF": 5}


@dataclass(frozen=True)
class PreparedOp:
    """One operator ready to run (TFLM's node with its OpData)."""

    op: str
    inputs: tuple[int, ...]
    activations: tuple[int, ...]  # the inputs ``function`` takes, in order
    output: int
    output_shape: tuple[int, ...]
    params: object  # the op's params dataclass
    function: Callable[[np.ndarray], np.ndarray]  # the chosen kernel, params bound
    state: int | None = None  # the variable tensor a streaming op keeps, or None


class Int8Runtime:
    """Runs an int8 :class:`~tinykws.tflite.model.Graph` with one input and outputs."""

    def __init__(self, graph: Graph, backend: str = "numba", gemm: bool = True,
                 activation_bits: int = 8):
        """``activation_bits < 8`` (the quantization study, not TFLite) clamps every
        CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, pooling, ADD and SVDF output to int8's lowest
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
        self.ops = tuple(self._prepare(op, activation_bits) for op in graph.operators)
        _check_dataflow(graph, self.ops)
        self._states: dict[int, np.ndarray] = {}  # variable tensor -> (N, size), between calls

    def _prepare(self, op: Operator, activation_bits: int) -> PreparedOp:
        """Prepare ``op`` and bind the function the backend runs it with."""
        row = OPS[_row_name(self.graph, op)]
        params = _narrow(_prepare_checked(row, self.graph, op), activation_bits)
        function = row.gemm(params) if self.gemm and row.gemm is not None else None
        if function is None:
            function = partial(row.kernel if self.backend == "numba" else row.reference,
                               **vars(params))
        state = None if row.state is None else op.inputs[row.state]
        return PreparedOp(op.op, op.inputs, op.inputs[:row.activations], op.outputs[0],
                          tuple(self.graph.tensors[op.outputs[0]].shape), params, function,
                          state)

    @property
    def is_streaming(self) -> bool:
        """Whether the graph keeps state between calls (it has an SVDF)."""
        return any(op.state is not None for op in self.ops)

    def reset_state(self) -> None:
        """Forget every stream: the next call starts from TFLM's reset state (zeros)."""
        self._states = {}

    def _state(self, index: int, batch: int) -> np.ndarray:
        """The variable tensor ``index`` as the last call left it, or zeros at a stream's start."""
        t = self.graph.tensors[index]
        state = self._states.get(index)
        if state is None:  # TFLM resets int16 variables to 0 (int8 ones to the zero point)
            return np.zeros((batch,) + tuple(t.shape[1:]), t.dtype)
        if len(state) != batch:
            raise TinyKWSError(f"the state holds {len(state)} streams, not {batch}: "
                               "call reset_state() before running another batch")
        return state

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
        values = {g.inputs[0]: np.ascontiguousarray(x)}  # the kernels reshape their inputs
        for op in self.ops:
            inputs = [values[i] for i in op.activations]
            if op.state is None:
                y = op.function(*inputs)
            else:  # a streaming op reads the state the last call left and leaves the next
                y, values[op.state] = op.function(*inputs, self._state(op.state, len(x)))
                self._states[op.state] = values[op.state]
            values[op.output] = y.reshape((x.shape[0],) + op.output_shape[1:])
        if keep_all:
            return values
        return values[g.outputs[0]]

    def run_clip(self, x: np.ndarray) -> np.ndarray:
        """The output for whole clips ``x`` (N, frames, bins, 1) int8.

        A streaming graph (input one frame, ``(1, bins)``) starts from a fresh
        state and takes the frames one call each, oldest first; its output
        after the last frame is the clip's. Any other graph runs ``x`` at once.
        """
        if not self.is_streaming:
            return self.run(x)
        x = np.asarray(x)
        self.reset_state()
        for t in range(x.shape[1]):
            y = self.run(np.ascontiguousarray(x[:, t].reshape(len(x), -1)))
        self.reset_state()
        return y


def _row_name(graph: Graph, op: Operator) -> str:
    """The :data:`OPS` row of ``op``: its name, but for an int8 -> int8 QUANTIZE."""
    if op.op == "QUANTIZE" and op.inputs and op.inputs[0] >= 0 \
            and graph.tensors[op.inputs[0]].dtype == "int8":
        return REQUANTIZE
    if op.op not in OPS:
        raise TinyKWSError(f"operator {op.op} is not supported by the int8 runtime")
    return op.op


def _prepare_checked(row: OpKernels, graph: Graph, op: Operator):
    """``row.prepare``, turning what TFLM's Prepare would reject into TinyKWSError."""
    required = _REQUIRED_INPUTS.get(op.op, 1)
    if len(op.inputs) < required or min(op.inputs[:required]) < 0 or len(op.outputs) != 1 \
            or op.outputs[0] < 0:
        raise TinyKWSError(f"{op.op} needs {required} input tensor(s) and 1 output, "
                           f"has inputs {op.inputs} and outputs {op.outputs}")
    try:
        return row.prepare(graph, op)
    except (ValueError, KeyError, IndexError) as err:
        raise TinyKWSError(f"cannot run {op.op} (outputs {op.outputs}): {err}") from None


def _narrow(params, bits: int):
    """``params`` with the output clamp narrowed to ``2^bits`` codes (no change at 8 bits)."""
    if bits == 8 or not hasattr(params, "quantized_activation_max"):
        return params
    top = min(params.quantized_activation_max, -129 + 2 ** bits)
    return replace(params, quantized_activation_max=top)


def _check_dataflow(graph: Graph, ops: tuple[PreparedOp, ...]) -> None:
    """Every op reads a tensor computed before it; the output is computed."""
    ready = {graph.inputs[0]}
    for op in ops:
        for i in op.activations:
            if i not in ready:
                raise TinyKWSError(f"{op.op} reads tensor {i} before any operator "
                                   "computes it (operators must be in execution order)")
        ready.add(op.output)
    if len(graph.outputs) != 1 or graph.outputs[0] not in ready:
        raise TinyKWSError(f"model outputs {graph.outputs}: need one output computed by the "
                           "operators")
