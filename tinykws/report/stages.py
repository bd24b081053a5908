"""Report stages cached by their inputs, resumable, written atomically.

A stage is a function ``fn(work_dir) -> dict`` plus the JSON-able inputs
that determine its result (settings, the keys of the stages it reads, the data
set's fingerprint, the tinykws version). Its key is the sha256 of those inputs;
it works in ``ROOT/stages/<name>-<key>/`` and is finished when ``done.json``
(its result dict) is written there, atomically and last. So:

- a second run with the same inputs reuses the result without running ``fn``;
- a run killed mid-stage finds the stage's folder without ``done.json`` and
  calls ``fn`` again on the same folder, where a stage that can resume (training
  reads its own ``last.npz``) picks up where it stopped;
- changed inputs give a new key and a new folder: nothing stale is reused.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from tinykws import __version__
from tinykws.atomic import write_json

DONE = "done.json"


def stage_key(name: str, inputs: dict[str, Any]) -> str:
    """First 16 hex digits of sha256 over the stage name, inputs and tinykws version."""
    text = json.dumps({"stage": name, "inputs": inputs, "tinykws": __version__},
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class StageResult:
    name: str
    key: str
    dir: Path
    data: dict  # what fn returned
    seconds: float  # wall time of the run that produced it
    cached: bool  # True when this run reused it


def run_stage(root: str | Path, name: str, inputs: dict[str, Any],
              fn: Callable[[Path], dict]) -> StageResult:
    """Run ``fn`` in the stage's folder unless a finished result exists."""
    key = stage_key(name, inputs)
    work = Path(root) / "stages" / f"{name}-{key}"
    done = work / DONE
    if done.is_file():
        record = json.loads(done.read_text())
        return StageResult(name, key, work, record["result"], record["seconds"], True)
    work.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    result = fn(work)
    seconds = time.perf_counter() - start
    write_json(done, {"stage": name, "key": key, "inputs": inputs, "seconds": seconds,
                      "result": result})
    return StageResult(name, key, work, result, seconds, False)
