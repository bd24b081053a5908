"""Structured (channel) pruning: remove whole filters, and everything their channels fed.

Li et al. (2017): rank a layer's filters by a norm of their weights and
remove the weakest; unlike scattered zeros, a removed filter shrinks every
tensor downstream, so dense kernels run faster with no sparse format.

**Which channels can go.** A *producer* makes channels of its own: an
ordinary convolution (``groups == 1``; its filters ``w[c]``) or a dense layer
(its rows). Its output channel ``c`` is then followed downstream, layer by
layer, until it is consumed (a :class:`ChannelChain`):

- batch norm, ReLU, dropout, max and average pooling, the global average pool
  keep channel ``c`` as channel ``c`` (batch norm loses its ``gamma``,
  ``beta`` and moving statistics of ``c``);
- a depthwise convolution (``groups == in == out channels``) turns channel
  ``c`` into its own output channel ``c``: its filter ``c`` goes too, and the
  chain carries on through its output (DS-CNN's depthwise-separable blocks);
- an ordinary convolution *consumes* ``c``: its weights ``w[:, :, :, c]``
  (input channel ``c`` of every filter) go;
- after a flatten of ``(H, W, C)``, a dense layer consumes ``c`` in the
  columns ``(y * W + x) * C + c`` of every position (NHWC order); right after
  a dense producer or the global average pool, in column ``c``.

A producer whose channels reach the model's output unconsumed is **not**
prunable: those are the logits (the classes). So TinyConv has one prunable
layer, its convolution (removing channel ``c`` removes ``w[c]``, its bias and
``25 * 20`` dense columns); DS-CNN five (the first convolution and the four
pointwise ones, each dragging a depthwise convolution and two batch norms
along); ``low_latency_conv`` three (the convolution and two hidden dense
layers). A layer this module does not know (say a residual block, whose
channels meet another branch's) is refused with a ValueError rather than
guessed at.

**Exactness.** The pruned model is a smaller :class:`Sequential` computing
exactly what the original does with the removed channels' contributions
zeroed where they are consumed (``tests/test_prune_zoo.py`` checks it on
every zoo model): nothing that reaches the output is changed but through
those channels.

The ranking norm is ``||w_c||_p`` over the filter's taps (``KH * KW * C_in``
for a convolution, the row for a dense layer): ``p = 1`` (L1, the sum of
magnitudes) or ``p = 2`` (L2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinykws.nn.batch_norm import BatchNorm
from tinykws.nn.conv import Conv2D
from tinykws.nn.layers import Dense, Dropout, Flatten, ReLU
from tinykws.nn.model import Sequential, from_spec
from tinykws.nn.pooling import AveragePool2D, GlobalAveragePool, MaxPool2D

_PASS_THROUGH = (ReLU, Dropout, MaxPool2D, AveragePool2D, BatchNorm)
_KNOWN = (*_PASS_THROUGH, Conv2D, Dense, Flatten, GlobalAveragePool)


@dataclass(frozen=True)
class ChannelChain:
    """Where one producer's output channels go, by layer index.

    ``followers``: batch norms and depthwise convolutions that keep channel
    ``c`` as their channel ``c`` (their per-channel arrays shrink with it).
    ``consumer``: the layer whose *input* loses channel ``c``.
    ``positions``: for a dense consumer after a flatten, the ``H * W``
    positions each channel fills (1 when the dense layer takes channels directly).
    """

    producer: int
    followers: tuple[int, ...]
    consumer: int
    positions: int = 1


def _is_depthwise(layer) -> bool:
    return isinstance(layer, Conv2D) and layer.groups > 1 and \
        layer.groups == layer.in_channels == layer.out_channels


def _check_known(model: Sequential) -> None:
    for i, layer in enumerate(model.layers):
        if not isinstance(layer, _KNOWN):
            raise ValueError(f"channel pruning cannot follow channels through layer {i} "
                             f"({type(layer).__name__})")
        if isinstance(layer, Conv2D) and layer.groups > 1 and not _is_depthwise(layer):
            raise ValueError(f"channel pruning follows depthwise convolutions with depth "
                             f"multiplier 1 only, not layer {i} (groups {layer.groups}, "
                             f"{layer.in_channels} -> {layer.out_channels} channels)")


def _follow(model: Sequential, producer: int) -> ChannelChain | None:
    """The chain of ``producer``'s channels, or None when they reach the output (logits)."""
    shapes = model.shapes()
    followers, positions = [], 1
    for j in range(producer + 1, len(model.layers)):
        layer = model.layers[j]
        if isinstance(layer, BatchNorm) or _is_depthwise(layer):
            followers.append(j)
        elif isinstance(layer, _PASS_THROUGH):
            continue
        elif isinstance(layer, Flatten):
            *spatial, _ = shapes[j - 1]  # (H, W, C) into the flatten
            positions = int(np.prod(spatial))
        elif isinstance(layer, GlobalAveragePool):
            positions = 1
        elif isinstance(layer, (Conv2D, Dense)):
            return ChannelChain(producer, tuple(followers), j, positions)
    return None


