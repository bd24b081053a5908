"""Cycle constants of TFLite-Micro's two int8 kernel libraries on a Cortex-M4F.

An operator costs ::

    cycles = INVOKE + per_mac * MACs + per_tap * taps + per_output * outputs

with MACs, taps (filter-window positions; convolutions only) and outputs
from :mod:`tinykws.mcu.work`. These are **estimates**, not measurements: no
Cortex-M4 ran to make them.

**Plain-C convolution loops**: TFLM's reference ``CONV_2D`` and
``DEPTHWISE_CONV_2D`` (``tensorflow/lite/kernels/internal/reference/
integer_ops``) and CMSIS-NN's depthwise kernel for a depth multiplier > 1
(``arm_depthwise_conv_s8``: "Optimization using DSP extension is not
available for the generic case where channel multiplier is > 1") share one
pair of constants, **4 cycles per MAC** and **13 per tap**, *solved* from
the two published latencies (:mod:`tinykws.mcu.calibration`: two equations,
two unknowns, then rounded). Instruction counts of the reference loops
agree: the MAC body is two ``LDRSB``, an add of the input offset, an ``MLA``
and the loop's compare-and-branch; a tap adds the ``is_point_inside_image``
test, the ``Offset()`` index arithmetic for input and filter and the entry
and exit of the channel loop. A depthwise MAC is also a tap: 17 cycles,
against about 4.2 for a 64-channel 1x1 convolution. (CMSIS-NN's
multiplier-of-4 loop counts fewer instructions, about 5 per MAC, yet the
course measured it at the reference loop's 17 on the Nano: see
:mod:`tinykws.mcu.calibration`.)

**reference**, the other kernels:

- ``FULLY_CONNECTED`` 4 cycles/MAC (a 1-D dot product with the same body);
- 40 cycles per convolution/dense output: bias add,
  ``MultiplyByQuantizedMultiplier`` (64-bit ``SMULL``, rounding doubling high
  multiply, rounding shift), output offset, clamp, store;
- pooling 5 (average: add) / 4 (max: compare) cycles per window element and
  30 / 20 per output (a division for the average);
- ``SOFTMAX`` 300 cycles per output: gemmlowp's fixed-point ``exp`` of the
  differences to the maximum, the sum, a reciprocal and a rescale;
- ``RESHAPE`` 1 cycle per byte (a ``memcpy``: TFLM gives the output its own
  buffer), ``QUANTIZE``/``DEQUANTIZE`` 20 per element;
- 1,000 cycles per operator invocation: the interpreter's dispatch,
  ``GetEvalInput``/``Output`` and the per-call parameter set-up.

**cmsis-nn** (``tensorflow/lite/micro/kernels/cmsis_nn`` calling Arm's
CMSIS-NN), which uses the M4's DSP extension: ``SMLAD`` does two 16-bit MACs
in a cycle after ``SXTB16`` widens int8 pairs. Instruction counts, not
fitted, except for the plain-C depthwise loop above:

- ``CONV_2D`` 1.0 cycle/MAC and 4 per tap: ``arm_convolve_s8`` copies each
  window position into an int16 im2col column (the tap cost), then a 2x2
  output-blocked ``SMLAD`` kernel (1x1 convolutions take the
  ``_1x1_s8_fast`` path with the same kernel and almost no im2col);
- ``DEPTHWISE_CONV_2D`` with depth multiplier 1: 1.6 cycles/MAC
  (``arm_depthwise_conv_3x3_s8`` / ``_s8_opt``, SIMD over channels); with a
  larger multiplier (TinyConv's 8: one input channel, eight filters) the
  wrapper takes the plain-C ``arm_depthwise_conv_s8``, costed as above (key
  ``"DEPTHWISE_CONV_2D*"``): CMSIS-NN gains almost nothing there, while the
  same layer written as CONV_2D takes the SIMD im2col path;
- ``FULLY_CONNECTED`` 1.0 cycle/MAC (``arm_nn_vec_mat_mult_t_s8``, four rows
  per pass over the input);
- 20 cycles per output (``arm_nn_requantize``), pooling 1 per window
  element, ``SOFTMAX`` 150 per output (``arm_softmax_s8``);
  ``RESHAPE``/``QUANTIZE``/``DEQUANTIZE`` are not CMSIS-NN kernels and cost
  as in reference.

These make CMSIS-NN 3.3x faster than reference on TinyConv as CONV_2D and
3.8x on DS-CNN (1.0x on TinyConv as a multiplier-8 DEPTHWISE_CONV_2D); the
CMSIS-NN paper (Lai, Suda, Chandra 2018, arXiv:1801.06601) reports 4.6x for
a CNN against its own unoptimised baseline. Treat the SIMD paths' numbers
as less certain than the plain-C ones: no measurement backs them, and if
the Nano's memory system is what makes the measured plain-C loop 3x dearer
than its instruction count, the SIMD paths are slowed too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

INVOKE_CYCLES = 1000.0

# The plain-C convolution loops' constants, solved from the two published
# points and rounded (tinykws.mcu.calibration.solve_plain_c_constants).
PLAIN_C_CYCLES_PER_MAC = 4.0
PLAIN_C_CYCLES_PER_TAP = 13.0


@dataclass(frozen=True)
class OpCycles:
    """Cycles of one kernel: per multiply-accumulate, per window tap, per output.

    ``plain_c`` marks the plain-C convolution loops, whose per-MAC and per-tap
    constants are the two solved from the published points.
    """

    per_mac: float
    per_tap: float
    per_output: float
    plain_c: bool = False


@dataclass(frozen=True)
class KernelLibrary:
    """A kernel library's cycle constants, by operator name (see the module doc)."""

    name: str
    ops: dict[str, OpCycles] = field(compare=False)
    invoke_cycles: float = INVOKE_CYCLES

    def kernel(self, op: str, depth_multiplier: int = 1) -> str:
        """The key of ``op``'s constants: a depthwise conv with multiplier > 1 may differ."""
        if op == "DEPTHWISE_CONV_2D" and depth_multiplier != 1 and "DEPTHWISE_CONV_2D*" in self.ops:
            return "DEPTHWISE_CONV_2D*"
        return op

    def cycles(self, kernel: str, macs: int, taps: int, outputs: int) -> float:
        c = self.ops[kernel]
        return self.invoke_cycles + c.per_mac * macs + c.per_tap * taps + c.per_output * outputs


