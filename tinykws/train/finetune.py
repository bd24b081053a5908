"""Fine-tuning a trained model: a short run of the training loop, keeping the best validation state.

Quantization-aware training and pruning both start from a trained float
model and train it a little more under a constraint — weights seen through a
fake quantizer, or pruned weights held at zero. This is that loop: batches
from the same augmented pipeline as training, Adam, and every
``eval_every`` steps a look at *balanced* validation accuracy (mean
per-class recall, as the training loop selects); the state with the best
one is restored at the end (so a fine-tune can never end worse on
validation than where it started, which it also scores).

``after_step(model)`` runs after every update: pruning re-applies its masks
there. The best state is kept by the ``snapshot(model)`` and
``restore(model, state)`` callables: by default a copy of
:meth:`Sequential.parameters` put back with :meth:`Sequential.load_parameters`;
quantization-aware training passes :func:`tinykws.quant.qat.snapshot` and
:func:`tinykws.quant.qat.restore`, which also keep the fake quantizers'
running ranges.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from tinykws.nn.loss import softmax_cross_entropy
from tinykws.nn.model import Sequential
from tinykws.train.metrics import balanced_accuracy, predict
from tinykws.train.optim import Adam


@dataclass(frozen=True)
class FinetuneConfig:
    steps: int = 600
    learning_rate: float = 3e-4
    batch_size: int = 100
    eval_every: int = 100
    seed: int = 0


def finetune(model: Sequential, pipeline, config: FinetuneConfig = FinetuneConfig(), *,
             after_step: Callable[[Sequential], None] | None = None,
             snapshot: Callable[[Sequential], object] | None = None,
             restore: Callable[[Sequential, object], None] | None = None,
             progress: bool = True, desc: str = "fine-tuning") -> dict:
    """Fine-tune ``model`` in place; returns ``{"history", "best_step", "val_balanced_accuracy"}``.

    ``snapshot(model)`` / ``restore(model, state)`` default to copying the
    parameters; pass richer ones when a model carries more state.
    """
    from tqdm import tqdm

    snapshot = snapshot or (lambda m: {k: v.copy() for k, v in m.parameters().items()})
    restore = restore or (lambda m, s: m.load_parameters(s))
    rng = np.random.Generator(np.random.PCG64(config.seed))
    model.set_rng(rng)
    optimizer = Adam(weight_decay=0.0)
    x_val, y_val = pipeline.split_arrays("validation")

    def score() -> float:
        if not len(y_val):
            return float("nan")
        logits = predict(model, x_val)
        return balanced_accuracy(logits.argmax(1), y_val, logits.shape[1])

    best_acc = score()
    best_state, best_step = snapshot(model), 0
    history = [{"step": 0, "val_balanced_accuracy": best_acc}]
    for step in tqdm(range(1, config.steps + 1), desc=desc, unit="step", disable=not progress,
                     mininterval=1.0, leave=False):
        x, y = pipeline.training_batch(config.batch_size, rng)  # (B, 49, 40, 1), (B,)
        logits = model.forward(x, training=True)
        loss, dlogits = softmax_cross_entropy(logits, y)
        model.backward(dlogits)
        optimizer.step(model.parameters(), model.gradients(), config.learning_rate)
        if after_step is not None:
            after_step(model)
        if step % config.eval_every == 0 or step == config.steps:
            acc = score()
            history.append({"step": step, "train_loss": float(loss), "val_balanced_accuracy": acc})
            if acc > best_acc:
                best_acc, best_state, best_step = acc, snapshot(model), step
    restore(model, best_state)
    return {"history": history, "best_step": best_step, "val_balanced_accuracy": best_acc}
