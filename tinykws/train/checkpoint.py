"""Checkpoints as plain ``.npz``: arrays plus a JSON string, never pickle.

A checkpoint holds ``meta`` (a JSON string: the model spec, labels, step,
history, ...) and arrays under prefixes ``param/``, ``optim/``. Loading uses
``allow_pickle=False`` and checks everything before use, so a truncated file,
a foreign ``.npz`` or a checkpoint of another architecture is a one-line
:class:`TinyKWSError`, and an ``.npz`` smuggling objects cannot run code.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from tinykws.atomic import save_npz
from tinykws.errors import TinyKWSError
from tinykws.nn.model import Sequential, from_spec

FORMAT = "tinykws-checkpoint-1"


def save_checkpoint(path: str | Path, model: Sequential, meta: dict,
                    optimizer_state: dict[str, np.ndarray] | None = None) -> Path:
    """Write model parameters, optimizer state and ``meta`` atomically."""
    meta = {**meta, "format": FORMAT, "model": model.spec()}
    arrays = {f"param/{k}": v for k, v in model.parameters().items()}
    arrays.update({f"optim/{k}": v for k, v in (optimizer_state or {}).items()})
    return save_npz(path, meta=np.array(json.dumps(meta)), **arrays)


def load_checkpoint(path: str | Path) -> tuple[Sequential, dict, dict[str, np.ndarray]]:
    """Return ``(model, meta, optimizer_state)``; any problem is a TinyKWSError."""
    path = Path(path)
    if not path.is_file():
        raise TinyKWSError(f"checkpoint {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise TinyKWSError(f"checkpoint {path} is truncated or not an .npz file ({exc})") from None
    except ValueError as exc:  # object arrays need pickle: refused
        raise TinyKWSError(f"checkpoint {path} holds objects that would need pickle: refused") from exc
    if "meta" not in arrays:
        raise TinyKWSError(f"{path} is not a tinykws checkpoint (no meta)")
    try:
        meta = json.loads(str(arrays.pop("meta")))
    except json.JSONDecodeError:
        raise TinyKWSError(f"{path} is not a tinykws checkpoint (bad meta)") from None
    if meta.get("format") != FORMAT:
        raise TinyKWSError(f"{path} is not a tinykws checkpoint (format {meta.get('format')!r})")
    try:
        model = from_spec(meta["model"])
        model.load_parameters({k[6:]: v for k, v in arrays.items() if k.startswith("param/")})
    except (KeyError, ValueError, TypeError) as exc:
        raise TinyKWSError(f"checkpoint {path} does not match its architecture: {exc}") from None
    optim = {k[6:]: v for k, v in arrays.items() if k.startswith("optim/")}
    return model, meta, optim
