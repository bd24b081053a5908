"""Published, measured latencies of keyword-spotting networks on Cortex-M boards.

Every point names where it was read: a repository and a path in it (the
MLPerf Tiny results repositories ``mlcommons/tiny_results_v0.5`` ... ``v1.3``,
which hold each submission's system description, code and the EEMBC
runner's log; or a project's own README). An MLPerf latency is ``1000 /``
the "Median throughput" of the submission's ``kws/performance/results.txt``.

Each point has a **role**:

- ``fit``: the cost model's constants were solved from it
  (:func:`tinykws.mcu.calibration.solve_cmsis_nn_scales`); its error checks
  nothing but rounding;
- ``held-out``: a TFLM measurement the fit did not use: its error is the
  model's error;
- ``context``: not TFLM (X-CUBE-AI, microTVM, Plumerai, ...), or TFLM with
  an accelerator or on a core the model does not cover. Shown beside the
  estimate, never fitted, never counted as the model's error.

Only the CMSIS-NN library has points: no published measurement of TFLM's
*reference* kernels on the KWS workloads was found (MLPerf Tiny's own
reference submission builds CMSIS-NN, see :data:`MLPERF_V05_REFERENCE`), so
the reference constants are instruction counts that nothing checks.

Workloads: ``"ds-cnn"`` is MLPerf Tiny's KWS DS-CNN
(:func:`tinykws.mcu.dscnn.ds_cnn_graph`); ``"tiny_conv"`` is micro_speech's
model, its convolution a DEPTHWISE_CONV_2D with depth multiplier 8
(:func:`tinykws.mcu.calibration.tiny_conv_graph`).
"""

from __future__ import annotations

from dataclasses import dataclass

ROLES = ("fit", "held-out", "context")


@dataclass(frozen=True)
class PublishedPoint:
    """One measured network latency and what ran it, as its source states."""

    name: str
    workload: str          # "ds-cnn" or "tiny_conv"
    stack: str             # inference software, e.g. "TFLM v2.3.1", "X-CUBE-AI v7.1.0"
    kernels: str | None    # TFLM kernel library: "cmsis-nn", "reference"; None if not TFLM
    board: str
    core: str              # "m4", "m33", "m7", "m85"
    clock_hz: float
    published_ms: float
    role: str
    source: str            # repository and path(s) the numbers were read from
    note: str = ""         # what else the source says, or why the point may disagree


def _mlperf(version: str, path: str) -> str:
    return f"mlcommons/tiny_results_v{version}: {path}"


# --- TFLM with CMSIS-NN: the points the model is fitted to and checked on -------------------

MLPERF_V05_REFERENCE = PublishedPoint(
    "MLPerf Tiny v0.5 reference, Nucleo-L4R5ZI", "ds-cnn", "TFLM v2.3.1 (Mbed OS)", "cmsis-nn",
    "ST Nucleo-L4R5ZI (STM32L4R5ZI)", "m4", 120e6, 181.92, "held-out",
    _mlperf("0.5", "closed/reference/results/Nucleo-L4R5ZI/kws/performance/results.txt "
            "(5.497 inf./s); closed/reference/systems/Nucleo_L4R5ZI_System_Description.json "
            "(Cortex-M4 with FPU, 120 MHz, TFLM v2.3.1, gcc-arm-none-eabi-6-2017-q2); "
            "closed/reference/code/reference_submissions/keyword_spotting/setup_example.sh "
            "(TF_VERSION=v2.3.1, TF_MAKE_TAGS=\"cmsis-nn\")"),
    "twice the cycles of the newer TFLM + CMSIS-NN points: TensorFlow 2.3.1's CMSIS-NN "
    "(2020), gcc 6 (2017) through Mbed's build, and the STM32L4R5's flash wait states at "
    "120 MHz are candidates, none profiled. Other stacks on the same board need 9-12 M "
    "cycles (context rows), this build 21.8 M.")

