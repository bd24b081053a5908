"""tinykws: a from-scratch keyword-spotting pipeline for microcontrollers.

The package follows the TinyML keyword-spotting assignment stage by stage:

- ``tinykws.features``  audio features, from the FFT to the TFLite-Micro frontend
- ``tinykws.data``      Speech Commands: splits, shares, augmentation
- ``tinykws.nn``        NumPy layers with forward and backward side by side
- ``tinykws.tflite``    reading and writing TFLite flatbuffers
- ``kernels``           Numba kernels, each beside the NumPy reference it matches

Every stage is a plain function a notebook can call; ``tinykws.cli`` is a thin
shell over them.
"""

__version__ = "0.1.0"
