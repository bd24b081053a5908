"""The training loop: batches from the data pipeline, backprop, checkpoints, resume.

Everything random (initial weights, batch sampling and augmentation,
dropout) draws from one ``np.random.Generator(PCG64(seed))``, so a run is
deterministic for its seed on one machine. Every ``eval_every`` steps the
loop scores the validation split and writes, atomically:

- ``RUN/last.npz``: weights, optimizer state, generator state, history — what
  ``resume=True`` continues from, so a run killed at any instant loses at
  most one evaluation interval and then finishes bit-identically;
- ``RUN/model.npz``: the best-validation weights so far.

At the end, the best model is scored on every split and ``metrics.json``,
``curves.png`` and ``confusion.png`` are written.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from tinykws.atomic import write_json
from tinykws.errors import TinyKWSError
from tinykws.nn.loss import softmax_cross_entropy
from tinykws.nn.model import Sequential, tiny_conv
from tinykws.train.checkpoint import load_checkpoint, save_checkpoint
from tinykws.train.metrics import accuracy, confusion_matrix, predict
from tinykws.train.optim import make_optimizer, piecewise_lr

# The two schedules of the assignment. Measured on real speech (the v0.02 test
# set re-split by speaker, 3,000 steps, seeds 0 and 1): TF's SGD schedule
# reached 91.6 / 92.0 % validation accuracy, Adam 91.3 / 90.9 % — so `tinykws
# train` defaults to TF's. Adam leads over the first ~1,000 steps (89.5 vs
# 86 % at step 500), so short runs (the quick report) use Adam.
TF_SGD_SCHEDULE = {"optimizer": "sgd", "boundaries": (12000, 15000), "learning_rates": (1e-3, 1e-4)}
ADAM_SCHEDULE = {"optimizer": "adam", "boundaries": (), "learning_rates": (1e-3,)}
DEFAULT_SCHEDULE = "tf"
DEFAULT_OPTIMIZER = "adam"  # of TrainConfig, the library's plain default
DEFAULT_STEPS = {"tf": 15000, "adam": 3000}


def schedule_settings(name: str, steps: int) -> dict:
    """The named schedule for a run of ``steps``; TF's keeps its 12,000 : 3,000 split."""
    if name == "tf":
        return dict(TF_SGD_SCHEDULE, boundaries=(round(steps * 0.8), steps))
    return dict(ADAM_SCHEDULE)


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 3000
    optimizer: str = DEFAULT_OPTIMIZER
    learning_rates: tuple[float, ...] = (1e-3,)
    boundaries: tuple[int, ...] = ()  # step counts where each rate ends; default: all steps
    batch_size: int = 100
    eval_every: int = 200
    seed: int = 0
    weight_decay: float | None = None  # None: 0 for SGD, 1e-4 for Adam

    def lr(self, step: int) -> float:
        boundaries = list(self.boundaries) or [self.steps]
        return piecewise_lr(step, boundaries, list(self.learning_rates))


def _rng_state(rng: np.random.Generator) -> str:
    return json.dumps(rng.bit_generator.state)


def _restore_rng(text: str) -> np.random.Generator:
    rng = np.random.Generator(np.random.PCG64())
    rng.bit_generator.state = json.loads(text)
    return rng


