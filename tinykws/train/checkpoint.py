"""Checkpoints as plain ``.npz``: arrays plus a JSON string, never pickle.

A checkpoint holds ``meta`` (a JSON string: the model spec, labels, step,
history, ...) and arrays under prefixes ``param/``, ``optim/``. Loading never
unpickles (:func:`read_npz` refuses object arrays from their header) and
checks everything before use, so a truncated file, a foreign ``.npz``, an
array header that lies about its size or a checkpoint of another
architecture is a one-line :class:`TinyKWSError`, and an ``.npz`` smuggling
objects cannot run code.
"""

from __future__ import annotations

import json
import math
import tokenize
import zipfile
import zlib
from pathlib import Path

import numpy as np

from tinykws.atomic import save_npz
from tinykws.errors import TinyKWSError
from tinykws.features.spec import MICRO_DEFAULT, FeatureSpec
from tinykws.nn.model import Sequential, from_spec

FORMAT = "tinykws-checkpoint-1"
MAX_NPZ_BYTES = 256 * 2**20  # a TinyConv checkpoint is about 70 kB


def save_checkpoint(path: str | Path, model: Sequential, meta: dict,
                    optimizer_state: dict[str, np.ndarray] | None = None) -> Path:
    """Write model parameters, optimizer state and ``meta`` atomically."""
    meta = {**meta, "format": FORMAT, "model": model.spec()}
    arrays = {f"param/{k}": v for k, v in model.parameters().items()}
    # What a layer keeps but does not learn (batch norm's moving statistics).
    arrays.update({f"state/{i}.{k}": v for i, layer in enumerate(model.layers)
                   for k, v in getattr(layer, "state", {}).items()})
    arrays.update({f"optim/{k}": v for k, v in (optimizer_state or {}).items()})
    return save_npz(path, meta=np.array(json.dumps(meta)), **arrays)


def read_npz(path: str | Path, what: str, max_bytes: int = MAX_NPZ_BYTES) -> dict[str, np.ndarray]:
    """Every array of an ``.npz``, each checked before memory is set aside for it.

    ``np.load`` trusts a member's header: a few bytes declaring a shape of
    10**9 allocate gigabytes before the data is found missing. Here each
    ``.npy`` header is read first and its size compared with the bytes the
    zip directory records; object arrays (which need pickle) are refused
    from the header alone. Any problem is a TinyKWSError naming ``what``.
    """
    arrays = {}
    try:
        with zipfile.ZipFile(path) as z:
            members = z.infolist()
            if sum(m.file_size for m in members) > max_bytes:
                raise TinyKWSError(f"{what} unpacks to more than {max_bytes:,} bytes: refused")
            for m in members:
                if not m.filename.endswith(".npy"):
                    raise TinyKWSError(f"{what} holds {m.filename!r}, which is not a .npy array")
                with z.open(m) as f:
                    version = np.lib.format.read_magic(f)
                    read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                                   else np.lib.format.read_array_header_2_0)
                    shape, fortran, dtype = read_header(f)
                    if dtype.hasobject:
                        raise TinyKWSError(f"{what} holds objects that would need pickle: refused")
                    nbytes, stored = math.prod(shape) * dtype.itemsize, m.file_size - f.tell()
                    if nbytes != stored:
                        raise TinyKWSError(f"{what}: array {m.filename!r} of shape {shape} needs "
                                           f"{nbytes:,} bytes, the file holds {stored:,}")
                    data = np.frombuffer(bytearray(f.read(nbytes)), dtype)  # writable
                arrays[m.filename[:-4]] = data.reshape(shape, order="F" if fortran else "C")
    # NotImplementedError: a compression method; RuntimeError: encryption; TokenError: a
    # mangled .npy header (numpy tokenizes it before parsing).
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, EOFError, OSError, ValueError,
            zlib.error, tokenize.TokenError) as exc:
        raise TinyKWSError(f"{what} is truncated or not an .npz file ({exc})") from None
    return arrays


