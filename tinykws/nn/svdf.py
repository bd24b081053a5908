"""SVDF: a rank-constrained filter over frequency and time, forward beside backward.

The first layer of TensorFlow's ``low_latency_svdf`` (speech_commands'
``create_low_latency_svdf_model``; Nakkiran et al., 2015, "Compressing deep
neural networks using a rank-constrained topology"). A dense layer over a
whole ``frames x bins`` spectrogram would hold ``units * frames * bins``
weights; the SVDF factors each unit's filter into ``rank`` outer products of
a frequency filter and a time filter. With ``F = units * rank`` filters:

- **feature filter**, per frame: ``a[t, f] = sum_b weights_feature[f, b] * x[t, b]``
  (``weights_feature: (F, bins)``, TFLite's layout);
- **time filter**, over the last ``memory`` frames (oldest first, so
  ``weights_time[:, -1]`` weighs the newest): ``s[f] = sum_t weights_time[f, t] * a[t, f]``
  (``weights_time: (F, memory)``);
- **rank reduction**: ``y[u] = bias[u] + sum_r s[u * rank + r]``: filters
  ``u*rank .. u*rank + rank - 1`` belong to unit ``u`` (TF's reshape
  ``[num_filters] -> [num_units, rank]``, and TFLite's SVDF op).

TF puts a ReLU after it (a :class:`~tinykws.nn.layers.ReLU` layer here).
This is the training form, over a whole ``(frames, bins)`` input at once; a
device runs it one frame per call, keeping the feature activations of the
last ``memory`` frames as state: :meth:`SVDF.step` is that form, and after
the clip's last frame it gives what :meth:`SVDF.forward` gives for the clip.
Frames older than ``memory`` do not reach the output.

Backward, with ``ds[f] = dy[f // rank]`` (each filter receives its unit's gradient)::

    dbias[u]               = dy[u]
    dweights_time[f, t]    = ds[f] * a[t, f]
    da[t, f]               = ds[f] * weights_time[f, t]
    dweights_feature[f, b] = sum_t da[t, f] * x[t, b]
    dx[t, b]               = sum_f da[t, f] * weights_feature[f, b]   (0 before the memory)

all summed over the batch.
"""

from __future__ import annotations

import numpy as np


class SVDF:
    """``(N, frames, bins, 1) -> (N, units)``: frequency filters, time filters, rank sum, bias."""

    def __init__(self, bins: int, units: int, rank: int, memory: int):
        self.bins, self.units, self.rank, self.memory = bins, units, rank, memory
        filters = units * rank
        self.params = {"weights_feature": np.zeros((filters, bins), np.float32),
                       "weights_time": np.zeros((filters, memory), np.float32),
                       "bias": np.zeros(units, np.float32)}
        self.grads: dict[str, np.ndarray] = {}
        self._cache = None

    @property
    def filters(self) -> int:
        return self.units * self.rank

    def spec(self) -> dict:
        return {"type": "svdf", "bins": self.bins, "units": self.units, "rank": self.rank,
                "memory": self.memory}

    def output_shape(self, input_shape):
        frames, bins = input_shape[0], input_shape[1]
        if bins != self.bins or (len(input_shape) > 2 and input_shape[2] != 1):
            raise ValueError(f"SVDF over {self.bins} bins cannot take {tuple(input_shape)}")
        if frames < self.memory:
            raise ValueError(f"SVDF with a memory of {self.memory} frames needs as many, "
                             f"got {frames}")
        return (self.units,)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._shape = x.shape
        recent = x.reshape(x.shape[0], x.shape[1], self.bins)[:, -self.memory:]  # (N, M, B)
        a = recent @ self.params["weights_feature"].T  # (N, M, F): feature filter per frame
        s = (a * self.params["weights_time"].T).sum(axis=1)  # (N, F): time filter
        self._cache = (recent, a)
        return self._reduce(s)

    def _reduce(self, s: np.ndarray) -> np.ndarray:
        """``(N, F) -> (N, units)``: each unit's ``rank`` filters summed, plus the bias."""
        return s.reshape(len(s), self.units, self.rank).sum(axis=2) + self.params["bias"]

    def backward(self, dy: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        recent, a = self._cache
        ds = np.repeat(dy, self.rank, axis=1)  # (N, F): filter f belongs to unit f // rank
        da = ds[:, None, :] * self.params["weights_time"].T  # (N, M, F)
        n, m, f = a.shape
        self.grads = {"bias": dy.sum(axis=0),
                      "weights_time": (ds[:, None, :] * a).sum(axis=0).T,  # (F, M)
                      # sum over examples and frames as one matrix product (BLAS)
                      "weights_feature": da.reshape(n * m, f).T @ recent.reshape(n * m, -1)}
        if not need_input_grad:
            return None
        dx = np.zeros(self._shape[:2] + (self.bins,), dy.dtype)  # (N, frames, B)
        dx[:, -self.memory:] = da @ self.params["weights_feature"]
        return dx.reshape(self._shape)

    def initial_state(self, batch: int) -> np.ndarray:
        """The streaming memory before the first frame: ``(N, F, memory)`` zeros."""
        return np.zeros((batch, self.filters, self.memory), self.params["bias"].dtype)

    def step(self, frame: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One frame of the streaming form (TFLite's SVDF): ``(y (N, units), new state)``.

        frame : (N, bins); state : (N, F, memory), oldest frame first. The
        memory moves one frame to the left and the frame's feature
        activations enter at the right, then the time filter runs over it.
        """
        newest = frame @ self.params["weights_feature"].T  # (N, F)
        state = np.concatenate([state[:, :, 1:], newest[:, :, None]], axis=2)  # (N, F, M)
        s = np.einsum("nfm,fm->nf", state, self.params["weights_time"])
        return self._reduce(s), state
