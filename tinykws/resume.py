"""A study's results file doubles as its resume point.

The quantization and pruning studies write their JSON after every finished
entry (atomically). Rerun with the same settings and the file is read back
and only the missing entries are computed; other settings in the same file
are refused rather than mixed.
"""

from __future__ import annotations

import json
from pathlib import Path

from tinykws.errors import TinyKWSError


def jsonable(value):
    """``value`` as it reads back from JSON (tuples become lists), for comparing settings."""
    return json.loads(json.dumps(value))


def load_partial(path: Path, settings: dict, empty: dict) -> dict:
    """The unfinished results at ``path`` made with ``settings``, or ``{"settings", **empty}``."""
    settings = jsonable(settings)
    if not path.exists():
        return {"settings": settings, **empty}
    try:
        old = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise TinyKWSError(f"{path} exists but is not readable JSON; remove it") from None
    if not isinstance(old, dict) or old.get("settings") != settings:
        raise TinyKWSError(f"{path} holds a study with other settings; choose another --out "
                           "or remove it")
    old.pop("complete", None)
    return old