RENESAS_RA6M4 = PublishedPoint(
    "MLPerf Tiny v0.7 Renesas, EK-RA6M4", "ds-cnn", "TFLM (sources in the project)",
    "cmsis-nn", "Renesas EK-RA6M4 (R7FA6M4AF3CFB)", "m33", 200e6, 50.57, "fit",
    _mlperf("0.7", "closed/renesas/results/EK-RA6M4/kws/performance/results.txt "
            "(19.774 inf./s); closed/renesas/systems/EK-RA6M4_System_Description.json "
            "(Cortex-M33 with DSP and FPU, 200 MHz, tflite-micro, CMSIS, GCC 8.3.1); "
            "closed/renesas/code/EK_RA6M4/src/tensorflow/lite/micro/kernels/conv.cc "
            "(the CMSIS-NN wrapper: includes arm_nnfunctions.h)"),
    "fixes the CMSIS-NN SIMD paths' scale")

PICO2_RP2350 = PublishedPoint(
    "pico-tflmicro on the RP2350", "ds-cnn", "pico-tflmicro (TFLM)", "cmsis-nn",
    "Waveshare RP2350-Plus-16MB (RP2350)", "m33", 150e6, 60.40, "held-out",
    "gnotu/pico2-benchmark: README.md (Keyword Spotting, 150 MHz, 60.40 ms), "
    "main_functions_kws.cpp (time of interpreter->Invoke()); raspberrypi/pico-tflmicro: "
    "CMakeLists.txt (kernels/cmsis-nn/*.cpp, CMSIS_NN=1)",
    "the model is the MLPerf Tiny training repository's DS-CNN converted by the author; "
    "weights run from external QSPI flash through the RP2350's XIP cache; the sources do "
    "not say whether the build enables the M33's DSP extension that CMSIS-NN's SIMD paths need")

NANO_TINY_CONV_GUBERTI = PublishedPoint(
    "micro_speech on the Nano 33 BLE (tvm-arduino-profiling)", "tiny_conv",
    "TFLM Arduino library (TensorFlowLite.h)", "cmsis-nn",
    "Arduino Nano 33 BLE (nRF52840)", "m4", 64e6, 53.654, "fit",
    "guberti/tvm-arduino-profiling: README.md (Tensorflow Lite Micro, keyword spotting, "
    "inference 53.654 ms, mean of 128 runs timed with micros()), "
    "micro_speech/micro_speech_tlfm/micro_speech_tlfm.ino (micro_speech's model: "
    "DEPTHWISE_CONV_2D, FULLY_CONNECTED, SOFTMAX, RESHAPE)",
    "fixes the plain-C depthwise (multiplier > 1) path's scale. The sketch does not name the "
    "kernel library; the Arduino TFLM libraries of that time ship the cmsis-nn kernels "
    "(tensorflow/tensorflow: tensorflow/lite/micro/tools/ci_build/test_arduino.sh builds the "
    "Arduino library with TAGS=\"cmsis-nn\", earlier versions with \"portable_optimized\"; "
    "tensorflow/tflite-micro-arduino-examples and tinyMLx/arduino-library ship "
    "src/tensorflow/lite/micro/kernels/cmsis*_nn/depthwise_conv.cpp)")

NANO_TINY_CONV_COURSE = PublishedPoint(
    "the course's TinyConv on the Nano 33 BLE Sense (its profiler)", "tiny_conv",
    "TFLM (the course's Arduino library)", "cmsis-nn",
    "Arduino Nano 33 BLE Sense (nRF52840)", "m4", 64e6, 88.0, "held-out",
    "Beichen-Ma/ArduinoTinyML: README.md (the ECE 5545 assignment's profile on the Nano 33 BLE "
    "Sense: inference min 88 ms, max 88 ms, 'avg' 86 ms; preprocessing 21 ms; "
    "post-processing 0 ms); NamanMakkar/ECE5545-ML-Hardware-Systems: a2/README.md (the model "
    "is trained in PyTorch, converted to TFLite and deployed on the Nano 33 BLE)",
    "the same architecture on the same board as the 53.654 ms point, 1.64x slower: no cycle "
    "model fits both. The public files name neither the Arduino library (its kernels are "
    "assumed cmsis-nn, as in TensorFlow's own Arduino library of the time) nor whether the "
    "PyTorch-converted convolution is a multiplier-8 DEPTHWISE_CONV_2D or a CONV_2D (as "
    "CONV_2D the estimate is 47 ms); the profiler may time more than Invoke()")

# --- context: other stacks, an accelerator, or a core the model does not cover ----------------

