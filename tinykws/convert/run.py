"""``convert_run``: a training run in, ``model.tflite`` + C array + report out."""

from __future__ import annotations

from pathlib import Path

from tinykws.atomic import write_bytes, write_json, write_text
from tinykws.convert.c_array import c_header, c_source
from tinykws.quant.ptq import quantize_model

MICRO_SPEECH_MODEL_BYTES = 18_712  # TensorFlow's micro_speech model, for comparison


def convert_run(run: str | Path, out: str | Path, data: str | None = None,
                calibration: int = 200, resplit_salt: str | None = None,
                dense_per_channel: bool = False) -> dict:
    """Quantize a run's best model, write model.tflite/.cc/.h and convert.json.

    The written model is also run in tflite-micro on every test clip, when
    it is installed (``convert.json``'s ``tflm``; None otherwise).
    """
    from tinykws.int8.runtime import Int8Runtime
    from tinykws.tflite.feature_metadata import with_feature_spec
    from tinykws.tflite.interpreters import check_against_tflm
    from tinykws.tflite.reader import parse_tflite
    from tinykws.tflite.writer import serialize_tflite
    from tinykws.train.evaluate import calibration_set, int8_model_input, open_run
    from tinykws.stats import mcnemar
    from tinykws.train.metrics import classification_report, predict

    run = Path(run)
    model, meta, pipeline = open_run(run, data, resplit_salt)
    data = meta["data_dir"]
    calibration_x = calibration_set(pipeline, calibration)
    spec = pipeline.spec  # the run's features (meta "feature_spec"), carried into the model
    graph = with_feature_spec(quantize_model(model, calibration_x, dense_per_channel=dense_per_channel,
                                             features=spec), spec)
    blob = serialize_tflite(graph)
    runtime = Int8Runtime(parse_tflite(blob, "model.tflite"))
    x, y = pipeline.split_arrays("testing")
    float_predicted = predict(model, x).argmax(1)  # (N,)
    x_int8 = int8_model_input(graph, spec, x)  # (N, frames, width, 1) int8
    scores = runtime.run_clip(x_int8)  # (N, K) int8; a streaming model frame by frame
    int8_predicted = scores.argmax(1)  # (N,)
    reports = {kind: classification_report(p, y, meta["labels"], *pipeline.class_shares)
               for kind, p in (("float", float_predicted), ("int8", int8_predicted))}
    out = Path(out)
    write_bytes(out / "model.tflite", blob)
    write_text(out / "model.cc", c_source(blob))
    inp = graph.tensors[graph.inputs[0]]
    write_text(out / "model.h", c_header(spec, (inp.scale[0], inp.zero_point[0])))
    report = {
        "labels": meta["labels"], "data": str(data), "calibration_clips": calibration,
        "test_examples": int(len(y)),
        "float_test_accuracy": reports["float"]["accuracy"]["value"],
        "int8_test_accuracy": reports["int8"]["accuracy"]["value"],
        "float_test_report": reports["float"], "int8_test_report": reports["int8"],
        "int8_vs_float": mcnemar(int8_predicted == y, float_predicted == y).as_dict(),
        "model_bytes": len(blob),
        "micro_speech_model_bytes": MICRO_SPEECH_MODEL_BYTES,
        "operators": [op.op for op in graph.operators],
        "features": spec.to_dict(),
        "input_quantization": {"scale": inp.scale[0], "zero_point": inp.zero_point[0]},
        "dense_weights": "per-channel" if dense_per_channel else "per-tensor",
        "tflm": check_against_tflm(blob, x_int8, ours=scores),
    }
    write_json(out / "convert.json", report)
    if run.is_dir():
        write_json(run / "convert.json", report)
    return report
