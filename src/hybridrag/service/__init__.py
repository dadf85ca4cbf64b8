"""The search service. Run `hybridrag serve`, or `uvicorn --factory hybridrag.service:app_from_env`.

Environment for the factory: HYBRIDRAG_INDEX (default data/index), HYBRIDRAG_REVISION,
HYBRIDRAG_REPO (default .), HYBRIDRAG_PARAMS (default params.yaml), HYBRIDRAG_API_KEY,
HYBRIDRAG_WATCH_SECONDS (default 2; 0 turns reloading off), HYBRIDRAG_DEVICE (default auto),
HYBRIDRAG_RERANKER (default models/reranker), HYBRIDRAG_CHAT_MODEL (default: models/sft/lora if
trained, else models/base; "none" turns /ask off), HYBRIDRAG_CHAT_BASE (default models/base).
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI

from hybridrag.config import load_params
from hybridrag.service.state import ServiceConfig


def make_config(index: str = "data/index", revision: str | None = None, repo: str = ".",
                params: str = "params.yaml", cache_dir: str | None = None,
                watch_seconds: float = 2.0, device: str = "auto", connections: int = 8,
                api_key: str | None = None, reranker: str | None = "models/reranker",
                chat_model: str | None = "auto", chat_base: str = "models/base") -> ServiceConfig:
    """Service settings; retrieval, fusion and rerank defaults come from `params` when it exists.

    `chat_model` "auto" picks the LoRA-tuned chat model if trained, else the base model, else
    none; None or "none" serves no /ask.
    """
    loaded = load_params(params) if Path(params).is_file() else None
    repo_path = Path(repo).resolve()
    if chat_model == "auto":
        chat_model = next((str(p) for p in (Path("models/sft/lora"), Path(chat_base))
                           if (p / "config.json").is_file() or (p / "run.json").is_file()), None)
    return ServiceConfig(
        index_dir=Path(index), revision=revision or None, repo=repo_path,
        cache_dir=Path(cache_dir) if cache_dir else repo_path / ".hybridrag-cache" / "indexes",
        retrieval=loaded.retrieval if loaded else ServiceConfig().retrieval,
        fusion=loaded.fusion if loaded else ServiceConfig().fusion,
        api_key=api_key or None, watch_seconds=watch_seconds, connections=connections,
        device=device, reranker=Path(reranker) if reranker else None,
        rerank_depth=loaded.rerank.depth if loaded else ServiceConfig().rerank_depth,
        chat_model=Path(chat_model) if chat_model and chat_model != "none" else None,
        chat_base=Path(chat_base))


def app_from_env() -> FastAPI:
    from hybridrag.service.app import create_app

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return create_app(make_config(
        index=os.environ.get("HYBRIDRAG_INDEX", "data/index"),
        revision=os.environ.get("HYBRIDRAG_REVISION"),
        repo=os.environ.get("HYBRIDRAG_REPO", "."),
        params=os.environ.get("HYBRIDRAG_PARAMS", "params.yaml"),
        watch_seconds=float(os.environ.get("HYBRIDRAG_WATCH_SECONDS", "2")),
        device=os.environ.get("HYBRIDRAG_DEVICE", "auto"),
        api_key=os.environ.get("HYBRIDRAG_API_KEY"),
        reranker=os.environ.get("HYBRIDRAG_RERANKER", "models/reranker"),
        chat_model=os.environ.get("HYBRIDRAG_CHAT_MODEL", "auto"),
        chat_base=os.environ.get("HYBRIDRAG_CHAT_BASE", "models/base")))