def channel_chains(model: Sequential) -> list[ChannelChain]:
    """Every prunable layer's chain, in layer order (ValueError on a layer it cannot follow)."""
    _check_known(model)
    producers = [i for i, l in enumerate(model.layers)
                 if isinstance(l, Dense) or (isinstance(l, Conv2D) and l.groups == 1)]
    return [c for c in (_follow(model, i) for i in producers) if c is not None]


def prunable_layers(model: Sequential) -> list[int]:
    """Indices of the layers whose output channels can be removed."""
    return [c.producer for c in channel_chains(model)]


def output_channels(layer) -> int:
    return layer.out_channels if isinstance(layer, Conv2D) else layer.out_features


def filter_norms(layer: Conv2D | Dense, p: int = 1) -> np.ndarray:
    """``||w_c||_p`` of each output filter (or dense row): ``(C_out,)``."""
    w = layer.params["weight"].reshape(output_channels(layer), -1).astype(np.float64)  # (C_out, K)
    return np.linalg.norm(w, ord=p, axis=1)


def channels_to_keep(layer: Conv2D | Dense, keep: int, p: int = 1) -> np.ndarray:
    """Indices of the ``keep`` filters with the largest norms, in their original order."""
    if not 1 <= keep <= output_channels(layer):
        raise ValueError(f"keep must be between 1 and {output_channels(layer)}, not {keep}")
    strongest = np.argsort(-filter_norms(layer, p), kind="stable")[:keep]
    return np.sort(strongest)


def prune_channels(model: Sequential, keep: int | dict[int, int], p: int = 1) -> Sequential:
    """A smaller model keeping the strongest filters of every prunable layer.

    ``keep``: filters kept per prunable layer, one count for all or
    ``{layer index: count}`` for each (a layer not named keeps all).
    """
    layers = prunable_layers(model)
    if not layers:
        raise ValueError("the model has no prunable layer: every channel reaches the output")
    counts = keep if isinstance(keep, dict) else {i: keep for i in layers}
    unknown = sorted(set(counts) - set(layers))
    if unknown:
        raise ValueError(f"layers {unknown} are not prunable; the prunable ones are {layers}")
    return remove_channels(model, {i: channels_to_keep(model.layers[i], k, p)
                                   for i, k in counts.items()})


def remove_channels(model: Sequential, kept: dict[int, np.ndarray]) -> Sequential:
    """The model with only the channels ``kept[i]`` (sorted indices) of each prunable layer ``i``.

    Weights are sliced, never recomputed: the result is ``model`` minus the
    removed channels, batch norms' moving statistics included.
    """
    chains = {c.producer: c for c in channel_chains(model)}
    spec = model.spec()
    params = {k: v.copy() for k, v in model.parameters().items()}
    states = {(i, k): v.copy() for i, layer in enumerate(model.layers)
              for k, v in getattr(layer, "state", {}).items()}
    for i, idx in kept.items():
        if i not in chains:
            raise ValueError(f"layer {i} is not prunable; the prunable ones are {sorted(chains)}")
        idx = np.asarray(idx)
        chain, n = chains[i], len(idx)
        if n < 1 or len(np.unique(idx)) != n or idx.min() < 0 \
                or idx.max() >= output_channels(model.layers[i]):
            raise ValueError(f"layer {i}: kept channels must be distinct indices of its "
                             f"{output_channels(model.layers[i])} outputs, at least one")
        _shrink_outputs(spec["layers"][i], params, i, idx)
        for j in chain.followers:
            s = spec["layers"][j]
            if s["type"] == "batch_norm":
                s["channels"] = n
                for name in ("gamma", "beta"):
                    params[f"{j}.{name}"] = params[f"{j}.{name}"][idx]
                for name in ("moving_mean", "moving_variance"):
                    states[j, name] = states[j, name][idx]
            else:  # depthwise: filter c makes channel c
                s["in_channels"] = s["groups"] = n
                _shrink_outputs(s, params, j, idx)
        _shrink_inputs(spec["layers"][chain.consumer], params, chain, idx)
    small = from_spec(spec)
    small.load_parameters(params)
    for (j, name), value in states.items():
        small.layers[j].state[name][...] = value
    return small


def _shrink_outputs(s: dict, params: dict, i: int, idx: np.ndarray) -> None:
    """Keep output channels ``idx`` of layer ``i``: filters ``w[idx]`` (or rows) and biases."""
    s["out_channels" if s["type"] == "conv2d" else "out_features"] = len(idx)
    params[f"{i}.weight"] = params[f"{i}.weight"][idx]  # (O, KH, KW, C) or (out, in): axis 0
    params[f"{i}.bias"] = params[f"{i}.bias"][idx]


def _shrink_inputs(s: dict, params: dict, chain: ChannelChain, idx: np.ndarray) -> None:
    """Keep input channels ``idx`` of the chain's consumer."""
    name = f"{chain.consumer}.weight"
    w = params[name]
    if s["type"] == "conv2d":
        s["in_channels"] = len(idx)
        params[name] = w[..., idx]  # (O, KH, KW, C_in) -> (O, KH, KW, keep)
        return
    out, columns = w.shape
    channels = columns // chain.positions
    s["in_features"] = chain.positions * len(idx)
    by_channel = w.reshape(out, chain.positions, channels)  # (out, H*W, C): NHWC columns
    params[name] = by_channel[..., idx].reshape(out, -1)
