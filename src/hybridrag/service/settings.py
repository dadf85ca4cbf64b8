"""The service's settings: from `hybridrag serve` options or HYBRIDRAG_* environment variables
(`uvicorn api.main:app`), with retrieval, fusion and answers settings from params.yaml."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from hybridrag.layout import (
    BASE_MODEL,
    CHAT_EXPORT,
    GATE,
    INDEX,
    PARAMS,
    RERANKER,
    chat_model_folder,
)

if TYPE_CHECKING:  # the state module imports torch: `hybridrag serve --help` stays fast
    from hybridrag.answers.gate import Gate
    from hybridrag.service.state import ServiceConfig

log = logging.getLogger("hybridrag.service")

# The environment `config_from_env` reads, with its defaults (also `hybridrag serve --help`).
ENVIRONMENT = {
    "HYBRIDRAG_INDEX": (INDEX, "the workspace index folder"),
    "HYBRIDRAG_REVISION": ("", "serve this git tag/branch/commit's index (fetched through DVC)"),
    "HYBRIDRAG_REPO": (".", "the git + DVC repository"),
    "HYBRIDRAG_PARAMS": (PARAMS, "retrieval, fusion, rerank, answers and store settings "
                                 "(store.backend: postgres reads $HYBRIDRAG_POSTGRES_"
                                 "READ_DSN, else $HYBRIDRAG_POSTGRES_DSN)"),
    "HYBRIDRAG_API_KEY": ("", "when set, every route but /health needs the X-API-Key header"),
    "HYBRIDRAG_WATCH_SECONDS": ("2", "reload when the workspace index is rebuilt; 0 turns it off"),
    "HYBRIDRAG_DEVICE": ("auto", "model device"),
    "HYBRIDRAG_RERANKER": (RERANKER, "train_reranker folder for rerank=true"),
    "HYBRIDRAG_CHAT_MODEL": ("auto", "chat model for /ask: 'auto' (answers.chat_model; with a "
                                     "revision, that revision's, fetched through DVC), a run "
                                     "folder, or 'none'"),
    "HYBRIDRAG_CHAT_BASE": (BASE_MODEL, "the chat model's base folder"),
    "HYBRIDRAG_CHAT_EXPORT": (CHAT_EXPORT, "export_chat's model, used when answers.runtime is "
                                           "onnx and it holds the chat model"),
    "HYBRIDRAG_GATE": (GATE, "choose_gate's answerability gate for /ask (answers.gate; "
                             "workspace mode only)"),
    "HYBRIDRAG_HALF_SCAN": ("1", "a flat vector index is searched through an fp16 copy (half "
                                 "its memory again), rescored to the exact results; 0 turns "
                                 "it off"),
}


def resolve_chat_model(chat_model: str | None, params_chat_model: str, chat_base: str
                       ) -> Path | None:
    """The /ask model folder: "auto" is answers.chat_model's folder (the base model when that
    is not trained yet, said in the log); "none" (or None) serves no /ask."""
    if not chat_model or chat_model == "none":
        return None
    if chat_model != "auto":
        return Path(chat_model)
    folder = chat_model_folder(params_chat_model, chat_base)
    for candidate in (folder, Path(chat_base)):
        if (candidate / "run.json").is_file():
            if candidate != folder:
                log.warning("answers.chat_model %r is not trained (%s missing); /ask uses %s",
                            params_chat_model, folder, candidate)
            return candidate
    log.warning("no chat model trained (%s, %s); /ask is off", folder, chat_base)
    return None


def make_config(index: str = INDEX, revision: str | None = None, repo: str = ".",
                params: str = PARAMS, cache_dir: str | None = None,
                watch_seconds: float = 2.0, device: str = "auto", connections: int = 8,
                api_key: str | None = None, reranker: str | None = RERANKER,
                chat_model: str | None = "auto", chat_base: str = BASE_MODEL,
                chat_export: str = CHAT_EXPORT, gate: str | None = GATE, half_scan: bool = True
                ) -> ServiceConfig:
    """Service settings; retrieval, fusion, rerank and answers settings come from `params`."""
    from hybridrag.config import load_params
    from hybridrag.service.state import ServiceConfig

    loaded = load_params(params)
    repo_path = Path(repo).resolve()
    from_revision = bool(revision) and chat_model == "auto"  # the revision's own chat model
    resolved = (chat_model_folder(loaded.answers.chat_model) if from_revision
                else resolve_chat_model(chat_model, loaded.answers.chat_model, chat_base))
    return ServiceConfig(
        retrieval=loaded.retrieval, fusion=loaded.fusion, answers=loaded.answers,
        store=loaded.store,
        index_dir=Path(index), revision=revision or None, repo=repo_path,
        cache_dir=Path(cache_dir) if cache_dir else repo_path / ".hybridrag-cache" / "indexes",
        api_key=api_key or None, watch_seconds=watch_seconds, connections=connections,
        device=device, reranker=Path(reranker) if reranker else None,
        rerank_depth=loaded.rerank.depth,
        chat_model=resolved, chat_base=Path(chat_base), chat_export=Path(chat_export),
        chat_from_revision=from_revision,
        gate=load_gate(gate, loaded.answers.gate and loaded.answers.rerank, bool(revision), device),
        gate_folder=Path(gate) if gate else None,
        half_scan=half_scan)


def load_gate(folder: str | None, wanted: bool, revision: bool, device: str) -> Gate | None:
    """The answerability gate /ask applies: choose_gate's, when answers.gate asks for it; none
    (said in the log) with a revision, whose reranker it was not chosen for, or when missing."""
    from hybridrag.answers.gate import Gate

    if not wanted or not folder:
        return None
    if revision:
        log.warning("the answerability gate is off: it is chosen for the workspace's reranker, "
                    "not the served revision's")
        return None
    return Gate.load(folder, required=False, device=device)


def env_flag(name: str, env: dict[str, str]) -> bool:
    """A 0/1 setting of the environment; anything else is an error that names it."""
    value = env[name].strip().lower()
    if value not in ("0", "1", "false", "true", "no", "yes"):
        raise ValueError(f"{name} must be 0 or 1, got {env[name]!r}")
    return value in ("1", "true", "yes")


def config_from_env() -> ServiceConfig:
    """Service settings from the HYBRIDRAG_* environment variables (see ENVIRONMENT)."""
    env = {name: os.environ.get(name, default) for name, (default, _) in ENVIRONMENT.items()}
    return make_config(
        index=env["HYBRIDRAG_INDEX"], revision=env["HYBRIDRAG_REVISION"], repo=env["HYBRIDRAG_REPO"],
        params=env["HYBRIDRAG_PARAMS"], watch_seconds=float(env["HYBRIDRAG_WATCH_SECONDS"]),
        device=env["HYBRIDRAG_DEVICE"], api_key=env["HYBRIDRAG_API_KEY"],
        reranker=env["HYBRIDRAG_RERANKER"], chat_model=env["HYBRIDRAG_CHAT_MODEL"],
        chat_base=env["HYBRIDRAG_CHAT_BASE"], chat_export=env["HYBRIDRAG_CHAT_EXPORT"],
        gate=env["HYBRIDRAG_GATE"], half_scan=env_flag("HYBRIDRAG_HALF_SCAN", env))
