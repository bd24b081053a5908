"""Cycle constants of TFLite-Micro's two int8 kernel libraries on a Cortex-M.

An operator costs ::

    counted = INVOKE + per_mac * MACs + per_tap * taps + per_output * outputs
    cycles  = counted * scale[library, path] * core_factor[path]

with MACs, taps (filter-window positions; convolutions only) and outputs
from :mod:`tinykws.mcu.work`. ``path`` says which kind of code runs the
operator: ``"plain_c"`` (scalar C loops) or ``"simd"`` (CMSIS-NN's DSP
paths). The per-MAC, per-tap and per-output constants are **instruction
counts** for a Cortex-M4 (:mod:`tinykws.mcu.cores` scales them for the
M33 and M7); no Cortex-M ran to make them. The two CMSIS-NN ``scale``
factors are the only numbers fitted to measurements, and only to CMSIS-NN
measurements (:mod:`tinykws.mcu.calibration`, :mod:`tinykws.mcu.published`);
they say how much slower the boards ran than the instructions count (flash
wait states, the compiler's code, what the count leaves out).

**reference** (``tensorflow/lite/kernels/internal/reference/integer_ops``),
all plain C, scale 1: no published measurement of these kernels on a KWS
network was found, so nothing has checked these numbers.

- ``CONV_2D``/``DEPTHWISE_CONV_2D``: **9 cycles per MAC**, the inner loop
  over input channels: two ``LDRSB`` (3 cycles, the second pipelined), an add
  of the input offset, an ``MLA``, a compare and a taken branch (3); and **13
  per tap**: the ``is_point_inside_image`` tests, the index arithmetic for
  input and filter, the channel loop's entry and exit. A depthwise MAC is
  also a tap: 22 cycles, against about 9.2 for a 64-channel 1x1 conv.
- ``FULLY_CONNECTED`` 9 cycles/MAC (the same loop body);
- 40 cycles per convolution/dense output: bias add,
  ``MultiplyByQuantizedMultiplier`` (64-bit ``SMULL``, rounding doubling high
  multiply, rounding shift), output offset, clamp, store;
- pooling 5 (average: add) / 4 (max: compare) cycles per window element and
  30 / 20 per output (a division for the average);
- ``ADD`` 50 cycles per output (``reference_integer_ops::AddElementwise``):
  two int8 loads and offsets, the left shift by 20, three
  ``MultiplyByQuantizedMultiplierSmallerThanOneExp`` (about 12 each), clamp and
  store; a broadcasting ADD walks its index arithmetic on top, not counted;
- ``MEAN`` over height and width 4 cycles per input element (load, add,
  the loop) and 40 per output (the rescale of the sum);
- ``SOFTMAX`` 300 cycles per output: gemmlowp's fixed-point ``exp`` of the
  differences to the maximum, the sum, a reciprocal and a rescale;
- ``SVDF`` (``EvalIntegerSvdfReference``) 9 cycles per MAC (the same loop
  body, int8 x int8 for the feature filter and int16 x int16 for the time
  filter), 3 per state element shifted (a load, a store, the loop's pointer
  compare and branch) and 40 per requantization;
- ``RESHAPE`` 1 cycle per byte (a ``memcpy``: TFLM gives the output its own
  buffer), ``QUANTIZE``/``DEQUANTIZE`` 20 per element;
- 1,000 cycles per operator invocation: the interpreter's dispatch,
  ``GetEvalInput``/``Output`` and the per-call parameter set-up.

**cmsis-nn** (``tensorflow/lite/micro/kernels/cmsis_nn`` calling Arm's
CMSIS-NN), which uses the DSP extension: ``SMLAD`` does two 16-bit MACs in a
cycle after ``SXTB16`` widens int8 pairs. Counted constants, then multiplied
by the fitted scale of their path:

- ``simd`` path: ``CONV_2D`` 1.0 cycle/MAC and 4 per tap (``arm_convolve_s8``
  copies each window position into an int16 im2col column, then a 2x2
  output-blocked ``SMLAD`` kernel; 1x1 convolutions take the ``_1x1_s8_fast``
  path with the same kernel); ``DEPTHWISE_CONV_2D`` with depth multiplier 1
  1.6 cycles/MAC (``arm_depthwise_conv_3x3_s8`` / ``_s8_opt``, SIMD over
  channels); ``FULLY_CONNECTED`` 1.0 (``arm_nn_vec_mat_mult_t_s8``); 20
  cycles per output (``arm_nn_requantize``), pooling 1 per window element,
  ``SOFTMAX`` 150 per output (``arm_softmax_s8``), ``ADD`` 15 per output
  (``arm_elementwise_add_s8``: ``SXTB16`` pairs, three ``arm_nn_requantize``
  of a few cycles each); ``SVDF`` (``arm_svdf_state_s16_s8``)
  1.0 cycle/MAC (``SMLAD`` over the int8 feature filter widened to int16 and
  over the int16 time filter), 0.5 per state element shifted (a word-wise
  ``memmove``), 20 per requantization; no SVDF measurement checks these. Scale
  :data:`CMSIS_NN_SIMD_SCALE`, fitted on MLPerf Tiny's DS-CNN on the EK-RA6M4.
- ``plain_c`` path: ``DEPTHWISE_CONV_2D`` with a depth multiplier > 1 (key
  ``"DEPTHWISE_CONV_2D*"``; TinyConv's 8: one input channel, eight filters):
  the wrapper calls ``arm_depthwise_conv_s8``, which has no DSP path for
  it; its multiplier-of-4 loop loads one input and four weights for four
  MACs, about **5 cycles per MAC** with the window set-up. Scale
  :data:`CMSIS_NN_PLAIN_C_SCALE`, fitted on micro_speech on the Nano 33 BLE.
  The same layer written as CONV_2D takes the SIMD im2col path.
- ``MEAN``, ``RESHAPE``, ``QUANTIZE`` and ``DEQUANTIZE`` are not CMSIS-NN kernels
  and cost as in reference (plain C), as does the 1,000-cycle invocation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

INVOKE_CYCLES = 1000.0
PATHS = ("plain_c", "simd")

# Measured / counted cycles of CMSIS-NN's two paths, solved from the two fit points of
# tinykws.mcu.published and rounded (tinykws.mcu.calibration.solve_cmsis_nn_scales).
CMSIS_NN_SIMD_SCALE = 1.77
CMSIS_NN_PLAIN_C_SCALE = 2.02


@dataclass(frozen=True)
class OpCycles:
    """Counted cycles of one kernel: per multiply-accumulate, per window tap, per output."""

    per_mac: float
    per_tap: float
    per_output: float
    path: str = "plain_c"


@dataclass(frozen=True)
class KernelLibrary:
    """A kernel library's counted constants by operator, and each path's fitted scale."""

    name: str
    ops: dict[str, OpCycles] = field(compare=False)
    scales: dict[str, float] = field(compare=False)
    invoke_cycles: float = INVOKE_CYCLES

    def kernel(self, op: str, depth_multiplier: int = 1) -> str:
        """The key of ``op``'s constants: a depthwise conv with multiplier > 1 may differ."""
        if op == "DEPTHWISE_CONV_2D" and depth_multiplier != 1 and "DEPTHWISE_CONV_2D*" in self.ops:
            return "DEPTHWISE_CONV_2D*"
        return op

    def counted_cycles(self, kernel: str, macs: int, taps: int, outputs: int) -> float:
        """Cycles the instructions count on a Cortex-M4, before any scale."""
        c = self.ops[kernel]
        return self.invoke_cycles + c.per_mac * macs + c.per_tap * taps + c.per_output * outputs

    def cycles(self, kernel: str, macs: int, taps: int, outputs: int,
               core_factor: dict[str, float] | None = None) -> float:
        """Estimated cycles: counted, times the path's scale and the core's factor."""
        path = self.ops[kernel].path
        factor = 1.0 if core_factor is None else core_factor[path]
        return self.counted_cycles(kernel, macs, taps, outputs) * self.scales[path] * factor


