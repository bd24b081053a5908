"""When an int8 layer's integer sums can be formed in float32 without a single rounding.

A float32 holds every integer of magnitude up to ``2**24`` exactly. In an int8
layer every product is ``weight * (input + input_offset)`` with the weight in
[-128, 127] and the offset input in [-255, 255], so ``|product| <= 128 * 255 =
32640``, an integer. A sum of ``taps`` such products, in any order and at every
partial step, is an integer of magnitude at most ``taps * 32640``. While that
bound stays within ``2**24`` (``taps <= 514``), each float32 multiply-add
(fused or not) yields the exact integer, so the float32 sum *is* TFLM's int32
sum, converted. The kernels that use this (the fused TinyConv path, the 1x1
convolutions) check the bound when they are prepared and keep int32
arithmetic for layers beyond it.

Why bother: CPUs multiply-add float32 in every vector lane at full rate
(``vfmadd231ps``, two per cycle on most x86 cores), while a vectorised int32
multiply (``vpmulld``) runs at half that rate or less; on AMD Zen 4 and Intel
alike the float32 form of the same sums is about twice as fast, with no
dependence on the BLAS.
"""

from __future__ import annotations

FLOAT32_EXACT = 2 ** 24  # every integer of magnitude <= this is a float32
MAX_ABS_PRODUCT = 128 * 255  # |int8 weight| * |int8 input + input_offset|


def exact_in_float32(taps: int, max_abs_product: int = MAX_ABS_PRODUCT) -> bool:
    """True when any sum of ``taps`` int8 products (each ``<= max_abs_product`` in
    magnitude) is exact in float32, at every partial step and in any order."""
    return taps * max_abs_product <= FLOAT32_EXACT
