"""Download and unpack the Speech Commands archive, safely and resumably.

Steps, each of which can be interrupted without leaving a broken result:

1. **Fetch** the URL into ``DIR/<name>.part`` with a progress bar. If a
   ``.part`` file is left from an interrupted run and the server honours an
   HTTP ``Range`` request, the download continues where it stopped. When all
   bytes are there, the file is renamed to ``DIR/<name>`` (atomic).
2. **Verify**: for the official archives, size and SHA-256 as listed by
   TensorFlow Datasets (``url_checksums/speech_commands.txt``); for any
   archive, a complete gzip stream (its CRC-32 and length trailer are checked)
   holding a tar with the expected top-level folders.
3. **Extract** into a staging folder inside ``DIR``, refusing members with an
   absolute path, ``..``, links or device files, then move the top-level
   entries into ``DIR`` and write a marker file, so a second run finds the
   work done.

With no network the first step fails at once with a one-line
:class:`TinyKWSError` saying so.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import shutil
import sys
import tarfile
import urllib.error
import urllib.parse
import urllib.request
import zlib
from pathlib import Path, PurePosixPath

from tinykws.errors import TinyKWSError

DEFAULT_URL = "http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz"

# (bytes, sha256) from tensorflow/datasets, tensorflow_datasets/url_checksums/speech_commands.txt.
KNOWN_ARCHIVES = {
    "speech_commands_v0.02.tar.gz": (
        2428923189, "af14739ee7dc311471de98f5f9d2c9191b18aedfe957f4a6ff791c709868ff58"),
    "speech_commands_test_set_v0.02.tar.gz": (
        112563277, "cc2a00c1147c2254e9be3fa0f779d8c17421dc349b86366567a8edfa9acd51df"),
}

_CHUNK = 1 << 20  # bytes per read


def download_speech_commands(dest: str | os.PathLike, url: str = DEFAULT_URL, *,
                             timeout: float = 30.0, progress: bool = True) -> Path:
    """Fetch, verify and extract a Speech Commands archive into ``dest``; return ``dest``.

    Does nothing when a previous run completed. Raises :class:`TinyKWSError`
    for an unreachable URL, an HTTP error, an incomplete or corrupt archive, an
    unsafe member name, or an archive that is not a Speech Commands one.
    """
    dest = Path(dest)
    name = PurePosixPath(urllib.parse.urlparse(url).path).name or "speech_commands.tar.gz"
    archive = dest / name
    marker = dest / f".{name}.extracted"
    if marker.exists():
        return dest
    created = not dest.exists()
    dest.mkdir(parents=True, exist_ok=True)
    if not archive.exists():
        try:
            fetch(url, archive, timeout=timeout, progress=progress)
        except BaseException:
            if created and not any(dest.iterdir()):
                dest.rmdir()  # leave no empty folder behind a failed first attempt
            raise
    check_known_checksum(archive, progress=progress)
    extract_archive(archive, dest)
    from tinykws.atomic import write_text

    write_text(marker, f"{name} extracted\n")
    return dest


def fetch(url: str, target: Path, *, timeout: float = 30.0, progress: bool = True) -> Path:
    """Download ``url`` to ``target`` through ``target.part``, resuming a partial file."""
    from tqdm import tqdm

    part = target.with_name(target.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "tinykws"})
    if have and urllib.parse.urlparse(url).scheme in ("http", "https"):
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # the range starts at the end: the .part is complete
            os.replace(part, target)
            return target
        raise TinyKWSError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TinyKWSError(f"could not reach {url}: {reason}; offline? "
                           f"Use --data DIR with a local copy") from None
    with response:
        resumed = getattr(response, "status", 200) == 206
        if not resumed:
            have = 0
        length = response.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        received = have
        try:
            with open(part, "ab" if resumed else "wb") as f, tqdm(
                    total=total, initial=have, unit="B", unit_scale=True, unit_divisor=1024,
                    desc=target.name, file=sys.stderr, disable=not progress) as bar:
                while chunk := response.read(_CHUNK):
                    f.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
                f.flush()
                os.fsync(f.fileno())
        except (OSError, http.client.HTTPException) as exc:  # incl. timeouts, IncompleteRead
            raise TinyKWSError(f"{url}: download interrupted after {received} bytes ({exc}); "
                               f"run again to resume") from None
    if total is not None and received != total:
        raise TinyKWSError(f"{url}: download stopped after {received} of {total} bytes; "
                           f"run again to resume")
    os.replace(part, target)
    return target


def sha256_of(path: Path, progress: bool = False) -> str:
    from tqdm import tqdm

    digest = hashlib.sha256()
    with open(path, "rb") as f, tqdm(total=path.stat().st_size, unit="B", unit_scale=True,
                                     desc="sha256", file=sys.stderr, leave=False,
                                     disable=not progress) as bar:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            bar.update(len(chunk))
    return digest.hexdigest()


def check_known_checksum(archive: Path, progress: bool = False) -> None:
    """Size and SHA-256 of an official archive (by file name); other names are not checked here."""
    known = KNOWN_ARCHIVES.get(archive.name)
    if known is None:
        return
    size, sha256 = known
    actual = archive.stat().st_size
    if actual != size:
        raise TinyKWSError(f"{archive}: {actual} bytes, the official archive has {size}; "
                           f"delete it and download again")
    if sha256_of(archive, progress) != sha256:
        raise TinyKWSError(f"{archive}: SHA-256 differs from the official archive; "
                           f"delete it and download again")


def safe_member_name(name: str) -> str:
    """The member's path relative to the archive root, or raise if it could escape it."""
    path = PurePosixPath(name)
    if path.is_absolute() or name.startswith("\\") or ".." in path.parts:
        raise TinyKWSError(f"unsafe path in archive: {name!r}")
    parts = [p for p in path.parts if p != "."]
    return "/".join(parts)


def extract_archive(archive: Path, dest: Path) -> list[str]:
    """Stream-extract a ``.tar.gz`` into ``dest`` after checking every member; return top-level names.

    Only regular files and folders are written; the gzip trailer is checked
    after the last member, and the archive must hold ``_background_noise_/``
    (training archive) or ``_silence_/`` and ``_unknown_/`` (test-set archive).
    """
    staging = dest / f".{archive.name}.extracting"
    if staging.exists():
        shutil.rmtree(staging)  # left by an interrupted run
    staging.mkdir(parents=True)
    top: set[str] = set()
    try:
        with gzip.open(archive, "rb") as gz:
            with tarfile.open(fileobj=gz, mode="r|") as tar:
                for member in tar:
                    relative = safe_member_name(member.name)
                    if not relative:
                        continue
                    if not (member.isfile() or member.isdir()):
                        raise TinyKWSError(f"{archive}: refusing non-regular member {member.name!r}")
                    top.add(relative.split("/")[0])
                    member.name = relative
                    tar.extract(member, staging, filter="data")
            while gz.read(_CHUNK):  # the rest of the stream, so the CRC/length trailer is checked
                pass
        if not ("_background_noise_" in top or {"_silence_", "_unknown_"} <= top):
            raise TinyKWSError(f"{archive}: not a Speech Commands archive (top-level entries: "
                               f"{', '.join(sorted(top)) or 'none'})")
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise TinyKWSError(f"{archive}: incomplete or corrupt archive ({exc}); "
                           f"delete it and download again") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    for name in sorted(top):
        target = dest / name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
        os.replace(staging / name, target)
    shutil.rmtree(staging)
    return sorted(top)
