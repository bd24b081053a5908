"""The real runtimes we compare against, each wrapped as ``run(x) -> output``.

- tflite-micro's Python interpreter: the ground truth for bit-exactness;
- ai-edge-litert (TFLite) with ``reference=True``: its reference kernels
  (``BUILTIN_REF``), bit-exact with tflite-micro; with ``reference=False``
  the default XNNPACK path, which is faster and not bit-exact; with
  ``reference=False, delegates=False`` TFLite's own optimised kernels
  without XNNPACK (``BUILTIN_WITHOUT_DEFAULT_DELEGATES``).

Both are optional (the ``test`` extra); importing them happens on first use.

A streaming model (an SVDF's variable state; input one frame) given a whole
clip ``(1, frames, bins, 1)`` is reset and fed the clip one frame per
invocation, as :meth:`tinykws.int8.runtime.Int8Runtime.run_clip` does; the
output after the last frame is the clip's.
"""

from __future__ import annotations

from typing import Callable

import numpy as np


def _is_streaming(model: bytes) -> bool:
    from tinykws.tflite.reader import parse_tflite

    return any(t.is_variable for t in parse_tflite(model).tensors)


def _invocations(x: np.ndarray, streaming: bool):
    """What to feed for one example: ``x`` itself, or a clip's frames ``(1, bins)`` in order."""
    if not streaming or x.ndim <= 2:
        return [x]
    return [np.ascontiguousarray(x[:, t].reshape(len(x), -1)) for t in range(x.shape[1])]


def tflm_runner(model: bytes) -> Callable[[np.ndarray], np.ndarray]:
    """tflite-micro on one example at a time: ``x (1, ...) -> output (1, ...)``."""
    from tflite_micro import runtime

    interpreter = runtime.Interpreter.from_bytes(model)
    streaming = _is_streaming(model)

    def run(x: np.ndarray) -> np.ndarray:
        frames = _invocations(x, streaming)
        if len(frames) > 1:
            interpreter.reset()
        for frame in frames:
            interpreter.set_input(frame, 0)
            interpreter.invoke()
        return interpreter.get_output(0)

    return run


def litert_runner(model: bytes, reference: bool = True, batch: int = 1,
                  threads: int = 1, delegates: bool = True) -> Callable[[np.ndarray], np.ndarray]:
    """ai-edge-litert with the reference kernels, XNNPACK, or (``delegates=False``)
    the optimised builtin kernels alone; input resized to ``batch``."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    if reference:
        kind = OpResolverType.BUILTIN_REF
    elif delegates:
        kind = OpResolverType.AUTO
    else:
        kind = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    interpreter = Interpreter(model_content=model, num_threads=threads,
                              experimental_op_resolver_type=kind)
    in_index = interpreter.get_input_details()[0]["index"]
    if batch != 1:
        shape = list(interpreter.get_input_details()[0]["shape"])
        interpreter.resize_tensor_input(in_index, [batch, *shape[1:]])
    interpreter.allocate_tensors()
    out_index = interpreter.get_output_details()[0]["index"]
    streaming = _is_streaming(model)

    def run(x: np.ndarray) -> np.ndarray:
        frames = _invocations(x, streaming)
        if len(frames) > 1:
            interpreter.reset_all_variables()
        for frame in frames:
            interpreter.set_tensor(in_index, frame)
            interpreter.invoke()
        return interpreter.get_tensor(out_index).copy()

    return run


def check_against_tflm(model: bytes, x: np.ndarray, ours: np.ndarray | None = None) -> dict | None:
    """Run ``model`` on every example of ``x`` (int8, batch first) in our runtime and in
    tflite-micro; ``{"examples", "bit_exact", "mismatches"}``, or None without tflite-micro.

    ``ours`` is our runtime's output on ``x`` when the caller has it already.

    Every output byte is compared. Used by the quantization and pruning
    studies to show each exported model runs the same on the device's
    interpreter.
    """
    try:
        tflm = tflm_runner(model)
    except ImportError:
        return None
    if ours is None:
        from tinykws.int8.runtime import Int8Runtime
        from tinykws.tflite.reader import parse_tflite

        ours = Int8Runtime(parse_tflite(model, "model.tflite")).run_clip(x)  # (N, K) int8
    mismatches = sum(int(not np.array_equal(tflm(x[i:i + 1]), ours[i:i + 1])) for i in range(len(x)))
    return {"examples": int(len(x)), "bit_exact": mismatches == 0, "mismatches": mismatches}


def tflm_arena_bytes(model: bytes) -> dict[str, int] | None:
    """The tensor arena tflite-micro allocates for ``model``: ``{"total", "head", "tail"}``.

    ``head`` is the planned activations and scratch, ``tail`` the persistent
    bookkeeping. The Python interpreter has no getter for them: its
    ``RecordingMicroAllocator`` prints them (from C++, to file descriptor 2),
    so the report is caught by pointing that descriptor at a temporary file.
    None without tflite-micro.
    """
    import os
    import re
    import sys
    import tempfile

    try:
        from tflite_micro import runtime
    except ImportError:
        return None
    interpreter = runtime.Interpreter.from_bytes(model)
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as report:
        os.dup2(report.fileno(), 2)
        try:
            interpreter.print_allocations()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        report.seek(0)
        text = report.read().decode(errors="replace")
    found = dict(re.findall(r"Arena allocation (total|head|tail) (\d+) bytes", text))
    return {key: int(found[key]) for key in ("total", "head", "tail")}
