"""Int8 operators that bit-match TensorFlow Lite Micro's reference kernels.

One op a file, written in NumPy so the integer recipe can be read and checked;
the Numba kernels in ``kernels/int8_*.py`` compute the same bits faster, and
:mod:`tinykws.int8.runtime` runs a parsed TFLite graph with them.
"""