def load_checkpoint(path: str | Path) -> tuple[Sequential, dict, dict[str, np.ndarray]]:
    """Return ``(model, meta, optimizer_state)``; any problem is a TinyKWSError."""
    path = Path(path)
    if not path.is_file():
        raise TinyKWSError(f"checkpoint {path} does not exist")
    arrays = read_npz(path, f"checkpoint {path}")
    if "meta" not in arrays:
        raise TinyKWSError(f"{path} is not a tinykws checkpoint (no meta)")
    try:
        meta = json.loads(str(arrays.pop("meta")))
    except json.JSONDecodeError:
        raise TinyKWSError(f"{path} is not a tinykws checkpoint (bad meta)") from None
    if not isinstance(meta, dict):
        raise TinyKWSError(f"{path} is not a tinykws checkpoint (meta is not a JSON object)")
    if meta.get("format") != FORMAT:
        raise TinyKWSError(f"{path} is not a tinykws checkpoint (format {meta.get('format')!r})")
    input_shape = (*feature_spec_of_meta(meta, path).shape, 1)  # (frames, width, 1)
    try:
        model = from_spec(meta["model"])
        model.load_parameters({k[6:]: v for k, v in arrays.items() if k.startswith("param/")})
        _load_states(model, {k[6:]: v for k, v in arrays.items() if k.startswith("state/")})
        if tuple(model.input_shape) != input_shape:
            raise ValueError(f"it takes {model.input_shape} inputs, the features are "
                             f"{input_shape}")
        # One pass over a blank input proves the layers fit one another (shapes, strides).
        outputs = model.forward(np.zeros((1, *input_shape), np.float32)).shape[-1]
    except (KeyError, IndexError, AttributeError, ValueError, TypeError, ZeroDivisionError,
            MemoryError) as exc:  # MemoryError: a spec with absurd layer sizes
        raise TinyKWSError(f"checkpoint {path} does not match its architecture: "
                           f"{exc!s:.200}") from None
    labels = meta.get("labels")
    if not (isinstance(labels, list) and len(labels) == outputs
            and all(isinstance(label, str) for label in labels)):
        raise TinyKWSError(f"checkpoint {path}: its labels {labels!r:.80} do not name the "
                           f"model's {outputs} outputs")
    optim = {k[6:]: v for k, v in arrays.items() if k.startswith("optim/")}
    return model, meta, optim


def feature_spec_of_meta(meta: dict, path: str | Path = "checkpoint") -> FeatureSpec:
    """The features a checkpoint's model takes (``meta["feature_spec"]``); micro_speech's for
    checkpoints from before the feature modes. An unreadable entry is a TinyKWSError."""
    settings = meta.get("feature_spec")
    if settings is None:
        return MICRO_DEFAULT
    try:
        if not isinstance(settings, dict):
            raise TypeError("not a JSON object")
        return FeatureSpec.from_dict(settings)
    except (TinyKWSError, TypeError) as exc:
        raise TinyKWSError(f"checkpoint {path}: unreadable feature settings: {exc!s:.120}") from None


def _load_states(model: Sequential, states: dict[str, np.ndarray]) -> None:
    """Put ``"<layer>.<name>"`` arrays back into the layers' ``state``; a layer with state
    that the file lacks, or the reverse, is a mismatch (ValueError)."""
    wanted = {f"{i}.{k}": v for i, layer in enumerate(model.layers)
              for k, v in getattr(layer, "state", {}).items()}
    if set(wanted) != set(states):
        raise ValueError(f"layer state differs: expected {sorted(wanted)}, got {sorted(states)}")
    for name, value in states.items():
        if wanted[name].shape != value.shape:
            raise ValueError(f"state {name}: expected shape {wanted[name].shape}, got {value.shape}")
        wanted[name][...] = value
