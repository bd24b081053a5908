"""Structured (channel) pruning: remove whole convolution filters, and what they fed.

Li et al. (2017): rank a convolution's filters by a norm of their weights
and remove the weakest; unlike scattered zeros, a removed filter shrinks
every tensor downstream, so dense kernels run faster with no sparse format.

In TinyConv the conv's output channel ``c`` feeds the dense layer through
the flattened (NHWC) activations: column ``(y * W + x) * C + c`` of the dense
weights for every position ``(y, x)``. Removing channel ``c`` therefore
removes the filter ``w[c]``, its bias, and those ``25 * 20`` dense columns.
The dense layer's *output* rows are never touched: they are the classes.

The ranking norm is ``||w_c||_p`` over the filter's ``KH * KW * C_in`` taps:
``p = 1`` (L1, the sum of magnitudes) or ``p = 2`` (L2).
"""

from __future__ import annotations

import numpy as np

from tinykws.nn.conv import Conv2D
from tinykws.nn.layers import Dense, Flatten
from tinykws.nn.model import Sequential, from_spec


def filter_norms(conv: Conv2D, p: int = 1) -> np.ndarray:
    """``||w_c||_p`` of each output filter: ``(C_out,)``."""
    w = conv.params["weight"].reshape(conv.out_channels, -1).astype(np.float64)  # (C_out, K)
    return np.linalg.norm(w, ord=p, axis=1)


def channels_to_keep(conv: Conv2D, keep: int, p: int = 1) -> np.ndarray:
    """Indices of the ``keep`` filters with the largest norms, in their original order."""
    if not 1 <= keep <= conv.out_channels:
        raise ValueError(f"keep must be between 1 and {conv.out_channels}, not {keep}")
    strongest = np.argsort(-filter_norms(conv, p), kind="stable")[:keep]
    return np.sort(strongest)


def prune_channels(model: Sequential, keep: int, p: int = 1) -> Sequential:
    """A smaller TinyConv-shaped model with only the ``keep`` strongest conv filters.

    The model must be conv -> (ReLU, dropout) -> flatten -> dense, as
    :func:`tinykws.nn.model.tiny_conv` builds it.
    """
    convs = [i for i, l in enumerate(model.layers) if isinstance(l, Conv2D)]
    dense = [i for i, l in enumerate(model.layers) if isinstance(l, Dense)]
    flat = [i for i, l in enumerate(model.layers) if isinstance(l, Flatten)]
    if len(convs) != 1 or len(dense) != 1 or len(flat) != 1 or not convs[0] < flat[0] < dense[0]:
        raise ValueError("channel pruning handles one conv, then flatten, then one dense layer")
    ci, di = convs[0], dense[0]
    conv, fc = model.layers[ci], model.layers[di]
    kept = channels_to_keep(conv, keep, p)  # (keep,)
    oh, ow, oc = model.shapes()[ci]
    spec = model.spec()
    spec["layers"][ci] = {**spec["layers"][ci], "out_channels": keep}
    spec["layers"][di] = {**spec["layers"][di], "in_features": oh * ow * keep}
    small = from_spec(spec)
    small.layers[ci].params["weight"][...] = conv.params["weight"][kept]  # (keep, KH, KW, C_in)
    small.layers[ci].params["bias"][...] = conv.params["bias"][kept]
    w = fc.params["weight"].reshape(fc.out_features, oh, ow, oc)  # (K, OH, OW, C): NHWC columns
    small.layers[di].params["weight"][...] = w[..., kept].reshape(fc.out_features, -1)
    small.layers[di].params["bias"][...] = fc.params["bias"]
    return small
