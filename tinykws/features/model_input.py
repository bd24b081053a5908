"""What the model sees: the micro frontend's uint16 features as float and as int8 model input.

One convention, two encodings, both micro_speech's:

- **float** (training): ``x = v * 10/256`` (TensorFlow's
  ``speech_commands/input_data.py`` with ``--preprocess=micro``:
  ``tf.multiply(micro_frontend, 10.0 / 256.0)``, i.e. ``v / 25.6``), values
  about 0..26. Exact in float32: ``10/256 = 5/128`` and ``5 v`` fits the
  24-bit mantissa, so ``x * 25.6`` recovers ``v`` exactly.
- **int8** (the quantized model): scale ``26/256``, zero point ``-128``, so
  that the float range 0..26 fills int8. The device does not go through the
  float value: tflite-micro's ``micro_features_generator.cc`` maps ``v``
  straight to ``q = (v * 256 + 333) // 666 - 128``, clamped to int8, with
  ``666 = (int)(25.6f * 26.0f + 0.5f)`` and ``333`` rounding the division.

Every module that scales or quantizes model inputs takes its numbers from here.
"""

from __future__ import annotations

import numpy as np

FLOAT_SCALE = np.float32(10.0 / 256.0)  # float input = uint16 * FLOAT_SCALE
INT8_SCALE = 26.0 / 256.0  # the int8 input tensor's scale ...
INT8_ZERO_POINT = -128  # ... and zero point
# micro_features_generator.cc: value_div = (int)(25.6f * 26.0f + 0.5f)
VALUE_DIV = int(np.float32(25.6) * np.float32(26.0) + np.float32(0.5))  # 666


def to_float_model_input(features: np.ndarray) -> np.ndarray:
    """uint16 features -> the float input TF trains on: ``v * 10/256``, float32, same shape."""
    return np.asarray(features, dtype=np.float32) * FLOAT_SCALE


def to_int8_model_input(features: np.ndarray) -> np.ndarray:
    """uint16 features -> the int8 input of the micro_speech model, same shape.

    ``q = (v * 256 + 333) // 666 - 128`` clamped to ``[-128, 127]``, as
    ``GenerateMicroFeatures`` computes it in int32 (C's ``/`` truncates, the
    same as ``//`` here since nothing is negative).
    """
    v = np.asarray(features, dtype=np.int64)
    q = (v * 256 + VALUE_DIV // 2) // VALUE_DIV + INT8_ZERO_POINT
    return np.clip(q, -128, 127).astype(np.int8)


def float_to_features(x: np.ndarray) -> np.ndarray:
    """Float model input ``v * 10/256`` back to the uint16 values ``v`` (as int64), exactly."""
    return np.rint(np.asarray(x, np.float64) * 25.6).astype(np.int64)


def float_to_int8_input(x: np.ndarray) -> np.ndarray:
    """Float model input -> micro_speech's int8 input, through the uint16 value as the device does."""
    return to_int8_model_input(float_to_features(x))


def int8_input_to_float(q: np.ndarray) -> np.ndarray:
    """Dequantize an int8 model input: ``(q + 128) * 26/256`` as float32."""
    return (np.asarray(q, np.float32) - INT8_ZERO_POINT) * np.float32(INT8_SCALE)
