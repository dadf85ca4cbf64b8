"""Which index is served: the workspace's, or any committed revision's fetched through DVC."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from hybridrag.atomic import atomic_directory
from hybridrag.index import MANIFEST
from hybridrag.layout import INDEX, RERANKER

INDEX_PATH = INDEX  # the build_db output in dvc.yaml
RERANKER_PATH = RERANKER  # the train_reranker output


@dataclass(frozen=True)
class IndexVersion:
    """What a response says about the index that answered it."""

    source: str  # "workspace" or "revision"
    revision: str | None  # git commit of the served revision (workspace: HEAD, if any)
    requested: str | None  # the tag/branch/commit asked for
    data_hash: str  # DVC's md5 of the index folder, as in dvc.lock
    path: str


def git_commit(repo: Path, revision: str = "HEAD") -> str | None:
    """The commit `revision` names in `repo`, or None when it names none (or no git repo)."""
    try:
        result = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}"],
                                cwd=repo, capture_output=True, text=True, timeout=30)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def fetch_revision_index(repo: Path, revision: str, cache_dir: Path) -> tuple[Path, str]:
    """(local folder, commit) of `revision`'s index, fetched through DVC once and cached.

    DVC reads the revision's dvc.lock and takes the files from the local DVC cache or, when
    they are not there, from the remote configured in that revision.
    """
    commit = git_commit(repo, revision)
    if commit is None:
        raise LookupError(f"revision {revision!r} is not a commit, tag or branch of {repo}")
    target = cache_dir / commit
    if not (target / MANIFEST).is_file() and not fetch_dvc_output(repo, commit, INDEX_PATH, target):
        raise LookupError(f"revision {revision!r} ({commit[:10]}) has no {INDEX_PATH} "
                          "in its dvc.lock; was `dvc repro` committed there?")
    return target, commit


def fetch_revision_reranker(repo: Path, commit: str, cache_dir: Path) -> Path | None:
    """The reranker trained in revision `commit`, fetched like its index; None if it has none."""
    target = cache_dir / f"{commit}-reranker"
    if target.is_dir() or fetch_dvc_output(repo, commit, RERANKER_PATH, target):
        return target
    return None


def fetch_dvc_output(repo: Path, commit: str, path: str, target: Path) -> bool:
    """Copy DVC-tracked folder `path` of `commit` into `target` atomically; False if absent."""
    from dvc.api import DVCFileSystem

    filesystem = DVCFileSystem(os.fspath(repo), rev=commit)
    if not filesystem.exists(path):
        return False
    with atomic_directory(target) as staging:
        filesystem.get(path, os.fspath(staging / "fetched"), recursive=True)
        for item in (staging / "fetched").iterdir():
            item.rename(staging / item.name)
        (staging / "fetched").rmdir()
    return True
