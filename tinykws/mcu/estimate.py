"""Latency and memory of an int8 .tflite graph on a Cortex-M microcontroller.

The default target: the Arduino Nano 33 BLE Sense, an nRF52840 (Cortex-M4F
at 64 MHz, 1 MB of flash, 256 KB of RAM), running TensorFlow Lite Micro with
either its **reference** kernels or the **cmsis-nn** ones; ``core`` may
also be ``"m33"`` or ``"m7"`` (:mod:`tinykws.mcu.cores`, with the clock
given). Nothing runs on a device: this is a model of one, an **estimate**;
:mod:`tinykws.mcu.calibration` compares it with published measurements it
was not fitted on (:mod:`tinykws.mcu.published`).

- latency: per operator, cycles from its MACs, window taps and output
  elements (:mod:`tinykws.mcu.work`), the library's constants and fitted
  scales (:mod:`tinykws.mcu.kernels`) and the core's factors
  (:mod:`tinykws.mcu.cores`), divided by the clock;
- arena: TFLM's greedy plan of the activations and kernel scratch buffers
  (:mod:`tinykws.mcu.arena`, :mod:`tinykws.mcu.scratch`) plus its persistent
  bookkeeping (:mod:`tinykws.mcu.persistent`);
- flash: the model's bytes (read from flash in place, never copied) plus the
  runtime's code; RAM: the arena plus the runtime's objects and stack
  (:mod:`tinykws.mcu.footprint`).

Usage::

    graph = read_tflite("model.tflite")
    est = estimate_model(graph, kernels="cmsis-nn", clock_hz=64e6, core="m4")
    est.network_ms, est.arena_bytes, est.flash_bytes, est.ram_bytes
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from tinykws.errors import TinyKWSError
from tinykws.mcu.arena import Buffer, plan_greedy, tensor_buffers
from tinykws.mcu.cores import CORES, DEFAULT_CORE
from tinykws.mcu.footprint import RUNTIME_RAM_BYTES, runtime_flash_bytes
from tinykws.mcu.kernels import LIBRARIES
from tinykws.mcu.persistent import persistent_bytes
from tinykws.mcu.scratch import scratch_bytes
from tinykws.mcu.work import op_work
from tinykws.size import NANO33_FLASH, NANO33_RAM
from tinykws.tflite.model import Graph

NANO33_CLOCK_HZ = 64e6
INT8_KERNEL_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D",
                   "MAX_POOL_2D", "MEAN", "ADD", "SOFTMAX", "SVDF")


@dataclass(frozen=True)
class OpEstimate:
    """One operator's row: its work and its estimated time."""

    index: int
    op: str
    kernel: str             # key of the constants used (tinykws.mcu.kernels)
    macs: int
    taps: int
    outputs: int
    cycles: float
    ms: float
    scratch_bytes: int


@dataclass(frozen=True)
class McuEstimate:
    """Estimated latency (ms, at ``clock_hz``) and memory (bytes) of one graph."""

    kernels: str
    clock_hz: float
    core: str
    ops: tuple[OpEstimate, ...]
    network_cycles: float
    network_ms: float
    planned_bytes: int      # arena head: activations + scratch, greedy plan
    persistent_bytes: int   # arena tail: TFLM's bookkeeping
    arena_bytes: int
    model_bytes: int
    runtime_flash_bytes: int
    flash_bytes: int
    runtime_ram_bytes: int
    ram_bytes: int
    assumptions: tuple[str, ...]

    @property
    def macs(self) -> int:
        return sum(r.macs for r in self.ops)

    @property
    def flash_percent(self) -> float:
        """Percent of the Nano 33 BLE Sense's 1 MB of flash."""
        return 100.0 * self.flash_bytes / NANO33_FLASH

    @property
    def ram_percent(self) -> float:
        """Percent of the Nano 33 BLE Sense's 256 KB of RAM."""
        return 100.0 * self.ram_bytes / NANO33_RAM

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(macs=self.macs, flash_percent=self.flash_percent, ram_percent=self.ram_percent)
        return d


