"""Scoring a stream's detections against what was said.

**The matching rule** (:func:`match`). Detections come in time order, each a
label and the time of the newest audio in the window that fired. A detection
of keyword ``w`` at time ``t`` is a **hit** when an utterance of ``w`` has
its onset in ``[t - window_ms, t]`` (the detection came at most
``window_ms`` after the utterance began; default 2000 ms, the clip's 1 s
plus 1 s for the averaging to catch up) and no earlier detection claimed
that utterance. One hit per utterance; everything else is a **false
alarm**: a keyword fired on another word or on noise, the wrong keyword, or a
repeated firing on an utterance already claimed. An utterance of a keyword
that no detection claims is a **miss**.

So ``miss rate = misses / keyword utterances`` (Wilson's interval) and
``false alarms per hour = false alarms / hours of audio`` (exact Poisson
interval), per keyword and overall. A keyword spotter is judged by the
pair: misses at a given rate of false alarms.

**TF's numbers** (:func:`tf_streaming_stats`): ``StreamingAccuracyStats`` of
TensorFlow's ``speech_commands/accuracy_utils.py``, for comparison with
``test_streaming_accuracy.py``. Its found words are every new command but
``_silence_`` (``_unknown_`` included) at the *start* of the window that
fired; each is matched to the first ground-truth utterance (keywords and
``_unknown_`` alike) within ``± time_tolerance_ms`` (TF's default 1500):
correct if the labels agree and that utterance was not matched before, else
wrong; no utterance in reach is a false positive. Percentages are of all
ground-truth utterances.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from tinykws.stats import poisson_rate_interval, wilson_interval

MATCH_WINDOW_MS = 2000
TF_TIME_TOLERANCE_MS = 1500  # test_streaming_accuracy.py's --time-tolerance-ms
CLIP_MS = 1000


@dataclass(frozen=True)
class Detection:
    label: str
    time_ms: int  # newest audio in the window that fired
    score: int  # average score 0..255


def match(detections: list[Detection], utterances, keywords, window_ms: int = MATCH_WINDOW_MS):
    """``(claimed_by (U,) index of the detection that hit each utterance or -1,
    hit (D,) bool)`` under the module's rule."""
    onsets = np.array([u.onset_ms for u in utterances], np.int64)
    claimed_by = np.full(len(utterances), -1, np.int64)
    hit = np.zeros(len(detections), bool)
    for d_i, d in enumerate(detections):
        if d.label not in keywords:
            continue
        lo = np.searchsorted(onsets, d.time_ms - window_ms, side="left")
        hi = np.searchsorted(onsets, d.time_ms, side="right")
        for u_i in range(lo, hi):
            if utterances[u_i].label == d.label and claimed_by[u_i] < 0:
                claimed_by[u_i], hit[d_i] = d_i, True
                break
    return claimed_by, hit


def counts(detections, utterances, keywords, window_ms: int = MATCH_WINDOW_MS) -> tuple[int, int, int]:
    """``(keyword utterances, misses, false alarms)``: the three numbers a sweep needs."""
    claimed_by, hit = match(detections, utterances, keywords, window_ms)
    spoken = np.array([u.label in keywords for u in utterances], bool)
    return int(spoken.sum()), int((spoken & (claimed_by < 0)).sum()), int((~hit).sum())


def score_stream(detections, utterances, keywords, duration_s: float,
                 window_ms: int = MATCH_WINDOW_MS) -> dict:
    """Hits, misses and false alarms, overall and per keyword, with intervals, and where
    the misses and false alarms come from (speakers, SNRs, what was said)."""
    keywords = tuple(keywords)
    claimed_by, hit = match(detections, utterances, keywords, window_ms)
    hours = duration_s / 3600.0
    spoken = [i for i, u in enumerate(utterances) if u.label in keywords]
    missed = [i for i in spoken if claimed_by[i] < 0]
    false = [d for d, h in zip(detections, hit) if not h]
    per_keyword = {}
    for k in keywords:
        mine = [i for i in spoken if utterances[i].label == k]
        per_keyword[k] = {
            "utterances": len(mine),
            "miss_rate": wilson_interval(sum(claimed_by[i] < 0 for i in mine), len(mine)).as_dict(),
            "false_alarms": sum(d.label == k for d in false),
            "false_alarms_per_hour": poisson_rate_interval(sum(d.label == k for d in false), hours)}
    return {
        "duration_s": duration_s, "keyword_utterances": len(spoken), "detections": len(detections),
        "hits": int(hit.sum()), "misses": len(missed), "false_alarms": len(false),
        "miss_rate": wilson_interval(len(missed), len(spoken)).as_dict(),
        "false_alarms_per_hour": poisson_rate_interval(len(false), hours),
        "precision": wilson_interval(int(hit.sum()), len(detections)).as_dict(),
        "per_keyword": per_keyword,
        "misses_by_snr": _rate_by(utterances, spoken, missed, lambda u: u.snr_db),
        "misses_by_speaker": _worst_speakers(utterances, spoken, missed),
        "false_alarms_on": _false_alarm_causes(false, utterances, window_ms),
        "misses_fired_instead": _fired_instead(missed, utterances, detections, hit, window_ms),
    }