def _context(name: str, stack: str, board: str, core: str, mhz: float, ms: float, version: str,
             path: str, kernels: str | None = None, note: str = "") -> PublishedPoint:
    """An MLPerf Tiny KWS result shown beside the estimate, never fitted."""
    return PublishedPoint(name, "ds-cnn", stack, kernels, board, core, mhz * 1e6, ms, "context",
                          _mlperf(version, path), note)


_KWS = "kws/performance/results.txt"
CONTEXT = (
    _context("Plumerai v0.7, Nucleo-L4R5ZI", "Plumerai inference engine", "ST Nucleo-L4R5ZI", "m4",
             120, 73.55, "0.7", "closed/plumerai/results/NUCLEO_L4R5ZI/kws/performance/"
             "performance_results.txt (13.597 inf./s)"),
    _context("X-CUBE-AI v7.1.0, Nucleo-L4R5ZI", "X-CUBE-AI v7.1.0", "ST Nucleo-L4R5ZI", "m4",
             120, 97.65, "0.7", f"closed/STMicroelectronics/results/NUCLEO_L4R5ZI/{_KWS} "
             "(10.241 inf./s)"),
    _context("microTVM + CMSIS-NN, Nucleo-L4R5ZI", "microTVM", "ST Nucleo-L4R5ZI", "m4",
             120, 99.81, "1.0", f"closed/OctoML/results/microtvm_cmsis_nn/NUCLEO_L4R5ZI/{_KWS} "
             "(10.019 inf./s)"),
    _context("X-CUBE-AI v7.1.0, Nucleo-U575ZI-Q", "X-CUBE-AI v7.1.0", "ST Nucleo-U575ZI-Q", "m33",
             160, 54.81, "0.7", f"closed/STMicroelectronics/results/NUCLEO-U575ZI-Q/{_KWS} "
             "(18.244 inf./s)"),
    _context("microTVM + CMSIS-NN, nRF5340-DK", "microTVM", "Nordic nRF5340-DK", "m33",
             128, 76.09, "1.0", f"closed/OctoML/results/microtvm_cmsis_nn/NRF5340-DK/{_KWS} "
             "(13.143 inf./s)"),
    _context("Silicon Labs xG24, TFLM + MVP accelerator",
             "TFLM (tflite-micro 10b12233) + Gecko SDK v4.1.1",
             "Silicon Labs xG24-DK2601B (EFR32MG24)", "m33", 78, 36.28, "1.0",
             "closed/silicon_labs/results/silicon_labs_xG24_DK2601B/kws/performance/"
             "performance_results.txt (27.563 inf./s); "
             "closed/silicon_labs/systems/silicon_labs_xG24_DK2601B.json", "cmsis-nn",
             "the MVP matrix accelerator runs the layers: not a CPU measurement"),
    _context("Plumerai v0.7, DISCO-F746NG", "Plumerai inference engine", "ST 32F746G-Discovery",
             "m7", 216, 19.55, "0.7", "closed/plumerai/results/DISCO_F746NG/kws/performance/"
             "performance_results.txt (51.139 inf./s)"),
    _context("X-CUBE-AI v7.1.0, Nucleo-H7A3ZI-Q", "X-CUBE-AI v7.1.0", "ST Nucleo-H7A3ZI-Q", "m7",
             280, 22.29, "0.7", f"closed/STMicroelectronics/results/NUCLEO-H7A3ZI-Q/{_KWS} "
             "(44.863 inf./s)"),
    _context("Renesas v1.2, EK-RA8D1 (Cortex-M85)", "TFLM + CMSIS", "Renesas EK-RA8D1", "m85",
             480, 3.46, "1.2", f"closed/Renesas/results/EK-RA8D1/{_KWS} (288.611 inf./s); "
             "closed/Renesas/systems/EK-RA8D1.json", "cmsis-nn",
             "Cortex-M85 with Helium vector instructions: a core the model does not cover"),
)

TFLM_POINTS = (RENESAS_RA6M4, NANO_TINY_CONV_GUBERTI, MLPERF_V05_REFERENCE, PICO2_RP2350,
               NANO_TINY_CONV_COURSE)
POINTS = TFLM_POINTS + CONTEXT


def points(role: str | None = None) -> tuple[PublishedPoint, ...]:
    """All points, or those of one ``role`` (``fit``, ``held-out``, ``context``)."""
    return tuple(p for p in POINTS if role is None or p.role == role)
