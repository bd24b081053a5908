"""Where a keyword spotter operates: keyword recall against false accepts, set by one bias.

A classifier's argmax is one operating point. Adding ``b`` to the
``_unknown_`` logit moves it: ``b > 0`` makes the model say ``_unknown_``
more readily (fewer false accepts, lower keyword recall), ``b < 0`` the
opposite. In Bayesian terms ``b`` is a log prior ratio, the same knob the
training priors turn (:mod:`tinykws.data.sampling`), but it needs no
retraining, and it is deployable as it is: it is added to the dense layer's
``_unknown_`` bias, so the exported TinyConv graph does not change
(:func:`with_unknown_bias`).

:func:`operating_curve` sweeps ``b`` and gives, at each value, every
keyword's recall and the false-accept rate; :func:`bias_for_false_accepts`
picks, on *validation* speakers, the smallest ``b`` whose false-accept rate
is at most a target, to be judged on test speakers it never saw.
"""

from __future__ import annotations

import numpy as np

from tinykws.data.speech_commands import UNKNOWN_INDEX
from tinykws.train.metrics import NON_KEYWORDS

BIASES = np.round(np.arange(-4.0, 8.01, 0.25), 2)  # logit units


def shifted_predictions(logits: np.ndarray, bias: float) -> np.ndarray:
    """``argmax(logits + bias * e_unknown)``: ``(N, K)`` -> ``(N,)``."""
    z = np.array(logits, np.float64)
    z[:, UNKNOWN_INDEX] += bias
    return z.argmax(1)


def false_accept_rate(predicted: np.ndarray, labels: np.ndarray) -> float:
    non_keyword = labels < NON_KEYWORDS
    return float(np.mean(predicted[non_keyword] >= NON_KEYWORDS)) if non_keyword.any() else float("nan")


def operating_curve(logits: np.ndarray, labels: np.ndarray, names, biases=BIASES) -> list[dict]:
    """At each bias: ``{"bias", "false_accepts", "recall": {keyword: r}, "balanced_accuracy"}``."""
    from tinykws.train.metrics import balanced_accuracy

    points = []
    for b in biases:
        p = shifted_predictions(logits, float(b))
        recall = {names[c]: float(np.mean(p[labels == c] == c)) for c in range(NON_KEYWORDS, len(names))
                  if np.any(labels == c)}
        points.append({"bias": float(b), "false_accepts": false_accept_rate(p, labels), "recall": recall,
                       "balanced_accuracy": balanced_accuracy(p, labels, len(names))})
    return points


def bias_for_false_accepts(logits: np.ndarray, labels: np.ndarray, target: float,
                           biases=BIASES) -> float:
    """The smallest bias of the grid whose false-accept rate on these clips is at most ``target``
    (the largest of the grid if none is)."""
    for b in biases:
        if false_accept_rate(shifted_predictions(logits, float(b)), labels) <= target:
            return float(b)
    return float(biases[-1])


def with_unknown_bias(model, bias: float):
    """``model`` with ``bias`` added to its last layer's ``_unknown_`` bias (in place; returned)."""
    model.layers[-1].params["bias"][UNKNOWN_INDEX] += np.float32(bias)
    return model