def _fired_instead(missed, utterances, detections, hit, window_ms: int) -> dict:
    """For each missed keyword: the wrong keyword that fired within its window, or "nothing"."""
    out = Counter()
    for i in missed:
        u = utterances[i]
        wrong = [d.label for d, h in zip(detections, hit)
                 if not h and u.onset_ms <= d.time_ms <= u.onset_ms + window_ms]
        out[f"{u.label} -> {wrong[0] if wrong else 'nothing'}"] += 1
    return dict(out.most_common())


def _rate_by(utterances, spoken, missed, key) -> dict:
    total = Counter(key(utterances[i]) for i in spoken)
    miss = Counter(key(utterances[i]) for i in missed)
    return {str(k): wilson_interval(miss[k], total[k]).as_dict() for k in sorted(total, key=str)}


def _worst_speakers(utterances, spoken, missed, top: int = 10) -> list[dict]:
    total = Counter(utterances[i].speaker for i in spoken)
    miss = Counter(utterances[i].speaker for i in missed)
    worst = sorted(total, key=lambda s: (-miss[s], -total[s], s))[:top]
    return [{"speaker": s, "missed": miss[s], "utterances": total[s]} for s in worst]


def _false_alarm_causes(false, utterances, window_ms: int) -> list[dict]:
    """What was playing when each false alarm fired: ``heard -> fired`` pairs, most common first."""
    onsets = np.array([u.onset_ms for u in utterances], np.int64)
    pairs = Counter()
    for d in false:
        i = int(np.searchsorted(onsets, d.time_ms, side="right")) - 1
        u = utterances[i] if i >= 0 and d.time_ms - onsets[i] <= window_ms else None
        heard = "noise" if u is None else (u.word if u.label != d.label else f"{u.word} (again)")
        pairs[(heard, d.label)] += 1
    return [{"heard": h, "fired": f, "count": c} for (h, f), c in pairs.most_common()]


def tf_streaming_stats(commands: list[Detection], utterances,
                       time_tolerance_ms: int = TF_TIME_TOLERANCE_MS) -> dict:
    """TF's ``StreamingAccuracyStats`` at the end of a stream (see the module docstring).

    ``commands``: every new command of the recognizer, ``_unknown_`` included.
    """
    truth = sorted(((u.label, u.onset_ms) for u in utterances), key=lambda g: g[1])
    found = [(d.label, d.time_ms - CLIP_MS) for d in commands if d.label != "_silence_"]
    correct = wrong = false_positive = 0
    matched: list[int] = []
    for label, t in found:
        reached = False
        for g_label, g_time in truth:
            if g_time > t + time_tolerance_ms:
                break
            if g_time < t - time_tolerance_ms:
                continue
            if g_label == label and g_time not in matched:
                correct += 1
            else:
                wrong += 1
            matched.append(g_time)  # TF counts an utterance matched twice twice
            reached = True
            break
        if not reached:
            false_positive += 1
    n = len(truth)

    def percent(k):
        return 100.0 * k / n if n else None

    return {"ground_truth": n, "time_tolerance_ms": time_tolerance_ms,
            "matched_percent": percent(len(matched)), "correct_percent": percent(correct),
            "wrong_percent": percent(wrong), "false_positive_percent": percent(false_positive),
            "correct": correct, "wrong": wrong, "false_positives": false_positive}
