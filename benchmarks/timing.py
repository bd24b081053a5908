"""Result rows of the benchmark suite; the timing itself is :func:`tinykws.timing.compare`.

``compare`` lives in the package because the pruning study times its models
the same way (same process, alternating, medians).
"""

from __future__ import annotations

from tinykws.timing import compare  # noqa: F401  (the suites import it from here)


def row(benchmark: str, ours: str, peer: str, ours_value: float, peer_value: float,
        unit: str, higher_is_better: bool, **extra) -> dict:
    """One result row; ``ratio`` > 1 always means ours is better."""
    ratio = ours_value / peer_value if higher_is_better else peer_value / ours_value
    return {"benchmark": benchmark, "ours": ours, "peer": peer, "ours_value": ours_value,
            "peer_value": peer_value, "unit": unit, "ratio": ratio, **extra}
