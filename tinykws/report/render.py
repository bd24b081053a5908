"""The report's Markdown, section by section, from the stages' results only.

Each ``_section(...)`` takes finished stage results and returns lines; no
number is computed here that a stage did not produce, and none is typed in.
"""

from __future__ import annotations

from pathlib import Path

from tinykws import __version__


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f} %"


def _ci(entry: dict) -> str:
    """A proportion with its 95 % interval: ``91.2 % [88.0, 93.6]``."""
    from tinykws.train.metrics import proportion

    return proportion(entry).percent()


def _classification(report: dict) -> list[str]:
    """A classification report as a recall/precision table (keywords first) and a summary line."""
    lines = ["| label | recall | precision | clips |", "|---|---:|---:|---:|"]
    for label, e in report["per_class"].items():
        lines.append(f"| {label} | {_ci(e['recall'])} | {_ci(e['precision'])} | {e['support']:,} |")
    fa = report["false_accepts"]
    return lines + ["", f"Balanced accuracy **{_ci(report['balanced_accuracy'])}**; false accepts "
                    f"(non-keyword clips labelled as a keyword) **{_ci(fa)}** ({fa.get('count', 0)} of "
                    f"{fa.get('total', 0)}); accuracy {_ci(report['accuracy'])} over every clip, "
                    f"{_ci(report['tf_distribution_accuracy'])} on TF's distribution (keywords + "
                    f"{report['tf_shares']['silence_percentage']:g} % silence + "
                    f"{report['tf_shares']['unknown_percentage']:g} % unknown); always answering the "
                    f"most common label: {_pct(report['majority_accuracy'])}. Intervals: 95 %."]


def _noise_mark(test: dict | None) -> str:
    """``''`` for a significant paired difference, ``' (~)'`` for one within noise."""
    return "" if test is None or test["significant"] else " (~)"


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
    if "stream" in r:
        lines += _stream(r["stream"], rel)
    if "zoo" in r:
        lines += _zoo(r["zoo"], rel, s.quick)
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
             f"steps/s); the checkpoint with the best balanced validation accuracy (step "
             f"{t['best_step']:,}) is kept.", "",
             "| split | balanced accuracy | accuracy | examples |", "|---|---:|---:|---:|"]
    for split in ("training", "validation", "testing"):
        rep = t["reports"][split]
        lines.append(f"| {split} | {_ci(rep['balanced_accuracy'])} | {_ci(rep['accuracy'])} | "
                     f"{t['examples'][split]:,} |")
    lines += ["", "Test split:", ""] + _classification(t["reports"]["testing"])
    return lines + ["", f"![curves]({rel(training, 'curves.png')})", "",
                    f"![confusion]({rel(training, 'confusion.png')})"]


def _int8(c: dict) -> list[str]:
    return ["", "## Int8 model", "",
            f"Full-int8 post-training quantization ({c['calibration_clips']} calibration clips): "
            f"`model.tflite` of **{c['model_bytes']:,} bytes** (TensorFlow's micro_speech model: "
            f"{c['micro_speech_model_bytes']:,}), operators {', '.join(c['operators'])}, and the "
            "Arduino array `model.cc`.", "",
            "| model | balanced accuracy | false accepts | accuracy |", "|---|---:|---:|---:|",
            *(f"| {kind} | {_ci(c[f'{kind}_test_report']['balanced_accuracy'])} | "
              f"{_ci(c[f'{kind}_test_report']['false_accepts'])} | "
              f"{_ci(c[f'{kind}_test_report']['accuracy'])} |" for kind in ("float", "int8")),
            "", f"int8 against float on the same {c['test_examples']} test clips: "
            f"{c['int8_vs_float']['a_only']} right only in int8, {c['int8_vs_float']['b_only']} only "
            f"in float, {'a significant difference' if c['int8_vs_float']['significant'] else 'within noise'}"
            f" (McNemar p = {c['int8_vs_float']['p_value']:.2g}).", "", _tflm_sentence(c.get("tflm"))]


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
    splits = [k for k in ("testing", "real") if f"{k}_balanced_accuracy" in q["float"]]
    names = {"testing": "test split", "real": "real speech"}
    head = " | ".join(f"PTQ, {names[k]} | QAT, {names[k]}" for k in splits)
    paired = q.get("paired", {})

    def cell(entry: dict, split: str, test: dict | None) -> str:
        return f"{_pct(entry.get(f'{split}_balanced_accuracy'))}{_noise_mark(test)}"

    lines = ["", "## Quantization: 2 to 8 bits", "",
             "Weights and activations on b-bit grids (the input keeps the device's 8-bit features); "
             "post-training quantization (PTQ) of the float model and quantization-aware fine-tuning "
             f"(QAT, {q['settings']['finetune']['steps']} steps), both scored with integer arithmetic. "
             "Balanced accuracy; (~) marks a PTQ model within noise of the float model, or a QAT "
             "model within noise of PTQ at the same width (a class-stratified paired bootstrap of "
             "balanced accuracy on the same clips, p >= 0.05).",
             "", f"| bits | {head} |", "|---:|" + "---:|" * (2 * len(splits)),
             "| float | " + " | ".join(f"{cell(q['float'], k, None)} | {cell(q['float'], k, None)}"
                                     for k in splits) + " |"]
    for b in sorted(q["ptq"], key=int):
        tests = paired.get(b, {})
        lines.append(f"| {b} | " + " | ".join(
            f"{cell(q['ptq'][b], k, tests.get(k, {}).get('ptq_vs_float'))} | "
            f"{cell(q['qat'].get(b, {}), k, tests.get(k, {}).get('qat_vs_ptq'))}" for k in splits) + " |")
    lines += _floor(q)
    tflm = q["qat"].get("8", {}).get("tflm")
    if tflm:
        lines += ["", f"The 8-bit QAT model, written as .tflite, runs "
                  f"{'bit-exactly' if tflm['bit_exact'] else 'NOT bit-exactly'} in tflite-micro "
                  f"({tflm['examples']} test clips)."]
    lines += [""] + [f"![{name}]({rel(quant, name)})" for name in q["plots"]]
    mf = q["minifloat"]
    lines += ["", "Minifloat (ExMy) fake quantization, test split:", "",
              "| format | bits | balanced accuracy |", "|---|---:|---:|"]
    lines += [f"| {name} | {e['bits']} | {_pct(e.get('testing_balanced_accuracy'))} |"
              for name, e in mf.items()]
    return lines


