"""The device's listening loop, off the device: 20 ms slices in, int8 scores out.

micro_speech's main loop (``feature_provider.cc``, ``micro_features_generator.cc``)
does, every time new audio has arrived:

1. hand the frontend the newest 20 ms slice (the very first time, 30 ms: one
   whole window); the frontend keeps its noise estimate and the 10 ms of
   overlap between windows, so each call yields one 40-channel frame;
2. turn the frame's uint16 values into int8 model input
   (:func:`tinykws.features.model_input.to_int8_model_input`) and append it to
   a ring of the last 49 frames (1 s);
3. run the int8 model on those 49 frames and pass its int8 scores, with the
   time of the newest audio, to ``RecognizeCommands``.

:class:`StreamingFrontend` is step 1 as the device runs it, one slice at a
time, on the readable reference stages. Because the frontend's only state is
that overlap and the noise estimate, it yields exactly the frames of the
frontend run once over the whole recording; the tests prove it bit for bit,
so :func:`stream_scores` may use the fast whole-recording kernel and then run
our int8 runtime over all 1 s windows at once. Every run also compares a
sample of windows against tflite-micro (:func:`check_windows`).
"""

from __future__ import annotations

import numpy as np

from tinykws.errors import TinyKWSError
from tinykws.features.micro_frontend import MicroFrontendConfig
from tinykws.features.model_input import to_int8_model_input
from tinykws.features.spec import MICRO_DEFAULT

WINDOW_FRAMES = 49  # micro_speech's kFeatureSliceCount


class StreamingFrontend:
    """The micro frontend fed audio as it arrives, as ``window.c`` buffers it.

    :meth:`push` takes any number of new int16 samples and returns the frames
    they complete ``(frames, channels)`` uint16: a frame whenever a whole
    window is buffered, after which the window moves on by one stride.
    """

    def __init__(self, config: MicroFrontendConfig = MicroFrontendConfig()):
        from tinykws.features.micro_frontend.tables import frontend_tables

        self.config = config
        self.tables = frontend_tables(config)
        self.buffer = np.zeros(0, np.int16)  # samples not yet consumed by a window
        self.estimate = np.zeros(config.num_channels, np.uint64)  # the noise estimate

    def push(self, samples: np.ndarray) -> np.ndarray:
        from tinykws.features.micro_frontend.driver import frame_features

        c = self.config
        self.buffer = np.concatenate([self.buffer, np.asarray(samples, np.int16)])
        frames = []
        while len(self.buffer) >= c.window_size:
            frame, self.estimate = frame_features(self.buffer[:c.window_size], self.estimate,
                                                  self.tables, c)
            frames.append(frame)
            self.buffer = self.buffer[c.stride:]
        return np.array(frames, np.uint16).reshape(-1, c.num_channels)


def device_slices(samples: np.ndarray, config: MicroFrontendConfig = MicroFrontendConfig()):
    """The audio as micro_speech hands it to the frontend: one window, then one stride at a time."""
    yield samples[:config.window_size]
    for start in range(config.window_size, len(samples), config.stride):
        yield samples[start:start + config.stride]


def window_end_ms(count: int, config: MicroFrontendConfig = MicroFrontendConfig()) -> np.ndarray:
    """Time of the newest audio in each of ``count`` 1 s windows: ``(count,)`` int64 ms.

    Window ``t`` holds frames ``t .. t + 48``; its last frame ends at
    ``(t + 48) * stride + window`` ms, when the device runs the model on it.
    """
    return ((np.arange(count) + WINDOW_FRAMES - 1) * config.stride_ms + config.window_ms).astype(np.int64)


def int8_windows(samples: np.ndarray, config: MicroFrontendConfig = MicroFrontendConfig()) -> np.ndarray:
    """Every 1 s window of model input the device sees: ``(T, 49, channels, 1)`` int8 (a view)."""
    from tinykws.features.micro_frontend import micro_features_numba

    if len(samples) < 16000:
        raise TinyKWSError(f"a recording of {len(samples) / 16000:.3f} s is shorter than one "
                           "1 s window")
    q = to_int8_model_input(micro_features_numba(np.ascontiguousarray(samples, np.int16), config))
    windows = np.lib.stride_tricks.sliding_window_view(q, (WINDOW_FRAMES, config.num_channels))
    return windows[:, 0, :, :, None]  # (T, 49, 40, 1)


def stream_scores(runtime, samples: np.ndarray, batch: int = 1024, progress=None):
    """Our int8 runtime on every window: ``(times_ms (T,), scores (T, labels) int8, windows)``.

    A streaming model (an SVDF) runs as the device would run it: one frame per
    call over the whole recording, one window's scores after each frame.
    """
    windows = int8_windows(samples)
    if runtime.is_streaming and _memory_frames(runtime) <= WINDOW_FRAMES:
        return window_end_ms(len(windows)), _streamed(runtime, windows, progress), windows
    out = []
    for i in range(0, len(windows), batch):
        out.append(runtime.run_clip(np.ascontiguousarray(windows[i:i + batch])))
        if progress is not None:
            progress.update(min(batch, len(windows) - i))
    return window_end_ms(len(windows)), np.concatenate(out), windows


def _memory_frames(runtime) -> int:
    """The longest memory of the runtime's SVDFs, in frames."""
    return max(op.params.weights_time.shape[1] for op in runtime.ops if op.state is not None)


def _streamed(runtime, windows: np.ndarray, progress=None) -> np.ndarray:
    """Scores of every window from one pass over the frames: after frame ``t`` the
    state holds frames ``t - memory + 1 .. t`` (older ones have left it), which is
    what running window ``t`` alone from a fresh state leaves, so the output is
    the same, bit for bit."""
    frames = np.concatenate([windows[0, :, :, 0], windows[1:, -1, :, 0]])  # (T + 48, 40)
    runtime.reset_state()
    scores = []
    for t, frame in enumerate(frames):
        y = runtime.run(np.ascontiguousarray(frame[None]))
        if t >= WINDOW_FRAMES - 1:
            scores.append(y)
            if progress is not None:
                progress.update(1)
    runtime.reset_state()
    return np.concatenate(scores)  # (T, labels) int8


def check_windows(blob: bytes, windows: np.ndarray, ours: np.ndarray, count: int = 32,
                  seed: int = 0) -> dict | None:
    """Run ``count`` windows drawn at random in tflite-micro and compare every score byte.

    ``{"windows", "bit_exact", "mismatches", "checked"}``, or None without tflite-micro.
    """
    from tinykws.tflite.interpreters import check_against_tflm

    pick = np.sort(np.random.default_rng(seed).choice(len(windows), min(count, len(windows)),
                                                       replace=False))
    result = check_against_tflm(blob, np.ascontiguousarray(windows[pick]), ours=ours[pick])
    return None if result is None else {**result, "windows": [int(i) for i in pick[:8]]}


def int8_model_of_run(run, data: str | None = None, resplit_salt: str | None = None,
                      calibration: int = 200):
    """``(blob, labels, pipeline)``: a run's model quantized exactly as ``tinykws convert`` does."""
    from tinykws.quant.ptq import quantize_model
    from tinykws.tflite.writer import serialize_tflite
    from tinykws.train.evaluate import calibration_set, open_run

    model, meta, pipeline = open_run(run, data, resplit_salt)
    if pipeline.spec != MICRO_DEFAULT:
        raise TinyKWSError(f"{run}: the device stream runs micro_speech's frontend; this run was "
                           f"trained on {pipeline.spec.describe()} features")
    graph = quantize_model(model, calibration_set(pipeline, calibration))
    return serialize_tflite(graph), list(meta["labels"]), pipeline
