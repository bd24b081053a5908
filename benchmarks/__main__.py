"""``python -m benchmarks [--quick] [--json out.json] [--only NAME]``.

Runs every benchmark module, prints one Markdown table of ratios against the
peers measured in the same run, and writes JSON, Markdown and a PNG bar chart
when asked. A ratio above 1 means tinykws is better (faster, or more audio per
second). Thread counts are pinned before NumPy is imported and recorded with
the machine (CPU model and vendor, ISA flags, nominal clock, BLAS build:
:func:`benchmarks.machine.machine_info`) and library versions.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys

# Modules in the order of the assignment; each has run(quick) -> list[dict].
SUITES = ("frontend", "mfcc", "train_step", "train_loop", "int8_inference", "breakdown", "sparse")


def _pin_threads(n: int) -> None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[var] = str(n)


def _cpu_model() -> str:
    """The CPU's name from /proc/cpuinfo (Linux), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _git_commit() -> str | None:
    """The commit benchmarked (the working copy's, '+dirty' with uncommitted changes)."""
    import subprocess

    here = os.path.dirname(os.path.abspath(__file__))
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit + ("+dirty" if dirty else "")


def _thread_counts() -> dict:
    """Threads each library actually used, read back after the run."""
    out = {var: os.environ.get(var) for var in
           ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")}
    import numba

    out["numba"] = numba.get_num_threads()
    try:
        from threadpoolctl import threadpool_info

        out["blas"] = {p["internal_api"]: p["num_threads"] for p in threadpool_info()}
    except ImportError:
        pass
    if "torch" in sys.modules:
        out["torch"] = sys.modules["torch"].get_num_threads()
    out["ai-edge-litert"] = int(os.environ.get("OMP_NUM_THREADS", "1"))  # its num_threads
    return out


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "platform": platform.platform(),
           "machine": platform.machine(), "cpu": _cpu_model(), "cpus": os.cpu_count(),
           "git_commit": _git_commit()}
    for pkg in ("tinykws", "numpy", "numba", "scipy", "ai-edge-litert", "tflite-micro",
                "pymicro-features", "librosa", "torch"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


def _bit_exact(r: dict) -> str:
    """'yes / no' from a row's ``ours_bit_exact`` / ``peer_bit_exact`` (blank where unmeasured)."""
    if "ours_bit_exact" not in r and "peer_bit_exact" not in r:
        return ""
    word = {True: "yes", False: "no", None: "?"}
    return f"{word[r.get('ours_bit_exact')]} / {word[r.get('peer_bit_exact')]}"


def markdown_table(rows: list[dict]) -> str:
    lines = ["| benchmark | ours | peer | ours | peer | unit | ratio (>1: ours better) "
             "| bit-exact with tflite-micro (ours / peer) |",
             "|---|---|---|---:|---:|---|---:|---|"]
    for r in rows:
        lines.append(f"| {r['benchmark']} | {r['ours']} | {r['peer']} | {r['ours_value']:.4g} | "
                     f"{r['peer_value']:.4g} | {r['unit']} | {r['ratio']:.3g} | {_bit_exact(r)} |")
    return "\n".join(lines)


def bar_chart(rows: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from tinykws.atomic import save_figure

    labels = [f"{r['benchmark']}: {r['ours']} vs {r['peer']}" for r in rows]
    fig, ax = plt.subplots(figsize=(9, 0.4 * len(rows) + 1.2))
    ax.barh(range(len(rows)), [r["ratio"] for r in rows],
            color=["tab:green" if r["ratio"] >= 1 else "tab:red" for r in rows])
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set_xscale("log")
    ax.set_yticks(range(len(rows)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("ratio, log scale (>1: tinykws better)")
    save_figure(path, fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few repetitions (a smoke run)")
    parser.add_argument("--json", help="write results and environment to this JSON file")
    parser.add_argument("--markdown", help="write the table to this Markdown file")
    parser.add_argument("--png", help="write a bar chart of the ratios")
    parser.add_argument("--only", action="append", choices=SUITES, help="run only these suites")
    parser.add_argument("--threads", type=int, default=1, help="threads for every library (default 1)")
    args = parser.parse_args(argv)
    _pin_threads(args.threads)

    rows: list[dict] = []
    skipped: dict[str, str] = {}
    for name in args.only or SUITES:
        try:
            module = importlib.import_module(f"benchmarks.{name}")
        except ModuleNotFoundError as exc:
            skipped[name] = f"not available: {exc}"
            print(f"[{name}] skipped: {exc}", file=sys.stderr)
            continue
        print(f"[{name}] running...", file=sys.stderr)
        rows.extend(module.run(args.quick))

    table = markdown_table(rows)
    print(table)
    from benchmarks.machine import machine_info

    env = {"threads": args.threads, "thread_counts": _thread_counts(), "quick": args.quick,
           "hardware": machine_info(), **_versions()}
    if args.json:
        from tinykws.atomic import write_json

        write_json(args.json, {"environment": env, "results": rows, "skipped": skipped})
    if args.markdown:
        from tinykws.atomic import write_text

        write_text(args.markdown, table + "\n")
    if args.png and rows:
        bar_chart(rows, args.png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
