"""The hash DVC gives a directory output, computed without DVC: it names an index version."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path


def dvc_directory_hash(folder: Path) -> str:
    """The md5 DVC records in dvc.lock for a directory output (md5 of its sorted file list)."""
    entries = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest = hashlib.md5()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        entries.append({"md5": digest.hexdigest(), "relpath": path.relative_to(folder).as_posix()})
    entries.sort(key=lambda entry: entry["relpath"])
    return hashlib.md5(json.dumps(entries, sort_keys=True).encode()).hexdigest() + ".dir"
