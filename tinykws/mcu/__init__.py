"""An estimate of what an int8 model costs on the Arduino Nano 33 BLE Sense.

A cost model, not a simulator: latency from each operator's MACs, window
taps and output elements with per-library cycle constants (TFLM reference
or CMSIS-NN kernels on a Cortex-M4F), memory from TFLM's greedy arena plan;
fitted to published latencies and checked against tflite-micro's arena.

- :mod:`tinykws.mcu.estimate`: ``estimate_model(graph, kernels, clock_hz)``;
- :mod:`tinykws.mcu.work`, :mod:`tinykws.mcu.kernels`: MACs and cycles;
- :mod:`tinykws.mcu.arena`, :mod:`tinykws.mcu.scratch`,
  :mod:`tinykws.mcu.persistent`: the tensor arena;
- :mod:`tinykws.mcu.footprint`: the runtime's own flash and RAM;
- :mod:`tinykws.mcu.clip`: preprocessing, network and postprocessing of a clip;
- :mod:`tinykws.mcu.report`: the table ``tinykws mcu`` prints;
- :mod:`tinykws.mcu.dscnn`, :mod:`tinykws.mcu.calibration`: the published
  points and the model's error on them.
"""

from tinykws.mcu.estimate import McuEstimate, OpEstimate, estimate_model

__all__ = ["McuEstimate", "OpEstimate", "estimate_model"]
