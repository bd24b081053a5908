"""One TinyConv training step (batch 100, forward + backward + Adam), ours vs PyTorch CPU.

The same model, batch and optimizer in both; features are excluded (a fixed
random batch), so this measures the layers and the update. Ours is the NumPy
layers of :mod:`tinykws.nn` with the convolution's forward and weight
gradient in Numba (:mod:`kernels.float_conv`). PyTorch is a peer
here only, installed with the ``bench`` extra; without it the row is skipped.
"""

from __future__ import annotations

import numpy as np

from benchmarks.timing import compare, row


def _ours(x, y):
    from tinykws.nn.loss import softmax_cross_entropy
    from tinykws.nn.model import tiny_conv
    from tinykws.train.optim import Adam

    rng = np.random.default_rng(0)
    model, opt = tiny_conv(4, rng), Adam()
    model.set_rng(rng)

    def step():
        logits = model.forward(x, training=True)
        _, grad = softmax_cross_entropy(logits, y)
        model.backward(grad)
        opt.step(model.parameters(), model.gradients(), 1e-3)
    return step


def torch_tiny_conv(threads: int):
    """PyTorch's TinyConv and Adam as ours: ``step(x, y)`` on NCHW float and int64 tensors."""
    import torch

    torch.set_num_threads(threads)
    model = torch.nn.Sequential(
        torch.nn.ZeroPad2d((3, 3, 4, 5)),  # TF's SAME for 49x40: (left, right, top, bottom)
        torch.nn.Conv2d(1, 8, (10, 8), stride=2),  # -> 25x20
        torch.nn.ReLU(), torch.nn.Dropout(0.5), torch.nn.Flatten(), torch.nn.Linear(4000, 4))
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


def _torch(x, y, threads):
    step, (xt, yt) = torch_tiny_conv(threads), to_torch(x, y)
    return lambda: step(xt, yt)


def run(quick: bool) -> list[dict]:
    import os

    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, (100, 49, 40, 1)).astype(np.float32)
    y = rng.integers(0, 4, 100)
    contenders = {"tinykws": _ours(x, y)}
    threads = int(os.environ.get("OMP_NUM_THREADS", "1"))
    try:
        contenders["pytorch cpu"] = _torch(x, y, threads)
    except ImportError:
        return []
    t = compare(contenders, repeats=5 if quick else 25, warmup=3)
    return [row("training step, batch 100", "tinykws (numpy + numba conv)", "pytorch cpu",
                t["tinykws"], t["pytorch cpu"], "s / step", False, threads=threads)]


if __name__ == "__main__":
    from benchmarks.__main__ import markdown_table

    print(markdown_table(run(quick=False)))