def _prune(prune, rel) -> list[str]:
    p = prune.data
    base = p["baseline"]
    has_real = "int8_real_accuracy" in base
    mcu = "mcu_reference_ms" in base
    head = "| model | nonzero params | FLOPs | int8 .tflite | test bal. acc." + \
        (" | real bal. acc." if has_real else "") \
        + " | CPU int8 | MCU (est.) | tflite-micro |"
    lines = ["", "## Pruning", "",
             "Unstructured L1-magnitude pruning (zeros in place; FLOPs counted on nonzero weights, as a "
             "zero-skipping kernel does them) and structured channel pruning (whole conv filters and "
             f"their dense columns removed), each without and with {p['settings']['finetune']['steps']} "
             "steps of fine-tuning (masks kept). Balanced accuracy with integer arithmetic; (~) marks a "
             "model within noise of the unpruned one (a class-stratified paired bootstrap of balanced "
             "accuracy on the same clips, p >= 0.05).", "", head,
             "|---|---:|---:|---:|---:|" + ("---:|" if has_real else "") + "---:|---:|---|"]

    def row(name, e, test=None):
        tflm = e.get("tflm")
        test = test or {}
        exact = "-" if tflm is None else ("bit-exact" if tflm["bit_exact"] else "MISMATCH")
        flops = e.get("zero_skipping_flops", e["flops"]) if "sparsity" in e else e["flops"]
        return (f"| {name} | {e['nonzero_params']:,} | {flops:,} | {e['tflite_bytes']:,} B | "
                f"{_pct(e.get('int8_testing_balanced_accuracy'))}{_noise_mark(test.get('testing'))}"
                + (f" | {_pct(e.get('int8_real_balanced_accuracy'))}{_noise_mark(test.get('real'))}"
                   if has_real else "")
                + f" | {e['cpu_int8_best_us']:.1f} us | "
                + (f"{e['mcu_reference_ms']:.1f} ms" if mcu else "-") + f" | {exact} |")

    lines.append(row("unpruned", base))
    for key, e in p["unstructured"].items():
        amount, kind = key.split("/")
        lines.append(row(f"{float(amount):.0%} sparse, {'fine-tuned' if kind == 'finetuned' else 'pruned'}",
                         e, p.get("paired", {}).get("unstructured", {}).get(key)))
    for key, e in p["structured"].items():
        ch, kind = key.split("/")
        lines.append(row(f"{ch} of 8 filters, {'fine-tuned' if kind == 'finetuned' else 'pruned'}", e,
                         p.get("paired", {}).get("structured", {}).get(key)))
    return lines + _floor(p) + [""] + [f"![{name}]({rel(prune, name)})" for name in p["plots"]]


