"""What machine a benchmark ran on: CPU, SIMD flags, nominal clock, BLAS build.

Every benchmark JSON records :func:`machine_info`, so a ratio can be read
against the hardware and the BLAS that produced it. :func:`simd_int16_macs_per_cycle`
is the limit the int8 suite prints its achieved multiply-adds per cycle
against.
"""

from __future__ import annotations

import platform

# /proc/cpuinfo flags worth recording for our kernels (any avx512* flag too).
ISA_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx_vnni")

# Vector units that can issue an int16 multiply-add (vpmaddwd / vpdpwssd)
# each cycle: two on every recent x86 core (Intel since Skylake, AMD since Zen 2).
MULTIPLY_ADD_PORTS = 2


def cpuinfo() -> dict:
    """The first processor's ``/proc/cpuinfo`` fields (Linux; empty elsewhere)."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():
                    break  # the first processor's block ends here
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        pass
    return fields


def isa_flags(info: dict | None = None) -> list[str]:
    """The SIMD flags of :data:`ISA_FLAGS` and every ``avx512*`` one the CPU reports."""
    flags = set((cpuinfo() if info is None else info).get("flags", "").split())
    return sorted(f for f in flags if f in ISA_FLAGS or f.startswith("avx512"))


def nominal_mhz(info: dict | None = None) -> float | None:
    """``cpu MHz`` of /proc/cpuinfo: the nominal clock (turbo and throttling not seen)."""
    value = (cpuinfo() if info is None else info).get("cpu MHz")
    return float(value) if value else None


def simd_int16_macs_per_cycle(flags: list[str]) -> tuple[int, str]:
    """The int16 multiply-add limit per cycle of one core, and the assumption behind it.

    One ``vpmaddwd`` (or VNNI ``vpdpwssd``) does two int16 multiply-adds per
    32-bit lane: 32 on a 512-bit register (AVX-512BW), 16 on 256 bits (AVX2),
    8 on 128 bits (SSE2); times :data:`MULTIPLY_ADD_PORTS` issued per cycle.
    Cores that split 512-bit operations in two halves (AMD Zen 4) reach half
    the AVX-512 figure.
    """
    if "avx512bw" in flags:
        per_instruction, isa = 32, "AVX-512BW vpmaddwd/vpdpwssd, 512-bit"
    elif "avx2" in flags:
        per_instruction, isa = 16, "AVX2 vpmaddwd, 256-bit"
    else:
        per_instruction, isa = 8, "SSE2 pmaddwd, 128-bit"
    limit = per_instruction * MULTIPLY_ADD_PORTS
    return limit, (f"{isa}: {per_instruction} int16 MACs per instruction x "
                   f"{MULTIPLY_ADD_PORTS} ports per cycle (assumed)")


def blas_info() -> dict:
    """NumPy's BLAS: as built (``numpy.show_config``) and as loaded (threadpoolctl)."""
    import numpy as np

    out: dict = {}
    try:
        config = np.show_config(mode="dicts")
        built = config.get("Build Dependencies", {})
        out["numpy_build"] = {k: {field: built[k].get(field) for field in
                                  ("name", "version", "openblas configuration")}
                              for k in ("blas", "lapack") if k in built}
    except (TypeError, KeyError):  # NumPy before 1.26 prints only
        pass
    try:
        from threadpoolctl import threadpool_info

        out["loaded"] = [{k: p.get(k) for k in ("internal_api", "version", "architecture",
                                                 "threading_layer", "num_threads")}
                         for p in threadpool_info()]
    except ImportError:
        pass
    return out


def machine_info() -> dict:
    """CPU model and vendor, ISA flags, nominal MHz, logical CPUs, BLAS build."""
    import os

    info = cpuinfo()
    flags = isa_flags(info)
    limit, assumption = simd_int16_macs_per_cycle(flags)
    return {"cpu_model": info.get("model name", platform.processor()),
            "cpu_vendor": info.get("vendor_id"), "isa_flags": flags,
            "nominal_mhz": nominal_mhz(info), "logical_cpus": os.cpu_count(),
            "simd_int16_macs_per_cycle": limit, "simd_limit_assumption": assumption,
            "blas": blas_info()}
