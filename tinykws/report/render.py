"""The report's Markdown, section by section, from the stages' results only.

Each ``_section(...)`` takes finished stage results and returns lines; no
number is computed here that a stage did not produce, and none is typed in.
"""

from __future__ import annotations

from pathlib import Path

from tinykws import __version__


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f} %"


def _ms(seconds: float) -> str:
    return f"{1e3 * seconds:.3f} ms"


def render(s, source, labels, counts, r: dict) -> str:
    """``r`` maps stage names (features, size, train, convert, cpu, mcu, quant, prune,
    infield, real) to their :class:`StageResult`."""
    def rel(stage, name):
        return f"{stage.dir.relative_to(Path(s.out))}/{name}"

    lines = ["# tinykws report", "",
             f"Keywords: **{', '.join(s.words)}**. Data: `{source.path}` ({source.kind}). "
             f"Profile: {'quick' if s.quick else 'full'}. tinykws {__version__}."]
    if source.synthetic or "synth" in str(source.path):
        lines += ["", "The data is **synthetic speech**, much easier than real speech; see the "
                  "real-speech numbers below" + ("." if "real" in r else " (none given: pass --real DIR).")]
    lines += _data(labels, counts)
    lines += _features(r["features"], rel)
    lines += _size(r["size"].data)
    lines += _training(r["train"], rel)
    lines += _int8(r["convert"].data)
    lines += _cpu(r["cpu"].data)
    lines += _mcu(r["mcu"].data)
    lines += _quant(r["quant"], rel)
    lines += _prune(r["prune"], rel)
    lines += _infield(r["infield"].data)
    if "real" in r:
        lines += _real(r["real"].data)
    return "\n".join(lines) + "\n"


def _data(labels, counts) -> list[str]:
    lines = ["", "## Data set", "", "| label | training | validation | testing |", "|---|---:|---:|---:|"]
    for label in labels:
        lines.append(f"| {label} | " + " | ".join(str(counts[sp][label]) for sp in
                                                  ("training", "validation", "testing")) + " |")
    return lines


def _features(features, rel) -> list[str]:
    f = features.data
    lines = ["", "## Audio features", "",
             f"One clip (`{Path(f['clip']).name}`): waveform, spectrum, spectrogram, log-mel, MFCC "
             f"({f['mfcc_shape'][1]} coefficients) and the TFLite-Micro frontend "
             f"({f['micro_shape'][0]} frames x {f['micro_shape'][1]} channels).", ""]
    return lines + [f"![{name}]({rel(features, name)})" for name in f["plots"]]


def _size(z: dict) -> list[str]:
    lines = ["", "## Model size", "", "| layer | output | params | MACs | FLOPs |", "|---|---|---:|---:|---:|"]
    for l in z["layers"]:
        lines.append(f"| {l['name']} | {'x'.join(map(str, l['output_shape']))} | {l['params']:,} | "
                     f"{l['macs']:,} | {l['flops']:,} |")
    return lines + [
        f"| total | | {z['params']:,} | {z['macs']:,} | {z['flops']:,} |", "",
        f"- flash: {z['flash_float32_bytes']:,} B float32, about {z['flash_int8_bytes']:,} B int8 "
        f"({z['flash_int8_percent_nano33']:.2f} % of the Nano 33 BLE Sense's 1 MB)",
        f"- RAM: {z['ram_course_bytes']:,} B input + output (course convention); peak activations "
        f"{z['ram_peak_float32_bytes']:,} B float32, {z['ram_peak_int8_bytes']:,} B int8",
        f"- float CPU latency at batch 1: {1e6 * z['float_latency_batch1_seconds']:.0f} us (median)"]


def _training(training, rel) -> list[str]:
    t = training.data
    lines = ["", "## Training", "",
             f"{t['config']['steps']:,} steps of {t['config']['optimizer']} (batch "
             f"{t['config']['batch_size']}) in {t['wall_seconds']:.0f} s ({t['steps_per_second']:.1f} "
             f"steps/s); best validation at step {t['best_step']:,}.", "",
             "| split | accuracy | examples |", "|---|---:|---:|"]
    for split in ("training", "validation", "testing"):
        lines.append(f"| {split} | {_pct(t['accuracy'][split])} | {t['examples'][split]:,} |")
    return lines + ["", f"![curves]({rel(training, 'curves.png')})", "",
                    f"![confusion]({rel(training, 'confusion.png')})"]


