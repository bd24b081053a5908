"""Numba loop of micro_speech's ``RecognizeCommands`` over a whole stream.

The reference is :class:`tinykws.stream.recognize.RecognizeCommands`, fed one
result at a time like the C class. This kernel gives the same answers for a
whole array of results at once: the queue is a ring of indices into the
results, and each label's sum over the queue is kept up to date as results
enter and leave (the C code re-adds the queue every time; the integer sum, and
so the integer average, is the same).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def new_commands(times_ms, plus128, average_window_ms, detection_threshold, suppression_ms,
                 minimum_count, max_results):
    """``times_ms`` (T,) int64, ``plus128`` (T, K) int64 in 0..255 -> (indices, labels, scores)."""
    T, K = plus128.shape
    queue = np.empty(max_results, np.int64)  # ring of indices into the results
    head = 0  # oldest entry
    size = 0
    total = np.zeros(K, np.int64)  # each label's sum over the queue
    out_i = np.empty(T, np.int64)
    out_label = np.empty(T, np.int64)
    out_score = np.empty(T, np.int64)
    found = 0
    previous_label = 0
    previous_time = -1  # -1: no command yet
    for t in range(T):
        now = times_ms[t]
        if size < max_results:  # a full queue drops the newest result, as the C queue does
            queue[(head + size) % max_results] = t
            size += 1
            for k in range(K):
                total[k] += plus128[t, k]
        while size > 0 and times_ms[queue[head]] < now - average_window_ms:
            old = queue[head]
            for k in range(K):
                total[k] -= plus128[old, k]
            head = (head + 1) % max_results
            size -= 1
        if size < minimum_count or now - times_ms[queue[head]] < average_window_ms // 4:
            continue
        top = 0
        top_score = total[0] // size
        for k in range(1, K):
            average = total[k] // size
            if average > top_score:  # the first of equal averages wins, like argmax
                top, top_score = k, average
        if top_score <= 0:
            top = 0
        if top_score > detection_threshold and (
                top != previous_label or previous_label == 0 or previous_time < 0
                or now - previous_time > suppression_ms):
            previous_label, previous_time = top, now
            out_i[found], out_label[found], out_score[found] = t, top, top_score
            found += 1
    return out_i[:found], out_label[:found], out_score[:found]


@njit(cache=True)
def match_counts(det_times, det_labels, onsets, utt_labels, is_keyword, window_ms):
    """The matching rule of :func:`tinykws.stream.scoring.match`, counted.

    ``det_times``/``det_labels`` (D,) in time order; ``onsets``/``utt_labels``
    (U,) sorted by onset; ``is_keyword`` (labels,) bool. Returns
    ``(misses, false_alarms)``.
    """
    claimed = np.zeros(len(onsets), np.bool_)
    false_alarms = 0
    lo = 0
    for d in range(len(det_times)):
        t = det_times[d]
        label = det_labels[d]
        while lo < len(onsets) and onsets[lo] < t - window_ms:
            lo += 1
        found = False
        if is_keyword[label]:
            u = lo
            while u < len(onsets) and onsets[u] <= t:
                if utt_labels[u] == label and not claimed[u]:
                    claimed[u] = True
                    found = True
                    break
                u += 1
        if not found:
            false_alarms += 1
    misses = 0
    for u in range(len(onsets)):
        if is_keyword[utt_labels[u]] and not claimed[u]:
            misses += 1
    return misses, false_alarms
