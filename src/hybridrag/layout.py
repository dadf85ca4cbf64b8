"""Where the pipeline writes what the commands, the service and the benchmarks read: the
workspace layout of dvc.yaml's outputs, declared once (tests/test_layout.py keeps the two
equal). Stage scripts take every path as a required argument from dvc.yaml instead."""

from __future__ import annotations

import os
from pathlib import Path

PARAMS = "params.yaml"
INGESTED = "data/ingested"  # ingest: the corpus, queries and qrels (BEIR layout)
CHUNKS = "data/chunks.jsonl"  # chunk
INDEX = "data/index"  # build_db: SQLite (documents, chunks, FTS5) + FAISS
RERANKER = "models/reranker"  # train_reranker
GATE = "models/gate"  # choose_gate: the answerability gate's threshold
BASE_MODEL = "models/base"  # prepare_base: the chat model's base, a plain HF folder
SFT_MODELS = "models/sft"  # train_lora / train_full: one folder per method
DPO_MODEL = "models/dpo"  # train_dpo
CHAT_EXPORT = "models/chat"  # export_chat: answers.chat_model on ONNX Runtime GenAI
SFT_DATA = "data/sft"  # chatml

BASE = "base"
DPO = "dpo"


def chat_model_folder(name: str, base_dir: str | os.PathLike[str] = BASE_MODEL,
                      sft_dir: str | os.PathLike[str] = SFT_MODELS,
                      dpo_dir: str | os.PathLike[str] = DPO_MODEL) -> Path:
    """Where the pipeline writes the chat model `name` (answers.chat_model): base, an SFT
    method, or dpo; any other value is taken as a folder."""
    if name == BASE:
        return Path(base_dir)
    if name == DPO:
        return Path(dpo_dir)
    if "/" not in name and os.sep not in name:
        return Path(sft_dir) / name
    return Path(name)
