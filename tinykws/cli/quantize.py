"""``tinykws quantize RUN --out DIR``: PTQ, QAT and minifloat accuracy from 2 to 8 bits."""

from __future__ import annotations

import argparse
import contextlib

from tinykws.cli.study_options import add_study_options, finetune_config, runner_from_args


def _int_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _name_list(text: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in text.split(",") if t.strip())


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "quantize", help="quantization study: PTQ, QAT and minifloat at 2-8 bits",
        description="Quantize a trained run at each bit width after training (PTQ) and with "
        "quantization-aware fine-tuning (QAT), score every integer model with integer arithmetic, "
        "and score minifloat (ExMy) formats by fake quantization. Writes DIR/quant.json, "
        "DIR/ptq.png, DIR/qat.png, DIR/ptq_vs_qat.png, DIR/minifloat.png and DIR/qat8.tflite "
        "(checked against tflite-micro). Rerun with the same settings to resume.")
    p.add_argument("run", metavar="RUN", help="training run folder (or model .npz)")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--bits", type=_int_list, default=(2, 3, 4, 5, 6, 7, 8),
                   help="bit widths, 2..8 (default 2,3,4,5,6,7,8)")
    p.add_argument("--modes", type=_name_list, default=("ptq", "qat", "minifloat"),
                   help="any of ptq,qat,minifloat (default all)")
    p.add_argument("--formats", type=_name_list, default=None,
                   help="minifloat formats, e.g. E2M1,E4M3 (default: 14 formats of 3 to 8 bits)")
    p.add_argument("--ste", choices=("identity", "clipped"), default="identity",
                   help="straight-through gradient (default identity)")
    p.add_argument("--percentile", type=float, default=None,
                   help="activation ranges from this batch percentile instead of min/max (e.g. 99.99)")
    p.add_argument("--dense-weights", choices=("per-tensor", "per-channel"), default="per-tensor",
                   help="dense weights: one scale (default, as micro_speech's model) or one per "
                   "output row")
    p.add_argument("--grid", choices=("tflite", "full-range"), default="tflite",
                   help="weights' symmetric grid: TFLite's max|w| / (2^(b-1) - 1) (default) or the "
                   "full signed range, max(-min / 2^(b-1), max / (2^(b-1) - 1)); PTQ at 2-4 bits is "
                   "scored on both either way")
    add_study_options(p, "QAT")
    p.set_defaults(func=run, writes="out")


def run(args: argparse.Namespace) -> int:
    from tinykws.errors import TinyKWSError
    from tinykws.plots.quant import save_quant_plots
    from tinykws.quant.minifloat import STUDY_FORMATS
    from tinykws.quant.study import QuantStudySettings, run_quant_study

    if args.percentile is not None and not 50 < args.percentile <= 100:
        raise TinyKWSError(f"--percentile must be in (50, 100], not {args.percentile}")
    if not args.bits:
        raise TinyKWSError("--bits is empty")
    settings = QuantStudySettings(
        bits=args.bits, modes=args.modes, formats=args.formats or STUDY_FORMATS,
        finetune=finetune_config(args), calibration=args.calibration, ste=args.ste, percentile=args.percentile,
        dense_per_channel=args.dense_weights == "per-channel", grid=args.grid)
    with contextlib.closing(runner_from_args(args)) as runner:
        result = run_quant_study(args.run, args.out, settings, args.data, args.resplit_salt, args.real,
                                 progress=not args.no_progress, runner=runner)
    save_quant_plots(result, args.out)
    print(summary(result))
    return 0


def summary(result: dict) -> str:
    """The study as a small text table: balanced accuracy per mode and width (~: within noise)."""
    splits = [k for k in ("testing", "real") if f"{k}_balanced_accuracy" in result["float"]]
    paired = result.get("paired", {})

    def cells(entry: dict, tests: dict, which: str | None) -> str:
        out = []
        for k in splits:
            test = tests.get(k, {}).get(which) if which else None
            mark = "~" if test and not test["significant"] else " "
            out.append(f"{entry.get(f'{k}_balanced_accuracy', float('nan')):8.4f}{mark}")
        return "  ".join(out)

    head = "  ".join(f"{k:>9}" for k in splits)
    lines = ["balanced accuracy; ~ marks PTQ within noise of float, QAT within noise of PTQ "
             "(paired bootstrap of balanced accuracy, same clips)", f"{'model':<22}{head}",
             f"{'float':<22}" + cells(result["float"], {}, None)]
    for mode, which in (("ptq", "ptq_vs_float"), ("qat", "qat_vs_ptq")):
        for b, entry in sorted((result.get(mode) or {}).items(), key=lambda kv: int(kv[0])):
            lines.append(f"{mode.upper() + ' ' + b + '-bit':<22}" + cells(entry, paired.get(b, {}), which))
    for grid, entries in (result.get("grids") or {}).items():  # PTQ at 2-4 bits on each weight grid
        for b, entry in sorted(entries.items(), key=lambda kv: int(kv[0])):
            lines.append(f"{'PTQ ' + b + '-bit ' + grid:<22}" + cells(entry, {}, None))
    for name, entry in (result.get("minifloat") or {}).items():
        lines.append(f"{name + ' (' + str(entry['bits']) + ' bits)':<22}" + cells(entry, {}, None))
    model = result.get("model")
    if model:
        lines.append(f"{model['architecture']}: {model['params']:,} parameters, {model['flops']:,} FLOPs, "
                     f"float CPU {model['cpu_float_us']:.0f} us")
    for mode in ("ptq", "qat"):
        e = (result.get(mode) or {}).get("8", {})
        if "mcu_reference_ms" in e:
            lines.append(f"{mode.upper()} 8-bit .tflite: {e['tflite_bytes']:,} B, int8 CPU {e['cpu_int8_us']:.0f} us, "
                         f"MCU {e['mcu_reference_ms']:.1f} ms (reference) / {e['mcu_cmsis_nn_ms']:.1f} ms (CMSIS-NN)")
    tflm = (result.get("qat") or {}).get("8", {}).get("tflm")
    if tflm:
        lines.append(f"QAT 8-bit in tflite-micro: {'bit-exact' if tflm['bit_exact'] else 'MISMATCH'} "
                     f"on {tflm['examples']} test clips")
    from tinykws.train.metrics import summary_lines

    for name, entry in (("float model", result["float"]), ("QAT 8-bit", (result.get("qat") or {}).get("8"))):
        if entry and "testing_report" in entry:
            lines += [f"{name}, test split:", *summary_lines(entry["testing_report"])]
    return "\n".join(lines)
