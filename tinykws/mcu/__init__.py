"""An estimate of what an int8 model costs on a Cortex-M (default: the Arduino Nano 33 BLE Sense).

A cost model, not a simulator: latency from each operator's MACs, window
taps and output elements with per-library instruction counts (TFLM reference
or CMSIS-NN kernels; Cortex-M4F, M33 or M7), CMSIS-NN's two scales fitted on
two published TFLM + CMSIS-NN measurements and checked on the others; memory
from TFLM's greedy arena plan, checked against tflite-micro's arena.

- :mod:`tinykws.mcu.estimate`: ``estimate_model(graph, kernels, clock_hz, core=...)``;
- :mod:`tinykws.mcu.work`, :mod:`tinykws.mcu.kernels`, :mod:`tinykws.mcu.cores`: MACs,
  cycles, and the cores' per-instruction assumptions;
- :mod:`tinykws.mcu.arena`, :mod:`tinykws.mcu.scratch`,
  :mod:`tinykws.mcu.persistent`: the tensor arena;
- :mod:`tinykws.mcu.footprint`: the runtime's own flash and RAM;
- :mod:`tinykws.mcu.clip`: preprocessing, network and postprocessing of a clip;
- :mod:`tinykws.mcu.report`: the table ``tinykws mcu`` prints;
- :mod:`tinykws.mcu.published`: every published measurement, with its source;
- :mod:`tinykws.mcu.dscnn`, :mod:`tinykws.mcu.calibration`: the fit, and the
  model's error on the points it was not fitted on.
"""

from tinykws.mcu.estimate import McuEstimate, OpEstimate, estimate_model

__all__ = ["McuEstimate", "OpEstimate", "estimate_model"]