def _int8(c: dict) -> list[str]:
    return ["", "## Int8 model", "",
            f"Full-int8 post-training quantization ({c['calibration_clips']} calibration clips): "
            f"`model.tflite` of **{c['model_bytes']:,} bytes** (TensorFlow's micro_speech model: "
            f"{c['micro_speech_model_bytes']:,}), operators {', '.join(c['operators'])}, and the "
            "Arduino array `model.cc`.", "",
            "| model | test accuracy |", "|---|---:|",
            f"| float32 | {_pct(c['float_test_accuracy'])} |",
            f"| int8 | {_pct(c['int8_test_accuracy'])} |", "", _tflm_sentence(c.get("tflm"))]


def _tflm_sentence(tflm: dict | None) -> str:
    if tflm is None:
        return "tflite-micro is not installed here, so the model was not run in it (the test suite does)."
    if tflm["bit_exact"]:
        return (f"tinykws's int8 runtime and tflite-micro's interpreter give bit for bit the same "
                f"outputs on all {tflm['examples']} test clips.")
    return (f"tinykws's int8 runtime and tflite-micro's interpreter **differ** on {tflm['mismatches']} "
            f"of the {tflm['examples']} test clips.")


def _cpu(c: dict) -> list[str]:
    t = c["seconds"]
    total = t["frontend 20 ms"] + t["network"] + t["recognizer"]
    lines = ["", "## CPU time per 1 s clip", "",
             "The deployed pipeline on this machine's CPU (one thread, medians), as the course's "
             "profiler splits it:", "",
             "| stage | tinykws | peer (C) |", "|---|---:|---:|",
             f"| preprocessing: micro frontend, 20 ms stride | {_ms(t['frontend 20 ms'])} | |",
             f"| preprocessing: micro frontend, 10 ms stride | {_ms(t['frontend 10 ms'])} | "
             + (f"{_ms(t['pymicro-features'])} (pymicro-features) |" if "pymicro-features" in t
                else "(pymicro-features not installed) |"),
             f"| network: int8 TinyConv | {_ms(t['network'])} | "
             + (f"{_ms(t['tflite-micro'])} (tflite-micro) |" if "tflite-micro" in t
                else "(tflite-micro not installed) |"),
             f"| postprocessing: RecognizeCommands | {_ms(t['recognizer'])} | |",
             f"| total (20 ms stride) | {_ms(total)} | |"]
    return lines


def _mcu(m: dict) -> list[str]:
    lines = ["", "## Estimated on the microcontroller", "",
             f"An **estimate** from tinykws's cost model (`tinykws mcu`) for the "
             f"{m['board']}: cycles counted from each operator's MACs, outputs and overheads; "
             "CMSIS-NN's two scales fitted to two published TFLM measurements, the reference "
             "kernels' counts to none (see the README and `tinykws mcu --validate` for its "
             "assumptions and its error on published points)."
             + (f" Its {m['held_out']}." if "held_out" in m else ""), "",
             "| per 1 s clip | TFLM reference kernels | CMSIS-NN kernels |", "|---|---:|---:|"]
    ref, cmsis = m["reference"], m["cmsis-nn"]
    for key, name in (("preprocessing_ms", "preprocessing"), ("network_ms", "network"),
                      ("postprocessing_ms", "postprocessing"), ("total_ms", "total")):
        lines.append(f"| {name} | {ref[key]:.1f} ms | {cmsis[key]:.1f} ms |")
    lines += ["", f"- tensor arena {ref['arena_bytes']:,} B; RAM {ref['ram_bytes']:,} B of "
              f"{m['ram_capacity_bytes']:,}; flash {ref['flash_bytes']:,} B of {m['flash_capacity_bytes']:,}"]
    return lines


def _quant(quant, rel) -> list[str]:
    q = quant.data
    keys = [k for k in ("testing_accuracy", "real_accuracy") if k in q["float"]]
    names = {"testing_accuracy": "test split", "real_accuracy": "real speech"}
    head = " | ".join(f"PTQ, {names[k]} | QAT, {names[k]}" for k in keys)
    lines = ["", "## Quantization: 2 to 8 bits", "",
             "Weights and activations on b-bit grids (the input keeps the device's 8-bit features); "
             "post-training quantization (PTQ) of the float model and quantization-aware fine-tuning "
             f"(QAT, {q['settings']['finetune']['steps']} steps), both scored with integer arithmetic.",
             "", f"| bits | {head} |", "|---:|" + "---:|" * (2 * len(keys)),
             "| float | " + " | ".join(f"{_pct(q['float'][k])} | {_pct(q['float'][k])}" for k in keys) + " |"]
    for b in sorted(q["ptq"], key=int):
        lines.append(f"| {b} | " + " | ".join(f"{_pct(q['ptq'][b][k])} | {_pct(q['qat'][b][k])}"
                                             for k in keys) + " |")
    lines += _floor(q)
    tflm = q["qat"].get("8", {}).get("tflm")
    if tflm:
        lines += ["", f"The 8-bit QAT model, written as .tflite, runs "
                  f"{'bit-exactly' if tflm['bit_exact'] else 'NOT bit-exactly'} in tflite-micro "
                  f"({tflm['examples']} test clips)."]
    lines += [""] + [f"![{name}]({rel(quant, name)})" for name in q["plots"]]
    mf = q["minifloat"]
    lines += ["", "Minifloat (ExMy) fake quantization, test split:", "",
              "| format | bits | accuracy |", "|---|---:|---:|"]
    lines += [f"| {name} | {e['bits']} | {_pct(e['testing_accuracy'])} |" for name, e in mf.items()]
    return lines