def estimate_model(graph: Graph, kernels: str = "reference", clock_hz: float = NANO33_CLOCK_HZ,
                   model_bytes: int | None = None, core: str = DEFAULT_CORE) -> McuEstimate:
    """Estimate ``graph`` on a Cortex-M ``core`` at ``clock_hz`` with ``kernels``.

    ``kernels`` is ``"reference"`` or ``"cmsis-nn"``; ``core`` is ``"m4"``
    (default), ``"m33"`` or ``"m7"``. ``model_bytes`` is the
    .tflite file's size; by default the size of ``graph`` as our writer
    serialises it. Raises :class:`TinyKWSError` for an operator the model
    does not cover or a float operator (only int8 kernels are modelled).
    """
    if kernels not in LIBRARIES:
        raise TinyKWSError(f"unknown kernel library {kernels!r}; choose from {', '.join(LIBRARIES)}")
    if core not in CORES:
        raise TinyKWSError(f"unknown core {core!r}; choose from {', '.join(CORES)}")
    if not clock_hz > 0:
        raise TinyKWSError(f"the clock must be positive, not {clock_hz} Hz")
    library = LIBRARIES[kernels]
    factors = {"plain_c": CORES[core].plain_c_factor, "simd": CORES[core].simd_factor}
    rows, scratch = [], []
    for k, op in enumerate(graph.operators):
        work = op_work(graph, op)
        if op.op in INT8_KERNEL_OPS and graph.tensors[op.inputs[0]].dtype != "int8":
            raise TinyKWSError(f"operator {k} ({op.op}) has a {graph.tensors[op.inputs[0]].dtype} "
                               "input; the MCU cost model covers int8 kernels only")
        kernel = library.kernel(op.op, op.options.get("depth_multiplier", 1))
        cycles = library.cycles(kernel, work.macs, work.taps, work.outputs, factors)
        extra = scratch_bytes(kernels, graph, op)
        if extra:
            scratch.append(Buffer(f"scratch{k}", extra, k, k))
        rows.append(OpEstimate(k, op.op, kernel, work.macs, work.taps, work.outputs, cycles,
                               1e3 * cycles / clock_hz, extra))
    planned = plan_greedy(tensor_buffers(graph) + scratch).head_bytes
    tail = persistent_bytes(graph)
    if model_bytes is None:
        from tinykws.tflite.writer import serialize_tflite

        model_bytes = len(serialize_tflite(graph))
    code = runtime_flash_bytes(kernels, {op.op for op in graph.operators})
    network_cycles = sum(r.cycles for r in rows)
    return McuEstimate(
        kernels=kernels, clock_hz=float(clock_hz), core=core, ops=tuple(rows),
        network_cycles=network_cycles, network_ms=1e3 * network_cycles / clock_hz,
        planned_bytes=planned, persistent_bytes=tail, arena_bytes=planned + tail,
        model_bytes=int(model_bytes), runtime_flash_bytes=code, flash_bytes=int(model_bytes) + code,
        runtime_ram_bytes=RUNTIME_RAM_BYTES, ram_bytes=planned + tail + RUNTIME_RAM_BYTES,
        assumptions=assumptions(kernels, clock_hz, core),
    )


def assumptions(kernels: str, clock_hz: float, core: str = DEFAULT_CORE) -> tuple[str, ...]:
    """The stated assumptions behind an estimate, one sentence each."""
    from tinykws.mcu.kernels import CMSIS_NN_PLAIN_C_SCALE, CMSIS_NN_SIMD_SCALE

    lib = LIBRARIES[kernels]
    if kernels == "cmsis-nn":
        fit = (f"counted constants x fitted scales: SIMD paths x{CMSIS_NN_SIMD_SCALE:g} (from "
               "MLPerf Tiny DS-CNN on the EK-RA6M4, TFLM + CMSIS-NN), plain-C depthwise with "
               f"multiplier > 1 x{CMSIS_NN_PLAIN_C_SCALE:g} (from micro_speech on the Nano 33 "
               "BLE); fitted on CMSIS-NN measurements only")
    else:
        fit = ("counted constants only: no published measurement of TFLM's reference kernels on "
               "a KWS network was found, so nothing checks them")
    return (
        f"{CORES[core].assumption}; clock {clock_hz / 1e6:g} MHz",
        f"TFLM {kernels} kernels; cycles = {lib.invoke_cycles:g} per op + per-MAC, per-tap and "
        f"per-output instruction counts (tinykws.mcu.kernels); {fit}",
        "no cache, flash wait-state or memory model beyond what the fitted scales absorb",
        "arena = TFLM greedy plan of activations + scratch (16-byte aligned) + persistent "
        "bookkeeping sized as tflite-micro's 64-bit host reports it",
        "flash = model bytes + 16 KB TFLM core + per-kernel code (assumed); "
        "RAM = arena + 4 KB runtime objects and stack; Mbed OS and audio buffers not counted",
    )
