"""``tinykws prune RUN --out DIR``: unstructured and channel pruning, with and without fine-tuning."""

from __future__ import annotations

import argparse
import contextlib

from tinykws.cli.study_options import add_study_options, finetune_config, runner_from_args


def _float_list(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated fractions, got {text!r}") from None


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "prune", help="pruning study: accuracy vs parameters, FLOPs, CPU and MCU runtime",
        description="Prune a trained run by weight magnitude (unstructured: --amounts are "
        "sparsities) and by whole filters (structured: --amounts are the fraction of filters "
        "removed from every prunable layer, C - round(amount * C) of its C kept; TinyConv's 8 "
        "filters keep 8 - round(amount * 8)), each without and with fine-tuning; "
        "measure every model (nonzero parameters, FLOPs, int8 .tflite size and accuracy, CPU "
        "latency, estimated MCU latency) and check it in tflite-micro. Writes DIR/prune.json, "
        "DIR/models/*.tflite and DIR/prune_{params,flops,cpu,mcu}.png. Rerun with the same settings to resume.")
    p.add_argument("run", metavar="RUN", help="training run folder (or model .npz)")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--method", default="unstructured,structured",
                   help="unstructured, structured or both, comma-separated (default both)")
    p.add_argument("--amounts", type=_float_list, default=None,
                   help="fractions in [0, 1) (default: unstructured 0.3,0.5,0.7,0.8,0.9,0.95,0.98,0.99; "
                   "structured 0.125,...,0.875 = 7..1 of TinyConv's 8 filters kept)")
    p.add_argument("--scope", choices=("layer", "global"), default="layer",
                   help="unstructured: a threshold per layer or one global threshold")
    p.add_argument("--norm", type=int, choices=(1, 2), default=1, help="structured: L1 or L2 filter norm")
    p.add_argument("--repeats", type=int, default=15,
                   help="rounds of the alternating int8 CPU timing of all models (default 15)")
    add_study_options(p, "pruned models")
    p.set_defaults(func=run, writes="out")


def run(args: argparse.Namespace) -> int:
    from tinykws.errors import TinyKWSError
    from tinykws.plots.prune import save_prune_plots
    from tinykws.prune.study import (
        STRUCTURED_AMOUNTS, UNSTRUCTURED_AMOUNTS, PruneStudySettings, run_prune_study)

    methods = tuple(m.strip() for m in args.method.split(",") if m.strip())
    if args.repeats < 1:
        raise TinyKWSError(f"--repeats must be at least 1, not {args.repeats}")
    if args.amounts is not None and len(methods) > 1:
        raise TinyKWSError("--amounts means sparsity for one --method: pass unstructured or structured")
    settings = PruneStudySettings(
        methods=methods,
        unstructured_amounts=args.amounts if args.amounts is not None and methods == ("unstructured",)
        else UNSTRUCTURED_AMOUNTS,
        structured_amounts=args.amounts if args.amounts is not None and methods == ("structured",)
        else STRUCTURED_AMOUNTS,
        scope=args.scope, norm=args.norm,
        finetune=finetune_config(args), calibration=args.calibration, timing_repeats=args.repeats)
    with contextlib.closing(runner_from_args(args)) as runner:
        result = run_prune_study(args.run, args.out, settings, args.data, args.resplit_salt, args.real,
                                 progress=not args.no_progress, runner=runner)
    save_prune_plots(result, args.out)
    print(summary(result))
    return 0


def summary(result: dict) -> str:
    """One line per model: int8 balanced test accuracy (~: within noise of the unpruned model),
    size and speed (FLOPs of unstructured models: on nonzero weights)."""
    lines = [f"{'model':<28}{'bal. acc':>10} {'nonzero':>9}{'FLOPs':>13}{'CPU us':>10}{'MCU ms':>8}  tflm"]

    def line(name: str, e: dict, test: dict | None = None) -> str:
        tflm = e.get("tflm")
        exact = "-" if tflm is None else ("exact" if tflm["bit_exact"] else "MISMATCH")
        mcu = e.get("mcu_reference_ms")
        flops = e["zero_skipping_flops"] if "sparsity" in e else e["flops"]
        mark = "~" if test and not test["significant"] else " "
        return (f"{name:<28}{e.get('int8_testing_balanced_accuracy', float('nan')):>10.4f}{mark}"
                f"{e['nonzero_params']:>9,}"
                f"{flops:>13,}{e['cpu_int8_best_us']:>10.1f}"
                f"{'-' if mcu is None else f'{mcu:.1f}':>8}  {exact}")

    lines.append(line("unpruned", result["baseline"]))
    for method in ("unstructured", "structured"):
        for key, e in (result.get(method) or {}).items():
            test = result.get("paired", {}).get(method, {}).get(key, {}).get("testing")
            lines.append(line(f"{method} {key}", e, test))
    from tinykws.train.metrics import summary_lines

    base = result["baseline"]
    if "int8_testing_report" in base:
        lines += ["unpruned int8 model, test split:", *summary_lines(base["int8_testing_report"])]
    return "\n".join(lines)
