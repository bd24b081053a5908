"""The published measurements the MCU cost model is fitted to, and its error on them.

=====================================================  =========  ==========  =====
point                                                  published  estimated   error
=====================================================  =========  ==========  =====
TinyConv network, TFLM cmsis-nn, Nano 33 BLE, 64 MHz    88 ms      86.6 ms    -1.6 %
DS-CNN network, TFLM reference, Cortex-M4 at 120 MHz    181.9 ms   182.4 ms   +0.3 %
micro frontend on 1 s of audio, Nano 33 BLE, 64 MHz     21 ms      21.0 ms     0.0 %
=====================================================  =========  ==========  =====

- **TinyConv, 88 ms**: the TinyML course's micro_speech on the Arduino Nano
  33 BLE Sense, as its profiler printed it; the model is micro_speech's
  TinyConv, its one-input-channel convolution a DEPTHWISE_CONV_2D with
  depth multiplier 8. Which kernels: the course's Arduino library
  (``tinyMLx/arduino-library``, "Harvard_TinyMLx", with TensorFlow Lite
  2.4.0's sources) compiles ``kernels/cmsis-nn/{conv,depthwise_conv,
  fully_connected,softmax,pooling}.cpp`` and has no reference depthwise
  kernel, so: ``cmsis-nn``. Its depthwise wrapper sends a multiplier of 8 to
  ``arm_depthwise_conv_s8`` (the ``mult_4`` loop), plain C without the DSP
  extension. So this point measures a plain-C depthwise loop on the Nano.
- **DS-CNN, 181.9 ms**: MLPerf Tiny v0.5, KWS, the reference submission on
  the ST Nucleo-L4R5ZI (Cortex-M4F at 120 MHz). Its ``setup_example.sh``
  (``mlcommons/tiny``, ``benchmark/reference_submissions``) generates the
  Mbed project with TFLM's default Makefile target, no optimised kernel
  directory, so: ``reference``. Graph: :func:`tinykws.mcu.dscnn.ds_cnn_graph`.
- **21 ms**: the course's preprocessing time; fitted exactly by
  :data:`tinykws.mcu.clip.C_FFT`, so its error says nothing.

The two network points are *fitted*: the plain-C convolution loops'
cycles per MAC and per tap (shared by the reference kernels and CMSIS-NN's
multiplier > 1 depthwise kernel, :mod:`tinykws.mcu.kernels`) are the
solution of the two equations "estimate = published"
(:func:`solve_plain_c_constants`; 3.89 and 13.39, stored rounded to 4 and
13, whence the small errors). These two errors check nothing but the
rounding: no degree of freedom is left. For the reference loops the solved
values are what their instructions count, a sign the model's form is
right: one loop body and one window cost explain both a one-channel tap
network (TinyConv: 17 cycles per MAC) and a 64-channel pointwise one
(DS-CNN: 4.2). For CMSIS-NN's ``mult_4`` loop they are not: it counts about
5 cycles per MAC, and the course measured 17. We do not know why (flash wait
states with the nRF52840's instruction cache off, or the Arduino core's
``-Os`` build, are candidates); the consequence is that the SIMD paths'
CMSIS-NN estimates, which rest on instruction counts alone (TinyConv as
CONV_2D 26.6 ms at 64 MHz, 3.3x faster than reference; DS-CNN 47.5 ms at
120 MHz, 3.8x), may be optimistic on the Nano by up to that factor. The
bound checked by ``tests/test_mcu.py`` is 5 %.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinykws.mcu.clip import clip_breakdown
from tinykws.mcu.dscnn import ds_cnn_graph
from tinykws.mcu.estimate import NANO33_CLOCK_HZ, McuEstimate, estimate_model
from tinykws.mcu.kernels import LIBRARIES, PLAIN_C_CYCLES_PER_MAC, PLAIN_C_CYCLES_PER_TAP
from tinykws.tflite.model import Graph

ERROR_BOUND_PERCENT = 5.0
# The .tflite's size ("this DS-CNN model requires only 53KB", Linley Group on MLPerf Tiny
# v0.5); only the flash total uses it.
DS_CNN_MODEL_BYTES = 53 * 1024


@dataclass(frozen=True)
class PublishedPoint:
    name: str
    kernels: str
    clock_hz: float
    published_ms: float
    source: str


TINY_CONV_POINT = PublishedPoint(
    "TinyConv network", "cmsis-nn", NANO33_CLOCK_HZ, 88.0,
    "TinyML course, micro_speech on the Arduino Nano 33 BLE Sense")
DS_CNN_POINT = PublishedPoint(
    "DS-CNN network", "reference", 120e6, 181.9,
    "MLPerf Tiny v0.5 KWS reference submission, Nucleo-L4R5ZI")
FRONTEND_POINT = PublishedPoint(
    "micro frontend, 1 s", "none", NANO33_CLOCK_HZ, 21.0,
    "TinyML course, micro_speech preprocessing on the Nano 33 BLE Sense")


@dataclass(frozen=True)
class CalibrationRow:
    point: PublishedPoint
    estimated_ms: float

    @property
    def error_percent(self) -> float:
        return 100.0 * (self.estimated_ms - self.point.published_ms) / self.point.published_ms


def tiny_conv_graph(filters: int = 8) -> Graph:
    """micro_speech's int8 TinyConv (4 labels), convolution as DEPTHWISE_CONV_2D.

    Made by our post-training quantizer from an untrained model: the cost
    model reads shapes only.
    """
    from tinykws.quant.ptq import quantize_model
    from tinykws.nn.model import tiny_conv

    x = np.random.default_rng(0).uniform(0.0, 26.0, (4, 49, 40, 1)).astype(np.float32)
    return quantize_model(tiny_conv(4, np.random.default_rng(0), filters=filters), x)


def _network_points() -> list[tuple[PublishedPoint, McuEstimate]]:
    tiny = estimate_model(tiny_conv_graph(), TINY_CONV_POINT.kernels, TINY_CONV_POINT.clock_hz)
    ds = estimate_model(ds_cnn_graph(), DS_CNN_POINT.kernels, DS_CNN_POINT.clock_hz,
                        model_bytes=DS_CNN_MODEL_BYTES)
    return [(TINY_CONV_POINT, tiny), (DS_CNN_POINT, ds)]


def calibration_table() -> list[CalibrationRow]:
    """Published against estimated, for every point (the module doc's table)."""
    rows = [CalibrationRow(point, est.network_ms) for point, est in _network_points()]
    frontend = clip_breakdown(0.0, FRONTEND_POINT.clock_hz, labels=4).preprocess_ms
    return rows + [CalibrationRow(FRONTEND_POINT, frontend)]


def solve_plain_c_constants() -> tuple[float, float]:
    """Plain-C cycles per MAC and per tap that reproduce both network points exactly.

    Each point's cycles are ``m * A + t * B + R``: ``A`` and ``B`` the MACs and
    taps of its operators costed by the plain-C loop constants, ``R`` all
    other cycles (fixed constants). Two points give two linear equations in
    ``(m, t)``.
    """
    lhs, rhs = [], []
    for point, est in _network_points():
        plain = [r for r in est.ops if LIBRARIES[point.kernels].ops[r.kernel].plain_c]
        macs, taps = sum(r.macs for r in plain), sum(r.taps for r in plain)
        other = est.network_cycles - PLAIN_C_CYCLES_PER_MAC * macs - PLAIN_C_CYCLES_PER_TAP * taps
        lhs.append([macs, taps])
        rhs.append(point.published_ms * 1e-3 * point.clock_hz - other)
    m, t = np.linalg.solve(np.array(lhs, float), np.array(rhs, float))
    return float(m), float(t)

