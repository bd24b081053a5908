"""Int8 operators that bit-match TensorFlow Lite Micro's reference kernels.

One op a file, each shaped like its TFLM twin: a frozen params dataclass with
TFLM's field names, ``prepare(graph, op) -> params``, and the NumPy reference,
written so the integer recipe can be read and checked. The Numba kernels in
``kernels/int8_*.py`` have the same names and arguments and compute the same
bits faster; :mod:`tinykws.int8.runtime` runs a parsed TFLite graph with a
table of them, :mod:`tinykws.int8.fused` the TinyConv graph at batch 1.
"""
