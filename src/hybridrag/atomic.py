"""Crash-safe writes: a reader sees the old file (or folder) or the new one, never half of one."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

_UMASK = os.umask(0o022)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK  # what open() would give; mkstemp/mkdtemp default to owner-only
DIRECTORY_MODE = 0o777 & ~_UMASK


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w") -> Iterator[IO]:
    """Open a temporary file beside `path`; on success it replaces `path`, on error it vanishes."""
    if mode not in {"w", "wb"}:
        raise ValueError(f"atomic_open supports modes 'w' and 'wb', not {mode!r}")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fchmod(handle.fileno(), FILE_MODE)
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        _fsync_directory(target.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    with atomic_open(path, "w") as handle:
        handle.write(text)


def _backup_path(target: Path) -> Path:
    return target.with_name(f".{target.name}.previous")


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield an empty staging folder; on success it replaces `path` whole, on error it is removed.

    The swap is two renames (old -> backup, staged -> path). A crash between them leaves
    the backup, which `recover_directory` (called here and by readers) puts back.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    recover_directory(target)
    for stale in target.parent.glob(f".{target.name}.*.staging"):  # left by a killed writer
        shutil.rmtree(stale, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".staging", dir=target.parent))
    try:
        staging.chmod(DIRECTORY_MODE)
        yield staging
        backup = _backup_path(target)
        if target.exists():
            os.rename(target, backup)
        os.rename(staging, target)
        _fsync_directory(target.parent)
        shutil.rmtree(backup, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def recover_directory(path: str | os.PathLike[str]) -> None:
    """Finish an interrupted `atomic_directory` swap: restore the backup if `path` is missing.

    Safe for readers to call: it never touches a writer's staging folder.
    """
    target = Path(path)
    backup = _backup_path(target)
    if backup.exists():
        if target.exists():
            shutil.rmtree(backup)
        else:
            os.rename(backup, target)
