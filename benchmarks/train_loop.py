"""The whole training loop at batch 100, steps per second: ours vs PyTorch fed our features.

One step of ours is what :func:`tinykws.train.loop.train` does per step:
sampling, TF's augmentation (time shift, background noise, clip), the micro
frontend on the 100 fresh clips, forward, backward and Adam
(:meth:`tinykws.data.pipeline.FeaturePipeline.training_batch`, then the
model and optimizer of ``train_step``), under the loop's single-threaded
BLAS. The data is ``../shared/speech_synth`` beside the repository (or the
folder in ``TINYKWS_BENCH_DATA``); without it the suite is skipped.

The peer is PyTorch running the same model and optimizer step after step on
batches whose features our pipeline computed beforehand (one batch per step,
cycled), so its loop is the network and the copy into tensors only: the
ratio sets our whole loop against PyTorch's network alone. Threads follow
``--threads`` for Numba and PyTorch alike; the loop's target is 2 cores
(``python -m benchmarks --threads 2 --only train_loop``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from benchmarks.timing import compare, row
from benchmarks.train_step import torch_tiny_conv, to_torch

BATCH = 100
PEER_BATCHES = 20  # precomputed batches the peer cycles through


def data_folder() -> Path | None:
    """The Speech Commands folder to train on, or None when there is none."""
    folder = Path(os.environ.get("TINYKWS_BENCH_DATA") or
                  Path(__file__).resolve().parents[2] / "shared" / "speech_synth")
    return folder if folder.is_dir() else None


def _ours(pipeline, rng):
    from tinykws.nn.loss import softmax_cross_entropy
    from tinykws.nn.model import tiny_conv
    from tinykws.train.optim import Adam

    model, opt = tiny_conv(len(pipeline.labels), rng), Adam()
    model.set_rng(rng)

    def step():
        x, y = pipeline.training_batch(BATCH, rng)  # (100, 49, 40, 1), (100,)
        logits = model.forward(x, training=True)
        _, grad = softmax_cross_entropy(logits, y)
        model.backward(grad)
        opt.step(model.parameters(), model.gradients(), 1e-3)
    return step


def _torch(pipeline, rng, threads):
    step = torch_tiny_conv(threads)
    batches = [to_torch(*pipeline.training_batch(BATCH, rng)) for _ in range(PEER_BATCHES)]
    cycle = iter(range(1 << 62))

    def loop_step():
        x, y = batches[next(cycle) % PEER_BATCHES]
        step(x, y)
    return loop_step


def run(quick: bool) -> list[dict]:
    from tinykws.data.pipeline import FeaturePipeline
    from tinykws.data.speech_commands import index_speech_commands
    from tinykws.train.loop import single_threaded_blas

    folder = data_folder()
    if folder is None:
        return []
    pipeline = FeaturePipeline(index_speech_commands(folder, ("yes", "no")))
    threads = int(os.environ.get("OMP_NUM_THREADS", "1"))
    contenders = {"tinykws": _ours(pipeline, np.random.default_rng(0))}
    try:
        contenders["pytorch cpu"] = _torch(pipeline, np.random.default_rng(1), threads)
    except ImportError:
        return []
    with single_threaded_blas():
        t = compare(contenders, repeats=5 if quick else 25, warmup=40)  # warm-up loads every clip
    return [row(f"training loop, batch {BATCH}, {threads} thread{'s' if threads > 1 else ''}",
                "tinykws (sampling + augmentation + features + step)",
                "pytorch cpu (step on precomputed features)", 1 / t["tinykws"], 1 / t["pytorch cpu"],
                "steps / s", True, threads=threads, data=str(folder))]


if __name__ == "__main__":
    from benchmarks.__main__ import markdown_table

    print(markdown_table(run(quick=False)))
