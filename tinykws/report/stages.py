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
- changed inputs give a new key and a new folder: nothing stale is reused;
- a finished stage whose files were damaged since (truncated, edited,
  deleted, or a ``done.json`` that no longer parses) is recomputed from an
  empty folder, never reused: ``done.json`` records the sha256 of every file
  the stage wrote and of its result, and both are checked before reuse.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from tinykws import __version__
from tinykws.atomic import json_default, write_json

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


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def folder_checksums(work: Path) -> dict[str, str]:
    """sha256 of every file under ``work`` but ``done.json``, by path relative to ``work``."""
    return {p.relative_to(work).as_posix(): file_sha256(p)
            for p in sorted(work.rglob("*")) if p.is_file() and p.relative_to(work).as_posix() != DONE}


def result_sha256(result: dict) -> str:
    """sha256 of the result as canonical JSON, so an edited ``done.json`` is caught too."""
    return hashlib.sha256(json.dumps(result, sort_keys=True, default=str).encode()).hexdigest()


def damage(work: Path) -> str | None:
    """Why the finished stage in ``work`` cannot be reused, or None when it is intact."""
    try:
        record = json.loads((work / DONE).read_text())
        files, result = record["files"], record["result"]
        if record["result_sha256"] != result_sha256(result):
            return f"{DONE} was edited (its result's checksum differs)"
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
        return f"{DONE} is unreadable or has no checksums"
    for rel, sha in files.items():
        path = work / rel
        if not path.is_file():
            return f"{rel} is missing"
        if file_sha256(path) != sha:
            return f"{rel} is damaged (its checksum differs)"
    return None


def run_stage(root: str | Path, name: str, inputs: dict[str, Any],
              fn: Callable[[Path], dict]) -> StageResult:
    """Run ``fn`` in the stage's folder unless an intact finished result exists."""
    key = stage_key(name, inputs)
    work = Path(root) / "stages" / f"{name}-{key}"
    done = work / DONE
    if done.is_file():
        problem = damage(work)
        if problem is None:
            record = json.loads(done.read_text())
            return StageResult(name, key, work, record["result"], record["seconds"], True)
        # A damaged cache is thrown away whole: resuming from it could reuse the damage.
        print(f"[report] stage {name}: {problem}; recomputing it", file=sys.stderr, flush=True)
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    result = fn(work)
    seconds = time.perf_counter() - start
    result = json.loads(json.dumps(result, default=json_default))  # as it reads back, for the checksum
    write_json(done, {"stage": name, "key": key, "inputs": inputs, "seconds": seconds,
                      "result": result, "result_sha256": result_sha256(result),
                      "files": folder_checksums(work)})
    return StageResult(name, key, work, result, seconds, False)
