"""Files written whole or not at all, and files checked by their sha256: the two things every module
that writes or verifies a file (images, downloads, weights) needs, written once.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHUNK = 1 << 20  # read 1 MiB at a time: a 550 MB weight file is hashed without holding it in memory


def _umask() -> int:
    """The process's umask (reading it means setting it: set it straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_file(path: Path, replace: bool = True) -> Iterator:
    """Open a temporary file beside ``path``; on success it is renamed to ``path`` (atomic on one file
    system), on any error it is deleted. Either the whole new file is there, or the old one is.
    ``replace=False``: a file at ``path`` is never replaced, even one that appeared while this one was
    written (FileExistsError; the new file is deleted). A symbolic link is written through, as ``open()``
    would: the link stays and its target gets the new file."""
    path = Path(path)
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as f:
            yield f
        # mkstemp makes the file private (0600): give it the mode a plain open() would, the replaced
        # file's own, or for a new file 0666 minus the umask (usually 0644)
        os.chmod(tmp, path.stat().st_mode & 0o7777 if path.is_file() else 0o666 & ~_umask())
        if replace:
            os.replace(tmp, path)
        else:
            _place_new(Path(tmp), path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _place_new(tmp: Path, path: Path) -> None:
    """Give ``tmp`` the name ``path`` only if nothing has that name: a hard link fails if it exists, in one
    step. File systems without hard links (FAT, some network shares) get a check just before the rename."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise FileExistsError(f"{path} already exists") from None
    except OSError:
        if path.exists() or path.is_symlink():
            raise FileExistsError(f"{path} already exists") from None
        os.replace(tmp, path)


def sha256_of(path: str | Path) -> str:
    """The sha256 of a file's bytes, as 64 hex digits, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()