def _prune(prune, rel) -> list[str]:
    p = prune.data
    base = p["baseline"]
    has_real = "int8_real_accuracy" in base
    mcu = "mcu_reference_ms" in base
    head = "| model | nonzero params | FLOPs | int8 .tflite | test acc." + (" | real acc." if has_real else "") \
        + " | CPU int8 | MCU (est.) | tflite-micro |"
    lines = ["", "## Pruning", "",
             "Unstructured L1-magnitude pruning (zeros in place; FLOPs counted on nonzero weights, as a "
             "zero-skipping kernel does them) and structured channel pruning (whole conv filters and "
             f"their dense columns removed), each without and with {p['settings']['finetune']['steps']} "
             "steps of fine-tuning (masks kept). Accuracy with integer arithmetic.", "", head,
             "|---|---:|---:|---:|---:|" + ("---:|" if has_real else "") + "---:|---:|---|"]

    def row(name, e):
        tflm = e.get("tflm")
        exact = "-" if tflm is None else ("bit-exact" if tflm["bit_exact"] else "MISMATCH")
        flops = e.get("zero_skipping_flops", e["flops"]) if "sparsity" in e else e["flops"]
        return (f"| {name} | {e['nonzero_params']:,} | {flops:,} | {e['tflite_bytes']:,} B | "
                f"{_pct(e['int8_testing_accuracy'])}" + (f" | {_pct(e['int8_real_accuracy'])}" if has_real else "")
                + f" | {e['cpu_int8_best_us']:.1f} us | "
                + (f"{e['mcu_reference_ms']:.1f} ms" if mcu else "-") + f" | {exact} |")

    lines.append(row("unpruned", base))
    for key, e in p["unstructured"].items():
        amount, kind = key.split("/")
        lines.append(row(f"{float(amount):.0%} sparse, {'fine-tuned' if kind == 'finetuned' else 'pruned'}", e))
    for key, e in p["structured"].items():
        ch, kind = key.split("/")
        lines.append(row(f"{ch} of 8 filters, {'fine-tuned' if kind == 'finetuned' else 'pruned'}", e))
    return lines + _floor(p) + [""] + [f"![{name}]({rel(prune, name)})" for name in p["plots"]]


def _floor(study: dict) -> list[str]:
    floors = study.get("majority") or {}
    if "testing_accuracy" not in floors:
        return []
    real = (f" and {_pct(floors['real_accuracy'])} on real speech" if "real_accuracy" in floors else "")
    return ["", f"For scale: always answering the most common label scores "
            f"{_pct(floors['testing_accuracy'])} on the test split{real}."]


def _infield(f: dict) -> list[str]:
    return ["", "## In-field test", "",
            f"A {f['duration_s'] / 60:.1f}-minute recording of test-split voices (never seen in "
            f"training) with noisy gaps, streamed through micro_speech's recognizer (1 s average, "
            f"threshold 200, 1.5 s suppression): {f['keywords_spoken']} keywords spoken, "
            f"{f['hits']} detected, {f['false_alarms']} false alarms.", "",
            "| precision | recall | false alarms per hour |", "|---:|---:|---:|",
            f"| {_pct(f['precision'])} | {_pct(f['recall'])} | {f['false_alarms_per_hour']:.1f} |"]


def _real(r: dict) -> list[str]:
    lines = ["", "## Real speech", "",
             f"The same model on `{r['data']}` ({r['examples']:,} clips of real speakers): "
             f"**{_pct(r['accuracy'])}**.", "", "| label | accuracy |", "|---|---:|"]
    return lines + [f"| {k} | {_pct(v)} |" for k, v in r["per_class"].items()]
