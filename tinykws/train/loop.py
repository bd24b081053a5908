"""The training loop: batches from the data pipeline, backprop, checkpoints, resume.

Everything random (initial weights, batch sampling and augmentation,
dropout) draws from one ``np.random.Generator(PCG64(seed))``, so a run is
deterministic for its seed on one machine. Every ``eval_every`` steps the
loop scores the validation split and writes, atomically:

- ``RUN/last.npz``: weights, optimizer state, generator state, history — what
  ``resume=True`` continues from, so a run killed at any instant loses at
  most one evaluation interval and then finishes bit-identically;
- ``RUN/model.npz``: the weights with the best *balanced* validation
  accuracy so far (mean per-class recall, which answering ``_unknown_`` to
  everything cannot win; ties keep the earlier state).

At the end, the best model is scored on every split
(:func:`tinykws.train.metrics.classification_report`: per-class recall and
precision, balanced accuracy, false accepts, intervals) and ``metrics.json``,
``curves.png`` and ``confusion.png`` are written.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from tinykws.atomic import write_json
from tinykws.resume import jsonable
from tinykws.data.augment import TF_AUGMENTATION, Augmentation
from tinykws.errors import TinyKWSError
from tinykws.features.spec import MICRO_DEFAULT, FeatureSpec
from tinykws.nn.loss import softmax_cross_entropy
from tinykws.nn.model import Sequential
from tinykws.nn.zoo import build_model
from tinykws.train.checkpoint import load_checkpoint, save_checkpoint
from tinykws.train.metrics import accuracy, balanced_accuracy, classification_report, predict
from tinykws.train.optim import make_optimizer, piecewise_lr
from tinykws.train.pretrain import keyword_head, pretrain_words, relabel


@dataclass(frozen=True)
class TrainConfig:
    """One training run's settings. The defaults are the recipe (:mod:`tinykws.train.recipe`)."""

    steps: int = 3000
    optimizer: str = "adam"
    learning_rates: tuple[float, ...] = (1e-3,)
    boundaries: tuple[int, ...] = ()  # step counts where each rate ends; default: all steps
    batch_size: int = 100
    eval_every: int = 200
    seed: int = 0
    weight_decay: float | None = None  # None: 0 for SGD, 1e-4 for Adam
    augmentation: Augmentation = TF_AUGMENTATION
    pretrain_steps: int = 0  # the first steps train every word as a label (tinykws.train.pretrain)
    pretrain_words: tuple[str, ...] = ("all",)  # those labels' words; "all": every word folder
    model: str = "tiny_conv"  # a name of tinykws.nn.zoo.MODELS
    features: FeatureSpec = MICRO_DEFAULT  # the model input; its model takes spec.shape + (1,)

    def lr(self, step: int) -> float:
        boundaries = list(self.boundaries) or [self.steps]
        return piecewise_lr(step, boundaries, list(self.learning_rates))


def _rng_state(rng: np.random.Generator) -> str:
    return json.dumps(rng.bit_generator.state)


def _restore_rng(text: str) -> np.random.Generator:
    rng = np.random.Generator(np.random.PCG64())
    rng.bit_generator.state = json.loads(text)
    return rng


