"""What TFLite-Micro itself costs in flash and RAM, besides the model and arena.

These are **stated assumptions**, not measurements of a build:

- **core runtime flash, 16 KB**: interpreter, allocator, greedy planner and
  flatbuffer access. TFLM's documentation: "The core runtime just fits in
  16 KB on an Arm Cortex M3".
- **kernel flash**, per operator type the model uses (each is linked once,
  however often the graph uses it), for arm-none-eabi-gcc ``-Os``: our
  estimate of the object code of each kernel file, good to about +-50 %
  each, sized so that the micro_speech set (DEPTHWISE_CONV_2D,
  FULLY_CONNECTED, SOFTMAX) adds 6 KB to the core: TensorFlow's overview of
  TFLM gives "16 KB on a Cortex M3, and with the operations needed for the
  speech keyword model, 22 KB" (checked in ``tests/test_mcu.py``). The
  CMSIS-NN kernels are larger: the TFLM wrapper keeps the reference code as
  a fallback and links several CMSIS-NN variants (im2col, 1x1, 3x3 paths).
  SVDF (float and two integer versions in one file) is sized like a convolution.
- **runtime RAM, 4 KB**: the ``MicroInterpreter``, ``MicroAllocator`` and op
  resolver objects (under 1 KB) and the call stack during ``Invoke`` (about
  3 KB deep for the int8 kernels).

Not counted: the Arduino/Mbed OS core (on the Nano 33 BLE Sense about
80-100 KB of flash and 40 KB of RAM before any sketch code), and the
application's audio and feature buffers.
"""

from __future__ import annotations

CORE_FLASH_BYTES = 16 * 1024
RUNTIME_RAM_BYTES = 4 * 1024

_KB = 1024
KERNEL_FLASH_BYTES = {
    "reference": {
        "CONV_2D": 3 * _KB, "DEPTHWISE_CONV_2D": 3 * _KB, "FULLY_CONNECTED": 3 * _KB // 2,
        "AVERAGE_POOL_2D": 3 * _KB // 2, "MAX_POOL_2D": _KB, "SOFTMAX": 3 * _KB // 2,
        "ADD": 2 * _KB, "MEAN": 3 * _KB, "SVDF": 3 * _KB,
        "RESHAPE": _KB // 2, "QUANTIZE": 3 * _KB // 2, "DEQUANTIZE": _KB,
    },
    "cmsis-nn": {
        "CONV_2D": 6 * _KB, "DEPTHWISE_CONV_2D": 6 * _KB, "FULLY_CONNECTED": 5 * _KB // 2,
        "AVERAGE_POOL_2D": 2 * _KB, "MAX_POOL_2D": 3 * _KB // 2, "SOFTMAX": 5 * _KB // 2,
        "ADD": 3 * _KB, "MEAN": 3 * _KB, "SVDF": 4 * _KB,
        "RESHAPE": _KB // 2, "QUANTIZE": 3 * _KB // 2, "DEQUANTIZE": _KB,
    },
}


def runtime_flash_bytes(kernels: str, ops: set[str] | frozenset[str]) -> int:
    """Core runtime plus one copy of each kernel in ``ops``, in bytes."""
    table = KERNEL_FLASH_BYTES[kernels]
    return CORE_FLASH_BYTES + sum(table[op] for op in ops)
