"""Which index is served: the workspace's, or any committed revision's fetched through DVC."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from hybridrag.atomic import atomic_directory
from hybridrag.index import MANIFEST
from hybridrag.layout import BASE_MODEL, CHAT_EXPORT, INDEX, RERANKER, chat_model_folder

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


@dataclass(frozen=True)
class ChatFolders:
    """A revision's chat model as the answer path loads it."""

    model: Path  # the run folder (answers.chat_model)
    base: Path  # prepare_base's folder
    export: Path  # export_chat's folder (may hold no export)


def fetch_revision_chat(repo: Path, commit: str, cache_dir: Path, chat_model: str) -> ChatFolders:
    """Revision `commit`'s chat model `chat_model` (a name of answers.chat_model), its base and
    its ONNX export, fetched like its index (each once); LookupError when it has none."""
    folders = {}
    for name, path in (("base", BASE_MODEL), ("model", str(chat_model_folder(chat_model))),
                       ("export", CHAT_EXPORT)):
        target = cache_dir / f"{commit}-{path.replace('/', '-')}"
        if not target.is_dir() and not fetch_dvc_output(repo, commit, path, target):
            if name == "export":  # an older revision, exported nothing: transformers answers
                target.mkdir(parents=True, exist_ok=True)
            else:
                raise LookupError(f"revision {commit[:10]} has no {path} in its dvc.lock")
        folders[name] = target
    return ChatFolders(folders["model"], folders["base"], folders["export"])


def fetch_dvc_output(repo: Path, commit: str, path: str, target: Path) -> bool:
    """Copy DVC-tracked folder `path` of `commit` into `target` atomically; False if absent.
    LookupError when the revision lists it but its files are in neither the DVC cache nor the
    remote (or the remote cannot be read)."""
    from dvc.api import DVCFileSystem

    filesystem = DVCFileSystem(os.fspath(repo), rev=commit)
    if not filesystem.exists(path):
        return False
    try:
        with atomic_directory(target) as staging:
            filesystem.get(path, os.fspath(staging / "fetched"), recursive=True)
            for item in (staging / "fetched").iterdir():
                item.rename(staging / item.name)
            (staging / "fetched").rmdir()
    except Exception as error:  # DVC raises its own types for a missing or unreadable remote
        raise LookupError(f"{path} of revision {commit[:10]} is in neither the DVC cache nor "
                          f"the remote (was it `dvc push`ed where it was built?): "
                          f"{type(error).__name__}: {error}") from error
    return True