def single_threaded_blas():
    """A context in which the BLAS runs on one thread (a no-op without ``threadpoolctl``).

    A training step's matrix products are small (100 x 4000 by 4000 x 4), and
    a second BLAS thread only competes for the cores with the Numba kernels'
    threads (the frontend, the convolution), which do the real work: on 2
    cores the loop ran up to twice as fast with it pinned.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def train(pipeline, out_dir: str | Path, config: TrainConfig = TrainConfig(), *,
          resume: bool = False, progress: bool = True, data_info: dict | None = None) -> dict:
    """Train ``config.model`` (TinyConv by default) on ``pipeline`` into ``out_dir``; returns the metrics dict."""
    from tqdm import tqdm

    out = Path(out_dir)
    spec = config.features
    computed = getattr(pipeline, "spec", MICRO_DEFAULT)  # a stand-in pipeline: micro features
    if computed != spec:
        raise TinyKWSError(f"the pipeline computes {computed.describe()} features, the run "
                           f"asks for {spec.describe()}")
    labels = list(pipeline.labels)
    pre = _pretrain_pipeline(pipeline, config)  # None without pre-training
    rng = np.random.Generator(np.random.PCG64(config.seed))
    model = build_model(config.model, len(pre.labels) if pre is not None else len(labels), rng,
                        (*spec.shape, 1))  # a model that cannot take the shape: TinyKWSError
    out.mkdir(parents=True, exist_ok=True)
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
    pipeline.augmentation = config.augmentation  # the run's augmentation is part of its config
    x_val, y_val = pipeline.split_arrays("validation")
    meta_base = {"labels": labels, "config": asdict(config), "data": data_info or {},
                 "feature_spec": spec.to_dict()}  # what convert, listen and eval compute

    def save_last():
        save_checkpoint(last, model, {**meta_base, "labels": list(phase.labels), "step": step,
                                      "history": history, "best_val": best_val, "rng": _rng_state(rng),
                                      "elapsed": time.perf_counter() - start}, optimizer.state())

    start = time.perf_counter() - elapsed
    window_loss, window_correct, window_seen = 0.0, 0, 0
    bar = tqdm(total=config.steps, initial=step, desc="training", unit="step", disable=not progress,
               mininterval=1.0)
    with single_threaded_blas():
        while step < config.steps:
            phase = pre if pre is not None and step < config.pretrain_steps else pipeline
            x, y = phase.training_batch(config.batch_size, rng)  # (B, 49, 40, 1), (B,)
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
            if phase is pre and step == config.pretrain_steps:  # pre-training ends: the deployed head
                model = keyword_head(model, pre.labels, tuple(labels))
                model.set_rng(rng)
                optimizer = make_optimizer(config.optimizer, config.weight_decay)
                phase = pipeline
                save_last()
            if step % config.eval_every == 0 or step == config.steps:
                x_eval, y_eval = (x_val, y_val) if phase is pipeline else phase.split_arrays("validation")
                val = evaluate(model, x_eval, y_eval)
                history.append({"step": step, "train_loss": window_loss / window_seen,
                                "train_accuracy": window_correct / window_seen,
                                "val_loss": val["loss"], "val_accuracy": val["accuracy"],
                                "val_balanced_accuracy": val["balanced_accuracy"],
                                "lr": config.lr(step - 1), "seconds": time.perf_counter() - start,
                                "phase": "pretrain" if phase is pre else "train"})
                window_loss, window_correct, window_seen = 0.0, 0, 0
                if phase is pipeline and val["balanced_accuracy"] > best_val:
                    best_val = val["balanced_accuracy"]
                    save_checkpoint(out / "model.npz", model, {**meta_base, "step": step,
                                                               "val_accuracy": val["accuracy"],
                                                               "val_balanced_accuracy": best_val})
                save_last()
                bar.set_postfix(loss=f"{loss:.3f}", val_bal=f"{val['balanced_accuracy']:.3f}")
    bar.close()
    wall = time.perf_counter() - start
    return finish(pipeline, out, history, wall, config, meta_base)


def _pretrain_pipeline(pipeline, config: TrainConfig):
    """The many-way pipeline of the pre-training steps (same splits, every word a label), or None."""
    if config.pretrain_steps <= 0:
        return None
    if not 0 < config.pretrain_steps < config.steps:
        raise TinyKWSError(f"pre-training steps ({config.pretrain_steps}) must be fewer than the "
                           f"training steps ({config.steps})")
    from tinykws.data.pipeline import FeaturePipeline

    words = pretrain_words(pipeline.index, tuple(config.pretrain_words))
    pre = FeaturePipeline(relabel(pipeline.index, words), pipeline.features,
                          spec=getattr(pipeline, "spec", MICRO_DEFAULT))
    pre.augmentation = config.augmentation
    return pre


def _check_same_settings(saved: dict, wanted: dict, path: Path) -> None:
    """A resumed run must continue the same run: only ``steps`` may change."""
    # Runs from before the zoo are TinyConv, from before the feature modes micro_speech's.
    saved = {"model": "tiny_conv", "features": MICRO_DEFAULT.to_dict(), **saved}
    if jsonable(saved["features"]) != jsonable(wanted["features"]):
        raise TinyKWSError(f"cannot resume {path}: it was trained on "
                           f"{_describe_features(saved['features'])} features, not "
                           f"{_describe_features(wanted['features'])}")
    differ = sorted(k for k in wanted if k != "steps" and
                    json.loads(json.dumps(saved.get(k))) != json.loads(json.dumps(wanted[k])))
    if differ:
        raise TinyKWSError(f"cannot resume {path}: settings differ from the saved run "
                           f"({', '.join(differ)})")


def _describe_features(settings) -> str:
    try:
        return FeatureSpec.from_dict(settings).describe()
    except (TinyKWSError, TypeError):
        return repr(settings)[:80]


def settings_record(config: TrainConfig) -> dict:
    """``asdict(config)`` as a study's settings: micro_speech's features left out, so that a
    study started before the feature modes existed still resumes."""
    d = asdict(config)
    if config.features == MICRO_DEFAULT:
        del d["features"]
    return d


def evaluate(model: Sequential, x: np.ndarray, y: np.ndarray) -> dict:
    """Accuracy, balanced accuracy and mean loss of ``model`` in inference mode."""
    logits = predict(model, x)
    loss, _ = softmax_cross_entropy(logits, y)
    return {"accuracy": accuracy(logits, y), "loss": loss,
            "balanced_accuracy": balanced_accuracy(logits.argmax(1), y, logits.shape[1])}


def finish(pipeline, out: Path, history: list, wall: float, config: TrainConfig, meta: dict) -> dict:
    """Score the best checkpoint on every split and write metrics and plots."""
    from tinykws.plots.training import save_confusion, save_curves

    model, best_meta, _ = load_checkpoint(out / "model.npz")
    labels = list(pipeline.labels)
    shares = pipeline.class_shares
    reports = {}
    for split in ("training", "validation", "testing"):
        x, y = pipeline.split_arrays(split)
        reports[split] = classification_report(predict(model, x).argmax(1), y, labels, *shares)
    cm = np.array(reports["testing"]["confusion"])
    metrics = {
        "labels": labels, "config": asdict(config), "data": meta.get("data", {}),
        "history": history, "best_step": best_meta["step"],
        "accuracy": {k: r["accuracy"]["value"] for k, r in reports.items()},
        "balanced_accuracy": {k: r["balanced_accuracy"]["value"] for k, r in reports.items()},
        "examples": {k: r["examples"] for k, r in reports.items()},
        "reports": reports,
        "test_confusion": cm.tolist(), "wall_seconds": wall,
        "steps_per_second": config.steps / wall if wall > 0 else None,
    }
    write_json(out / "metrics.json", metrics)
    save_curves(history, out / "curves.png")
    save_confusion(cm, labels, out / "confusion.png", title="Test split")
    return metrics
