"""The tensor arena: where TFLite-Micro puts activations, planned greedily.

TFLite-Micro (TFLM) allocates one static byte array, the *arena*. Its head
holds the non-persistent buffers (activations and kernel scratch), placed at
offsets chosen before the first ``Invoke``; its tail holds the persistent
bookkeeping (see :mod:`tinykws.mcu.persistent`). This module is the head.

A buffer is alive from the first operator that writes it to the last one
that reads it, both inclusive (operators numbered in execution order). A
graph input is alive from operator 0 and a graph output up to the last
operator, whether or not an operator touches them then; constant tensors
live in flash, not in the arena, and variable tensors (an SVDF's state) in
the arena's persistent tail (:mod:`tinykws.mcu.persistent`).

The planner follows TFLM's ``GreedyMemoryPlanner``
(``tensorflow/lite/micro/memory_planner/greedy_memory_planner.cc``):

1. sizes are rounded up to 16 bytes (TFLM's ``kBufferAlignment``);
2. buffers are taken largest first (ties in their original order);
3. each is put at the lowest offset where it overlaps no already placed
   buffer that is alive at the same time: try offset 0, then the end of each
   such buffer in increasing offset order, and keep the first gap that fits.

The arena head is the largest ``offset + size``. No placement can use less
than the most bytes alive at any one time, :func:`live_bytes_lower_bound`;
greedy placement can use more, when a gap left by a buffer that died is too
small for the next one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinykws.tflite.model import Graph

ALIGNMENT = 16  # bytes, TFLM's kBufferAlignment


def align(size: int, alignment: int = ALIGNMENT) -> int:
    """``size`` rounded up to a multiple of ``alignment``."""
    return -(-size // alignment) * alignment


@dataclass(frozen=True)
class Buffer:
    """One non-persistent buffer: ``size`` bytes alive from op ``first`` to op ``last``."""

    name: str
    size: int
    first: int
    last: int

    def overlaps_in_time(self, other: "Buffer") -> bool:
        return self.first <= other.last and other.first <= self.last


@dataclass(frozen=True)
class Plan:
    """Where each buffer went: ``offsets[i]`` is the byte offset of ``buffers[i]``."""

    buffers: tuple[Buffer, ...]
    offsets: tuple[int, ...]

    @property
    def head_bytes(self) -> int:
        """Bytes of arena the plan spans (0 for no buffers)."""
        return max((o + align(b.size) for b, o in zip(self.buffers, self.offsets)), default=0)


def plan_greedy(buffers: list[Buffer] | tuple[Buffer, ...]) -> Plan:
    """Offsets for ``buffers`` by TFLM's greedy rule (largest first, lowest free gap)."""
    buffers = tuple(buffers)
    order = sorted(range(len(buffers)), key=lambda i: -align(buffers[i].size))  # stable
    offsets: list[int | None] = [None] * len(buffers)
    for i in order:
        size = align(buffers[i].size)
        # Placed buffers alive at the same time as this one, by offset.
        rivals = sorted((offsets[j], offsets[j] + align(buffers[j].size)) for j in range(len(buffers))
                        if offsets[j] is not None and buffers[i].overlaps_in_time(buffers[j]))
        candidate = 0
        for start, end in rivals:
            if candidate + size <= start:
                break  # the gap before this rival fits
            candidate = max(candidate, end)
        offsets[i] = candidate
    return Plan(buffers, tuple(int(o) for o in offsets))


def live_bytes_lower_bound(buffers: list[Buffer] | tuple[Buffer, ...]) -> int:
    """The most aligned bytes alive at any one operator: no plan can use fewer."""
    if not buffers:
        return 0
    last_op = max(b.last for b in buffers)
    return max(sum(align(b.size) for b in buffers if b.first <= t <= b.last)
               for t in range(last_op + 1))


def tensor_buffers(graph: Graph) -> list[Buffer]:
    """The graph's activation tensors as buffers with their TFLM lifetimes.

    Constant tensors (weights, biases, shapes) are left out: they stay in
    the flatbuffer, in flash. A tensor no operator uses is left out too.
    """
    n_ops = len(graph.operators)
    first: dict[int, int] = {i: 0 for i in graph.inputs}
    last: dict[int, int] = {i: n_ops - 1 for i in graph.outputs}
    for k, op in enumerate(graph.operators):
        for i in op.outputs:
            first.setdefault(i, k)
            last[i] = max(last.get(i, k), k)
        for i in op.inputs:
            if i >= 0:
                last[i] = max(last.get(i, k), k)
                first.setdefault(i, k)
    buffers = []
    for i in sorted(set(first) | set(last)):
        t = graph.tensors[i]
        if t.is_constant or t.is_variable:  # in flash / in the persistent tail
            continue
        size = int(np.prod(t.shape, dtype=np.int64)) * np.dtype(t.dtype).itemsize
        buffers.append(Buffer(t.name, size, first[i], last[i]))
    return buffers
