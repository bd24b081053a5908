"""Training steps (batch 100, forward + backward + Adam), ours vs PyTorch CPU: TinyConv and DS-CNN.

The same model, batch and optimizer in both; features are excluded (a fixed
random batch), so this measures the layers and the update. Ours is the NumPy
layers of :mod:`tinykws.nn` with the convolutions in Numba
(:mod:`kernels.float_conv`, :mod:`kernels.float_conv_pixels`) or BLAS (1x1 and
one-channel layers), batch norm with its ReLU fused in Numba
(:mod:`kernels.float_batch_norm`), ReLU and dropout in Numba
(:mod:`kernels.float_relu`, :mod:`kernels.float_dropout`). Two models:

- TinyConv on 49 x 40 micro features;
- the zoo's DS-CNN (MLPerf Tiny's, :func:`tinykws.nn.ds_cnn.ds_cnn`) on
  MLPerf's 49 x 10 MFCCs, 12 labels: batch norm in training mode, dropout,
  depthwise and 1x1 convolutions. PyTorch's twin has the same layers, TF's
  SAME padding as explicit zero padding, and batch norm with Keras' momentum
  and epsilon.

PyTorch is a peer here only, installed with the ``bench`` extra; without it
the suite returns no rows.
"""

from __future__ import annotations

import numpy as np

from benchmarks.timing import compare, row
from tinykws.padding import compute_padding_height_width

DS_CNN_INPUT = (49, 10, 1)  # MLPerf Tiny's MFCCs


def _ours(model, x, y):
    from tinykws.nn.loss import softmax_cross_entropy
    from tinykws.train.optim import Adam

    rng = np.random.default_rng(0)
    opt = Adam()
    model.set_rng(rng)

    def step():
        logits = model.forward(x, training=True)
        _, grad = softmax_cross_entropy(logits, y)
        model.backward(grad)
        opt.step(model.parameters(), model.gradients(), 1e-3)
    return step


def same_padding(torch, h: int, w: int, kernel, stride):
    """TF's SAME padding of an ``h`` x ``w`` input as PyTorch's ``ZeroPad2d`` (extra pixel after)."""
    pad, _, _ = compute_padding_height_width("SAME", *stride, 1, 1, h, w, *kernel)
    return torch.nn.ZeroPad2d((pad.width, pad.width + pad.width_offset, pad.height,
                               pad.height + pad.height_offset))


def torch_tiny_conv(threads: int):
    """PyTorch's TinyConv and Adam as ours: ``step(x, y)`` on NCHW float and int64 tensors."""
    import torch

    torch.set_num_threads(threads)
    model = torch.nn.Sequential(
        same_padding(torch, 49, 40, (10, 8), (2, 2)),  # (left, right, top, bottom) = (3, 3, 4, 5)
        torch.nn.Conv2d(1, 8, (10, 8), stride=2),  # -> 25x20
        torch.nn.ReLU(), torch.nn.Dropout(0.5), torch.nn.Flatten(), torch.nn.Linear(4000, 4))
    return _torch_step(torch, model)


def torch_ds_cnn_model(input_shape=DS_CNN_INPUT, labels: int = 12, filters: int = 64):
    """PyTorch's twin of :func:`tinykws.nn.ds_cnn.ds_cnn`, NCHW: a ``torch.nn.Sequential``."""
    import torch

    h, w, c = input_shape
    nn = torch.nn

    def bn():  # Keras' momentum 0.99 is PyTorch's 0.01 (the weight of the new batch)
        return nn.BatchNorm2d(filters, eps=1e-3, momentum=0.01)

    layers = [same_padding(torch, h, w, (10, 4), (2, 2)), nn.Conv2d(c, filters, (10, 4), 2),
              bn(), nn.ReLU(), nn.Dropout(0.2)]
    for _ in range(4):
        layers += [nn.Conv2d(filters, filters, 3, padding=1, groups=filters), bn(), nn.ReLU(),
                   nn.Conv2d(filters, filters, 1), bn(), nn.ReLU()]
    layers += [nn.Dropout(0.4), nn.AvgPool2d((h // 2, w // 2)), nn.Flatten(),
               nn.Linear(filters, labels)]
    return nn.Sequential(*layers)


def torch_ds_cnn(threads: int):
    """:func:`torch_ds_cnn_model` with Adam as ours: ``step(x, y)``."""
    import torch

    torch.set_num_threads(threads)
    return _torch_step(torch, torch_ds_cnn_model())


def _torch_step(torch, model):
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step(xt, yt):
        opt.zero_grad()
        loss_fn(model(xt), yt).backward()
        opt.step()
    return step


def to_torch(x: np.ndarray, y: np.ndarray):
    """Our batch ``x (N, H, W, 1)``, ``y (N,)`` as PyTorch's NCHW float and int64 tensors."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))), torch.from_numpy(y)


def _torch(x, y, step):
    xt, yt = to_torch(x, y)
    return lambda: step(xt, yt)


def run(quick: bool) -> list[dict]:
    import os

    from tinykws.nn.model import tiny_conv
    from tinykws.nn.zoo import build_model

    threads = int(os.environ.get("OMP_NUM_THREADS", "1"))
    try:
        peers = {"tiny_conv": torch_tiny_conv(threads), "ds_cnn": torch_ds_cnn(threads)}
    except ImportError:
        return []
    rng = np.random.default_rng(1)
    cases = [("training step, batch 100", "tinykws (numpy + numba conv)", "tiny_conv",
              tiny_conv(4, np.random.default_rng(0)), (49, 40, 1), 4),
             ("DS-CNN training step, batch 100, 49x10", "tinykws (numpy + numba conv, bn)",
              "ds_cnn", build_model("ds_cnn", 12, np.random.default_rng(0), DS_CNN_INPUT),
              DS_CNN_INPUT, 12)]
    rows = []
    for benchmark, ours, name, model, shape, labels in cases:
        x = rng.normal(0, 1, (100, *shape)).astype(np.float32)
        y = rng.integers(0, labels, 100)
        t = compare({"tinykws": _ours(model, x, y), "pytorch cpu": _torch(x, y, peers[name])},
                    repeats=5 if quick else 25, warmup=3)
        rows.append(row(benchmark, ours, "pytorch cpu", t["tinykws"], t["pytorch cpu"],
                        "s / step", False, threads=threads))
    return rows


if __name__ == "__main__":
    from benchmarks.__main__ import markdown_table

    print(markdown_table(run(quick=False)))
