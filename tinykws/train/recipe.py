"""The training recipe: the one place that says how ``tinykws train``, the report and the studies train.

A recipe is a :class:`~tinykws.train.loop.TrainConfig`: optimizer and
learning-rate schedule, steps, batch size, and the augmentation. Two
schedules come from the assignment:

- ``"tf"``: TensorFlow's ``train.py`` — plain SGD, 12,000 steps at 1e-3
  then 3,000 at 1e-4, batch 100; scaled to other lengths by keeping the
  4 : 1 split;
- ``"adam"``: the course's Adam, 1e-3, weight decay 1e-4.

:data:`DEFAULT_RECIPE` is what ``tinykws train`` runs with no flags. It was
chosen by speaker-disjoint cross-validation on real speech (the README's
ablation table, ``tinykws cv``), not by a single split.
"""

from __future__ import annotations

import math
from dataclasses import replace

from tinykws.errors import TinyKWSError
from tinykws.train.loop import TrainConfig

SCHEDULES = {
    "tf": {"optimizer": "sgd", "learning_rates": (1e-3, 1e-4), "tail": 0.2},
    "adam": {"optimizer": "adam", "learning_rates": (1e-3,), "tail": 0.0},
}

DEFAULT_RECIPE = TrainConfig()  # TrainConfig's defaults are the recipe, in one place
DEFAULT_SCHEDULE = "adam"
DEFAULT_STEPS = DEFAULT_RECIPE.steps


def schedule_settings(name: str, steps: int) -> dict:
    """``{"optimizer", "learning_rates", "boundaries"}`` of a named schedule for a run of ``steps``."""
    if name not in SCHEDULES:
        raise TinyKWSError(f"unknown schedule {name!r}; choose from {', '.join(SCHEDULES)}")
    s = SCHEDULES[name]
    boundaries = (round(steps * (1 - s["tail"])), steps) if s["tail"] else ()
    return {"optimizer": s["optimizer"], "learning_rates": s["learning_rates"],
            "boundaries": boundaries}


def steps_for(epochs: float, training_examples: int, batch_size: int) -> int:
    """Steps that draw ``epochs`` times as many examples as the training split holds."""
    if not epochs > 0:
        raise TinyKWSError("--epochs must be positive")
    return max(1, math.ceil(epochs * training_examples / batch_size))


def make_config(*, schedule: str | None = None, steps: int | None = None,
                optimizer: str | None = None, learning_rates: tuple[float, ...] | None = None,
                boundaries: tuple[int, ...] | None = None, **fields) -> TrainConfig:
    """The default recipe with what is asked changed.

    ``schedule`` (with ``steps``) sets optimizer and rates first; then
    ``optimizer``, ``learning_rates`` and ``boundaries`` override them; any
    other :class:`TrainConfig` field (``batch_size``, ``eval_every``,
    ``seed``, ``weight_decay``, ``augmentation``) is passed through.
    """
    steps = DEFAULT_STEPS if steps is None else steps
    if steps < 1:
        raise TinyKWSError("--steps must be at least 1")
    settings = schedule_settings(schedule or DEFAULT_SCHEDULE, steps)
    if optimizer is not None:
        settings["optimizer"] = optimizer
    if learning_rates is not None:
        settings["learning_rates"] = tuple(learning_rates)
        settings["boundaries"] = tuple(boundaries or ())
    if settings["boundaries"] and len(settings["boundaries"]) != len(settings["learning_rates"]):
        raise TinyKWSError("--lr-steps needs one value per --lr value")
    for name in ("batch_size", "eval_every"):
        if name in fields and fields[name] < 1:
            raise TinyKWSError(f"--{name.replace('_', '-')} must be at least 1")
    return replace(DEFAULT_RECIPE, steps=steps, optimizer=settings["optimizer"],
                   learning_rates=tuple(settings["learning_rates"]),
                   boundaries=tuple(settings["boundaries"]), **fields)