_COMMON = {
    "MEAN": OpCycles(4.0, 0.0, 40.0),
    "RESHAPE": OpCycles(0.0, 0.0, 1.0),
    "QUANTIZE": OpCycles(0.0, 0.0, 20.0),
    "DEQUANTIZE": OpCycles(0.0, 0.0, 20.0),
}

_REFERENCE_CONV = OpCycles(9.0, 13.0, 40.0)
REFERENCE = KernelLibrary("reference", {
    "CONV_2D": _REFERENCE_CONV,
    "DEPTHWISE_CONV_2D": _REFERENCE_CONV,
    "FULLY_CONNECTED": OpCycles(9.0, 0.0, 40.0),
    "AVERAGE_POOL_2D": OpCycles(5.0, 0.0, 30.0),
    "MAX_POOL_2D": OpCycles(4.0, 0.0, 20.0),
    "ADD": OpCycles(0.0, 0.0, 50.0),
    "SOFTMAX": OpCycles(0.0, 0.0, 300.0),
    "SVDF": OpCycles(9.0, 3.0, 40.0),
    **_COMMON,
}, scales={"plain_c": 1.0, "simd": 1.0})

CMSIS_NN = KernelLibrary("cmsis-nn", {
    "CONV_2D": OpCycles(1.0, 4.0, 20.0, "simd"),
    "DEPTHWISE_CONV_2D": OpCycles(1.6, 0.0, 20.0, "simd"),
    "DEPTHWISE_CONV_2D*": OpCycles(5.0, 0.0, 20.0),
    "FULLY_CONNECTED": OpCycles(1.0, 0.0, 20.0, "simd"),
    "AVERAGE_POOL_2D": OpCycles(1.0, 0.0, 20.0, "simd"),
    "MAX_POOL_2D": OpCycles(1.0, 0.0, 10.0, "simd"),
    "ADD": OpCycles(0.0, 0.0, 15.0, "simd"),
    "SOFTMAX": OpCycles(0.0, 0.0, 150.0, "simd"),
    "SVDF": OpCycles(1.0, 0.5, 20.0, "simd"),
    **_COMMON,
}, scales={"plain_c": CMSIS_NN_PLAIN_C_SCALE, "simd": CMSIS_NN_SIMD_SCALE})

LIBRARIES = {lib.name: lib for lib in (REFERENCE, CMSIS_NN)}
