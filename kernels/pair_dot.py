"""Multiply-add of int16 pairs, the step that makes int8 convolution fast on a CPU.

Every x86 core since 2013 (AVX2) has one instruction for the inner step of an
int8 convolution, ``vpmaddwd``: it multiplies two vectors of int16 lane by lane
and adds neighbouring products,

    out[k] = x[2k] * w[2k] + x[2k + 1] * w[2k + 1]        (int32, k < L),

and on cores with VNNI (AVX-512 VNNI, AVX-VNNI) the accumulate is folded in
(``vpdpwssd acc, w, x``). That is ``2 * L`` multiply-adds per instruction: 16 at
256 bits, 32 at 512. Arm's ``smlal`` pair and ``sdot`` play the same part.

LLVM's auto-vectoriser finds this instruction only when the two int16 of a
pair already sit side by side in memory and the weights form a matching
pattern; from plain loops it usually emits int32 multiplies instead, at a
quarter of the rate (``kernels.int8_conv_phases.accumulate`` measures that).
So this module says it directly: :func:`pair_dot4` is a Numba intrinsic
that emits ``llvm.x86.avx512.pmaddw.d.512`` on hosts with AVX-512BW,
``llvm.x86.avx2.pmadd.wd`` on hosts with AVX2, and elsewhere the same
arithmetic as plain LLVM vector operations (sign-extend, multiply, add the
even and odd lanes), which every LLVM target compiles. The choice is made
when Numba compiles for the host; Numba's cache is keyed by the CPU, so a
cached kernel never runs on a CPU without the instruction it holds.

What :func:`pair_dot4` computes (:func:`pair_dot4_reference` is the same in
NumPy): four output rows ``r`` at once, each a block of :data:`LANES`
accumulators,

    acc[r, a + l] = sum_p  q[b + o_p + 2l] * lo(w[r, p]) + q[b + o_p + 2l + 1] * hi(w[r, p])

for ``l < LANES``, where ``w[r, p]`` is an int32 holding the pair of int16
weights of pair ``p`` (low half: the weight of the even element) and ``o_p``
is where pair ``p`` reads in ``q``. Four rows share each load of ``q`` and
give four independent chains of multiply-adds, enough to hide the
instruction's latency. The int32 sums wrap on overflow as TFLM's int32 does
(``vpmaddwd`` itself overflows only for two products of -32768 * -32768,
which int8 operands never reach).
"""

from __future__ import annotations

import numpy as np
from llvmlite import binding, ir
from numba import types
from numba.core import cgutils, config
from numba.extending import intrinsic

ROWS = 4  # output rows per call: independent accumulator chains
LANES = 16  # int32 accumulators per row and call (a multiple of every path's width)


def host_path() -> str:
    """``"avx512"``, ``"avx2"`` or ``"generic"``: the form :func:`pair_dot4` compiles to here.

    Generic when Numba targets another CPU than the host (``NUMBA_CPU_NAME``),
    since the host's features then say nothing about the target's.
    """
    if config.CPU_NAME is not None:
        return "generic"
    features = binding.get_host_cpu_features()
    if features.get("avx512bw"):
        return "avx512"
    if features.get("avx2"):
        return "avx2"
    return "generic"


def pair_dot4_reference(acc, acc_index, q, q_base, q_offsets, wpairs):
    """NumPy form of :func:`pair_dot4`: acc (>=4, n) int32 rows 0..3, columns
    ``acc_index : acc_index + LANES``, overwritten; q (m,) int16; q_offsets (P,)
    int; wpairs (>=4, P) int32 (two int16 weights each)."""
    lo = (wpairs[:ROWS].astype(np.int64) << 48 >> 48)  # (4, P): the low int16, sign-extended
    hi = wpairs[:ROWS].astype(np.int64) >> 16  # (4, P): the high int16
    starts = q_base + np.asarray(q_offsets)[:, None] + 2 * np.arange(LANES)  # (P, LANES)
    even, odd = q[starts].astype(np.int64), q[starts + 1].astype(np.int64)  # (P, LANES)
    sums = lo @ even + hi @ odd  # (4, LANES) exact; int32 wraps as the instruction does
    acc[:ROWS, acc_index:acc_index + LANES] = sums.astype(np.uint32).view(np.int32)


