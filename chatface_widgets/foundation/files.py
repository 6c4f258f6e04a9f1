"""Writing output files safely: complete or not at all, and never onto an input.

    with atomic_path(out) as tmp:       # write to tmp; it replaces ``out`` only if the block succeeds
        image.save(tmp, format="PNG")
    check_not_input(out, photo_path)    # same file by device and inode, not by name (hard links)

Pure Python (no torch), so every layer can use it.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional


class OutputError(ValueError):
    """An output path that cannot be written safely; the message names the file and the fix."""


def same_file(a, b) -> bool:
    """True when both paths exist and are the same file (same device and inode: hard links count)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_not_input(output, *inputs) -> None:
    """Raise OutputError when ``output`` is (a link to) any of ``inputs``."""
    for source in inputs:
        if source is not None and same_file(output, source):
            raise OutputError(f"refusing to write {output}: it is the input file {source} "
                              "(or a link to it); choose another output path")


@contextmanager
def atomic_path(path, mode: Optional[int] = None) -> Iterator[Path]:
    """A temporary path beside ``path`` that is renamed onto it when the block ends without error.

    On failure the temporary file is removed and ``path`` is left as it was, so a reader never sees
    a truncated file. Renaming replaces the directory entry, so a hard link to the old file keeps
    the old content.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, mode if mode is not None else _default_mode())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _default_mode() -> int:
    """The permission bits a new file gets under the current umask (mkstemp alone gives 0o600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write_bytes(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_create(path, data: bytes) -> Path:
    """Write a NEW file complete or not at all: FileExistsError when ``path`` exists (never replaced)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, _default_mode())
        os.link(tmp_name, path)  # atomic, and fails if the name is taken
    finally:
        os.unlink(tmp_name)
    return path