def _floor(study: dict) -> list[str]:
    floors = study.get("majority") or {}
    if "testing_accuracy" not in floors:
        return []
    real = (f" and {_pct(floors['real_accuracy'])} on real speech" if "real_accuracy" in floors else "")
    return ["", f"For scale: always answering one label scores a balanced accuracy of 1 / (number of "
            f"labels); always answering the most common label scores a plain accuracy of "
            f"{_pct(floors['testing_accuracy'])} on the test split{real}."]


def _infield(f: dict) -> list[str]:
    lines = ["", "## In-field test", "",
             f"A {f['duration_s'] / 60:.1f}-minute recording of test-split voices (never seen in "
             f"training) with noisy gaps, streamed through micro_speech's recognizer (1 s average, "
             f"threshold 200, 1.5 s suppression): {f['keywords_spoken']} keywords spoken, "
             f"{f['hits']} detected, {f['false_alarms']} false alarms.", "",
             "| precision | recall | false alarms per hour |", "|---:|---:|---:|"]
    if "recall_interval" not in f:  # a stage cached by an older tinykws: its numbers as they are
        return lines + [f"| {_pct(f['precision'])} | {_pct(f['recall'])} | "
                        f"{f['false_alarms_per_hour']:.1f} |"]
    fa = f["false_alarms_per_hour_interval"]
    return lines + [
        f"| {_ci(f['precision_interval'])} | {_ci(f['recall_interval'])} | "
        f"{fa['value']:.1f} [{fa['low']:.1f}, {fa['high']:.1f}] |", "",
        "Recall per keyword: " + "; ".join(f"{w} {_ci(e)}" for w, e in f["recall_per_keyword"].items())
        + ". Intervals: 95 % (Wilson; exact Poisson for the alarm rate)."]


def _stream(stage, rel) -> list[str]:
    f = stage.data
    m = f["main"]
    c = m["calibration"]

    def row(name, t):
        fa = t["false_alarms_per_hour"]
        return (f"| {name} | {_ci(t['miss_rate'])} | {fa['value']:.1f} [{fa['low']:.1f}, "
                f"{fa['high']:.1f}] | {t['keyword_utterances']} |")

    s = m["settings"]
    lines = ["", "## Streaming evaluation", "",
             f"{m['hours'] * 60:.0f} minutes of test-split speakers (never heard in training) over "
             "recorded background noise at 20, 10 and 5 dB SNR, scored by the **int8 model** "
             "through the micro frontend slice by slice as the device runs it (tflite-micro on "
             f"sampled windows: {'bit-exact' if m['tflm_bit_exact'] else m['tflm_bit_exact']}). "
             "A miss is a keyword no detection claimed within 2 s of its onset; every other "
             "detection is a false alarm.", "",
             "| recognizer settings | miss rate | false alarms per hour | keywords spoken |",
             "|---|---:|---:|---:|",
             row(f"micro_speech's ({s['average_window_ms']} ms, {s['detection_threshold']}, "
                 f"{s['suppression_ms']} ms, {s['minimum_count']})", m["test"]),
             row("calibrated on validation speakers for 1 per hour", c["test"])]
    if "real" in f:
        lines.append(row("the calibrated ones, **real speakers**", f["real"]["test"]))
    lines += ["", f"The calibrated settings, as the sketch takes them: `{c['c']}`"
              + ("" if c["met_on_validation"] else " (the target was not reached on validation)")
              + ". Intervals: 95 % (Wilson; exact Poisson for the alarm rate).", ""]
    return lines + [f"![{name}]({rel(stage, name)})" for name in f["plots"]]


def _zoo(stage, rel, quick: bool) -> list[str]:
    from tinykws.train.zoo_study import format_table

    z = stage.data
    where = ("**real speakers**" if z["real"] else "the report's data (pass --real DIR for real "
             "speakers)")
    if "skipped" in z:
        return ["", "## Model zoo", "", f"Not run: cross-validating on {where} failed: "
                f"{z['skipped']}. `tinykws zoo` runs it on a larger set.", ""]
    table = format_table(z["table"]).splitlines()[2:]  # its own title line dropped
    return (["", "## Model zoo", "",
             f"Three of the zoo's models, each cross-validated on {where}"
             + (", trained for only a few steps (quick profile)" if quick else "")
             + "; `tinykws zoo` runs every model.", ""]
            + table + ["", f"![zoo]({rel(stage, z['plots'][0])})"])


def _real(r: dict) -> list[str]:
    return ["", "## Real speech", "",
            f"The same model on `{r['data']}` ({r['examples']:,} clips of real speakers, none of "
            "them in training):", ""] + _classification(r)
