"""SGD and Adam, updating a dict of parameter arrays in place.

- SGD, as TF's ``GradientDescentOptimizer`` in ``speech_commands/train.py``:
  ``p -= lr * g``.
- Adam (Kingma & Ba, 2015) with L2 weight decay as PyTorch's
  ``Adam(weight_decay=wd)`` applies it — added to the gradient, ``g + wd * p``,
  before the moment estimates (not AdamW's decoupled decay):
  ``m = b1 m + (1-b1) g``, ``v = b2 v + (1-b2) g^2``,
  ``p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)``.

``state()`` / ``load_state()`` round-trip everything a resumed run needs.
"""

from __future__ import annotations

import numpy as np


class SGD:
    name = "sgd"

    def __init__(self, weight_decay: float = 0.0):
        self.weight_decay = weight_decay
        self.t = 0

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray], lr: float) -> None:
        self.t += 1
        for k, p in params.items():
            g = grads[k] + self.weight_decay * p if self.weight_decay else grads[k]
            p -= np.asarray(lr * g, p.dtype)

    def state(self) -> dict[str, np.ndarray]:
        return {"t": np.array(self.t)}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        self.t = int(state["t"])


class Adam:
    name = "adam"

    def __init__(self, weight_decay: float = 1e-4, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8):
        self.weight_decay, self.beta1, self.beta2, self.eps = weight_decay, beta1, beta2, eps
        self.t = 0
        self.m: dict[str, np.ndarray] = {}
        self.v: dict[str, np.ndarray] = {}

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray], lr: float) -> None:
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        for k, p in params.items():
            g = grads[k] + self.weight_decay * p
            m = self.m.setdefault(k, np.zeros_like(p))
            v = self.v.setdefault(k, np.zeros_like(p))
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            m_hat = m / (1 - b1 ** self.t)
            v_hat = v / (1 - b2 ** self.t)
            p -= np.asarray(lr * m_hat / (np.sqrt(v_hat) + self.eps), p.dtype)

    def state(self) -> dict[str, np.ndarray]:
        out = {"t": np.array(self.t)}
        out.update({f"m/{k}": v for k, v in self.m.items()})
        out.update({f"v/{k}": v for k, v in self.v.items()})
        return out

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        self.t = int(state["t"])
        self.m = {k[2:]: np.array(v) for k, v in state.items() if k.startswith("m/")}
        self.v = {k[2:]: np.array(v) for k, v in state.items() if k.startswith("v/")}


def make_optimizer(name: str, weight_decay: float | None = None):
    if name == "sgd":
        return SGD(0.0 if weight_decay is None else weight_decay)
    if name == "adam":
        return Adam(1e-4 if weight_decay is None else weight_decay)
    raise ValueError(f"unknown optimizer {name!r}")


def piecewise_lr(step: int, boundaries: list[int], rates: list[float]) -> float:
    """Learning rate at ``step`` (0-based): ``rates[i]`` until ``boundaries[i]`` steps are done.

    TF's schedule ``--how_many_training_steps=12000,3000 --learning_rate=0.001,0.0001``
    is ``boundaries=[12000, 15000], rates=[1e-3, 1e-4]``.
    """
    for boundary, rate in zip(boundaries, rates):
        if step < boundary:
            return rate
    return rates[-1]