def train(pipeline, out_dir: str | Path, config: TrainConfig = TrainConfig(), *,
          resume: bool = False, progress: bool = True, data_info: dict | None = None) -> dict:
    """Train TinyConv on ``pipeline`` into ``out_dir``; returns the metrics dict."""
    from tqdm import tqdm

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    labels = list(pipeline.labels)
    rng = np.random.Generator(np.random.PCG64(config.seed))
    model = tiny_conv(len(labels), rng)
    optimizer = make_optimizer(config.optimizer, config.weight_decay)
    step, history, best_val, elapsed = 0, [], -1.0, 0.0
    last = out / "last.npz"
    if last.exists() and not resume:
        raise TinyKWSError(f"{out} already holds a training run; pass --resume to continue it "
                           "or choose another output folder")
    if resume and last.exists():
        model, meta, optim_state = load_checkpoint(last)
        _check_same_settings(meta["config"], asdict(config), last)
        optimizer.load_state(optim_state)
        rng = _restore_rng(meta["rng"])
        step, history, best_val, elapsed = meta["step"], meta["history"], meta["best_val"], meta["elapsed"]
    model.set_rng(rng)
    x_val, y_val = pipeline.split_arrays("validation")
    meta_base = {"labels": labels, "config": asdict(config), "data": data_info or {}}

    start = time.perf_counter() - elapsed
    window_loss, window_correct, window_seen = 0.0, 0, 0
    bar = tqdm(total=config.steps, initial=step, desc="training", unit="step", disable=not progress,
               mininterval=1.0)
    while step < config.steps:
        x, y = pipeline.training_batch(config.batch_size, rng)  # (B, 49, 40, 1), (B,)
        logits = model.forward(x, training=True)
        loss, dlogits = softmax_cross_entropy(logits, y)
        model.backward(dlogits)
        optimizer.step(model.parameters(), model.gradients(), config.lr(step))
        step += 1
        window_loss += loss * len(y)
        window_correct += int((logits.argmax(1) == y).sum())
        window_seen += len(y)
        bar.update(1)
        if step % 10 == 0:
            bar.set_postfix(loss=f"{loss:.3f}", acc=f"{window_correct / window_seen:.3f}", refresh=False)
        if step % config.eval_every == 0 or step == config.steps:
            val_acc, val_loss = evaluate(model, x_val, y_val)
            history.append({"step": step, "train_loss": window_loss / window_seen,
                            "train_accuracy": window_correct / window_seen,
                            "val_loss": val_loss, "val_accuracy": val_acc,
                            "lr": config.lr(step - 1), "seconds": time.perf_counter() - start})
            window_loss, window_correct, window_seen = 0.0, 0, 0
            if val_acc > best_val:
                best_val = val_acc
                save_checkpoint(out / "model.npz", model, {**meta_base, "step": step,
                                                           "val_accuracy": val_acc})
            save_checkpoint(last, model, {**meta_base, "step": step, "history": history,
                                          "best_val": best_val, "rng": _rng_state(rng),
                                          "elapsed": time.perf_counter() - start},
                            optimizer.state())
            bar.set_postfix(loss=f"{loss:.3f}", val=f"{val_acc:.3f}")
    bar.close()
    wall = time.perf_counter() - start
    return finish(pipeline, out, history, wall, config, meta_base)


def _check_same_settings(saved: dict, wanted: dict, path: Path) -> None:
    """A resumed run must continue the same run: only ``steps`` may change."""
    differ = sorted(k for k in wanted if k != "steps" and
                    json.loads(json.dumps(saved.get(k))) != json.loads(json.dumps(wanted[k])))
    if differ:
        raise TinyKWSError(f"cannot resume {path}: settings differ from the saved run "
                           f"({', '.join(differ)})")


def evaluate(model: Sequential, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """``(accuracy, mean loss)`` of ``model`` in inference mode."""
    logits = predict(model, x)
    loss, _ = softmax_cross_entropy(logits, y)
    return accuracy(logits, y), loss


def finish(pipeline, out: Path, history: list, wall: float, config: TrainConfig, meta: dict) -> dict:
    """Score the best checkpoint on every split and write metrics and plots."""
    from tinykws.plots.training import save_confusion, save_curves

    model, best_meta, _ = load_checkpoint(out / "model.npz")
    results = {}
    for split in ("training", "validation", "testing"):
        x, y = pipeline.split_arrays(split)
        logits = predict(model, x)
        results[split] = {"accuracy": accuracy(logits, y), "examples": int(len(y))}
        if split == "testing":
            cm = confusion_matrix(logits.argmax(1), y, len(pipeline.labels))
    metrics = {
        "labels": list(pipeline.labels), "config": asdict(config), "data": meta.get("data", {}),
        "history": history, "best_step": best_meta["step"],
        "accuracy": {k: v["accuracy"] for k, v in results.items()},
        "examples": {k: v["examples"] for k, v in results.items()},
        "test_confusion": cm.tolist(), "wall_seconds": wall,
        "steps_per_second": config.steps / wall if wall > 0 else None,
    }
    write_json(out / "metrics.json", metrics)
    save_curves(history, out / "curves.png")
    save_confusion(cm, list(pipeline.labels), out / "confusion.png", title="Test split")
    return metrics