def _pmadd_generic(builder, x, w, width):
    """LLVM vector form of pmaddwd: (2 * width,) i16 x2 -> (width,) i32."""
    i32 = ir.IntType(32)
    wide = ir.VectorType(i32, width)
    even = ir.Constant(ir.VectorType(i32, width), [2 * k for k in range(width)])
    odd = ir.Constant(ir.VectorType(i32, width), [2 * k + 1 for k in range(width)])

    def half(v, which):
        return builder.sext(builder.shuffle_vector(v, v, which), wide)

    return builder.add(builder.mul(half(x, even), half(w, even)),
                       builder.mul(half(x, odd), half(w, odd)))


def _pmadd(builder, x, w, path, width):
    """pmaddwd of two (2 * width,) i16 vectors, as the host path says."""
    if path == "generic":
        return _pmadd_generic(builder, x, w, width)
    name = "llvm.x86.avx512.pmaddw.d.512" if path == "avx512" else "llvm.x86.avx2.pmadd.wd"
    v16, v32 = ir.VectorType(ir.IntType(16), 2 * width), ir.VectorType(ir.IntType(32), width)
    fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(v32, [v16, v16]), name)
    return builder.call(fn, [x, w])


def _row_pointer(builder, array, row, element):
    """Pointer to ``array[row, 0]`` (any row stride), typed as ``element``."""
    stride = builder.extract_value(array.strides, 0)
    base = builder.bitcast(array.data, ir.IntType(8).as_pointer())
    offset = builder.mul(stride, ir.Constant(stride.type, row))
    return builder.bitcast(builder.gep(base, [offset]), element.as_pointer())


def make_pair_dot4(path: str):
    """The intrinsic for one code path (``host_path()`` values); tests build each the host runs."""
    width = {"avx512": 16, "avx2": 8, "generic": 16}[path]  # int32 lanes per instruction
    i16, i32 = ir.IntType(16), ir.IntType(32)
    v16, v32 = ir.VectorType(i16, 2 * width), ir.VectorType(i32, width)

    @intrinsic
    def pair_dot4(typingctx, acc, acc_index, q, q_base, q_offsets, wpairs):
        """acc[r, acc_index + l] = sum_p pmaddwd(q[q_base + q_offsets[p] + 2l :][:2], wpairs[r, p])."""
        sig = types.void(acc, acc_index, q, q_base, q_offsets, wpairs)

        def codegen(context, builder, signature, args):
            acc_a, q_a, off_a, w_a = (context.make_array(signature.args[i])(context, builder, args[i])
                                      for i in (0, 2, 4, 5))
            acc_index, q_base = args[1], args[3]
            n_pairs = builder.extract_value(off_a.shape, 0)
            w_rows = [_row_pointer(builder, w_a, r, i32) for r in range(ROWS)]
            chunks = LANES // width
            sums = [[cgutils.alloca_once_value(builder, ir.Constant(v32, None))
                     for _ in range(chunks)] for _ in range(ROWS)]
            with cgutils.for_range(builder, n_pairs) as loop:
                p = loop.index
                start = builder.add(q_base, builder.load(builder.gep(off_a.data, [p])))
                weights = []
                for r in range(ROWS):  # the int32 pair broadcast to every lane, seen as i16
                    one = builder.insert_element(ir.Constant(v32, None),
                                                 builder.load(builder.gep(w_rows[r], [p])),
                                                 ir.Constant(i32, 0))
                    splat = builder.shuffle_vector(one, one, ir.Constant(v32, [0] * width))
                    weights.append(builder.bitcast(splat, v16))
                for k in range(chunks):
                    at = builder.add(start, ir.Constant(start.type, 2 * width * k))
                    x = builder.load(builder.bitcast(builder.gep(q_a.data, [at]), v16.as_pointer()),
                                     align=2)
                    for r in range(ROWS):
                        total = builder.load(sums[r][k])
                        builder.store(builder.add(total, _pmadd(builder, x, weights[r], path, width)),
                                      sums[r][k])
            for r in range(ROWS):
                row = _row_pointer(builder, acc_a, r, i32)
                for k in range(chunks):
                    at = builder.add(acc_index, ir.Constant(acc_index.type, width * k))
                    builder.store(builder.load(sums[r][k]),
                                  builder.bitcast(builder.gep(row, [at]), v32.as_pointer()), align=4)
            return context.get_dummy_value()

        return sig, codegen

    return pair_dot4


PATHS = ("avx512", "avx2", "generic")  # fastest first; a host runs those its features allow
pair_dot4 = make_pair_dot4(host_path())
