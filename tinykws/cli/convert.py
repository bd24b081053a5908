"""``tinykws convert RUN --out DIR``: int8 post-training quantization and the Arduino model."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "convert", help="full-int8 post-training quantization to .tflite and a C array",
        description="Quantize a run's best model to int8 (calibrated on training clips), write "
        "DIR/model.tflite, DIR/model.cc and DIR/model.h (the micro_speech sketch's g_model) and "
        "DIR/convert.json (float and int8 test accuracy, size), also copied to RUN/convert.json.")
    p.add_argument("run", metavar="RUN", help="training run folder or model .npz")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--data", metavar="DIR", help="data folder (default: the one the run used)")
    p.add_argument("--calibration", type=int, default=200, help="calibration clips (default 200)")
    p.add_argument("--resplit-salt", metavar="S", help="test-set layout re-split salt")
    p.add_argument("--dense-weights", choices=("per-tensor", "per-channel"), default="per-tensor",
                   help="dense weights: one scale (default: what micro_speech's model and older "
                   "TFLM builds use) or one per output row (TensorFlow 2.21's default)")
    p.set_defaults(func=run, writes="out")


def run(args: argparse.Namespace) -> int:
    from tinykws.convert.run import convert_run

    r = convert_run(args.run, args.out, args.data, args.calibration, args.resplit_salt,
                    dense_per_channel=args.dense_weights == "per-channel")
    from tinykws.train.metrics import summary_lines

    print(f"model.tflite: {r['model_bytes']:,} bytes (micro_speech's: {r['micro_speech_model_bytes']:,})")
    for kind in ("float", "int8"):
        print(f"{kind} model, test split ({r['test_examples']} clips):")
        print("\n".join(summary_lines(r[f"{kind}_test_report"])))
    t = r["int8_vs_float"]
    print(f"int8 vs float on the same clips: {t['a_only']} right only in int8, {t['b_only']} only in "
          f"float; {'significant' if t['significant'] else 'within noise'} (McNemar p = {t['p_value']:.2g})")
    tflm = r["tflm"]
    if tflm is None:
        print("tflite-micro is not installed: model not run in it")
    else:
        print(f"tflite-micro: {'bit-exact' if tflm['bit_exact'] else 'MISMATCH'} on "
              f"{tflm['examples'] - tflm['mismatches']} of {tflm['examples']} test clips")
    return 0
