"""The Cortex-M cores the cost model covers, and what it assumes of each.

The kernel constants (:mod:`tinykws.mcu.kernels`) count Cortex-M4
instructions. Another core scales them by two factors: one for the plain-C
loops (the reference kernels, CMSIS-NN's depthwise with a multiplier > 1,
the interpreter) and one for CMSIS-NN's SIMD paths. The factors are stated
assumptions from the cores' instruction timings, not fits:

- **m4** (Cortex-M4F, Armv7E-M; the Nano 33 BLE Sense's nRF52840): 3-stage
  pipeline, single issue. ``LDR``/``LDRSB`` 2 cycles, 1 when it follows
  another load; ``MLA``, ``SMLAD`` (two 16-bit MACs), ``SXTB16`` 1 cycle; a
  taken branch 2-4 (pipeline refill). Factors 1 and 1: the constants are
  counted for it.
- **m33** (Cortex-M33, Armv8-M Mainline with the DSP extension): also a
  3-stage single-issue pipeline, and the DSP extension has the M4's
  single-cycle ``SMLAD``/``SXTB16``; CMSIS-NN compiles the same DSP paths
  for it (``ARM_MATH_DSP``). Factors 1 and 1. (An M33 built without the DSP
  extension runs CMSIS-NN's plain-C fallbacks: not modelled.)
- **m7** (Cortex-M7, Armv7E-M): 6-stage, dual issue: a load pairs with an
  ALU or multiply-accumulate instruction and a predicted loop branch costs
  about one cycle. Assumed factors: 0.5 for plain-C loops (the M4's 9-cycle
  MAC body, two loads + add + MLA + compare + branch, issues in about 4-5)
  and 0.6 for the SIMD paths (their ``SMLAD`` chains pair less: each waits
  on the previous accumulator). No published TFLM measurement on an M7 was
  found to check them; the M7 rows of ``tinykws mcu --validate`` are other
  inference engines, context only.

Caches, flash wait states and tightly coupled memories are not modelled:
they are part of what the fitted scales absorb, which is why a board whose
memory system differs from the fitted boards' may be off by more than the
held-out errors say.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Core:
    """One Cortex-M core: cycle factors against the counted M4 constants."""

    name: str
    title: str
    plain_c_factor: float
    simd_factor: float
    assumption: str


CORES = {c.name: c for c in (
    Core("m4", "Cortex-M4F", 1.0, 1.0,
         "Cortex-M4F: single issue; LDR 2 cycles (1 after a load), MLA/SMLAD 1, taken branch "
         "2-4; the constants are counted for it (factors 1, 1)"),
    Core("m33", "Cortex-M33 (DSP extension)", 1.0, 1.0,
         "Cortex-M33 with the DSP extension: single issue, the M4's single-cycle SMLAD/SXTB16, "
         "CMSIS-NN's DSP paths; factors 1, 1 against the M4"),
    Core("m7", "Cortex-M7", 0.5, 0.6,
         "Cortex-M7: dual issue (a load beside an ALU/MAC op), predicted loop branches; assumed "
         "0.5x the M4's cycles in plain-C loops and 0.6x in SIMD paths, unchecked by any TFLM "
         "measurement"),
)}
DEFAULT_CORE = "m4"