_COMMON = {
    "RESHAPE": OpCycles(0.0, 0.0, 1.0),
    "QUANTIZE": OpCycles(0.0, 0.0, 20.0),
    "DEQUANTIZE": OpCycles(0.0, 0.0, 20.0),
}

_REFERENCE_CONV = OpCycles(PLAIN_C_CYCLES_PER_MAC, PLAIN_C_CYCLES_PER_TAP, 40.0, plain_c=True)
REFERENCE = KernelLibrary("reference", {
    "CONV_2D": _REFERENCE_CONV,
    "DEPTHWISE_CONV_2D": _REFERENCE_CONV,
    "FULLY_CONNECTED": OpCycles(4.0, 0.0, 40.0),
    "AVERAGE_POOL_2D": OpCycles(5.0, 0.0, 30.0),
    "MAX_POOL_2D": OpCycles(4.0, 0.0, 20.0),
    "SOFTMAX": OpCycles(0.0, 0.0, 300.0),
    **_COMMON,
})

CMSIS_NN = KernelLibrary("cmsis-nn", {
    "CONV_2D": OpCycles(1.0, 4.0, 20.0),
    "DEPTHWISE_CONV_2D": OpCycles(1.6, 0.0, 20.0),
    "DEPTHWISE_CONV_2D*": OpCycles(PLAIN_C_CYCLES_PER_MAC, PLAIN_C_CYCLES_PER_TAP, 20.0,
                                   plain_c=True),
    "FULLY_CONNECTED": OpCycles(1.0, 0.0, 20.0),
    "AVERAGE_POOL_2D": OpCycles(1.0, 0.0, 20.0),
    "MAX_POOL_2D": OpCycles(1.0, 0.0, 10.0),
    "SOFTMAX": OpCycles(0.0, 0.0, 150.0),
    **_COMMON,
})

LIBRARIES = {lib.name: lib for lib in (REFERENCE, CMSIS_NN)}
