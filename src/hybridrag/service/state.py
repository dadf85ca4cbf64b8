"""The served index and its hot swap: requests keep the index they started with."""

from __future__ import annotations

import importlib.util
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from hybridrag.answers.gate import Gate
from hybridrag.answers.index_gate import INDEX_GATE_FILE, for_index
from hybridrag.backends import open_searcher
from hybridrag.config import AnswersParams, FusionParams, RetrievalParams, StoreParams
from hybridrag.device import pick_device
from hybridrag.dvc_hash import dvc_directory_hash
from hybridrag.index import MANIFEST
from hybridrag.layout import BASE_MODEL, CHAT_EXPORT, INDEX
from hybridrag.search.half_scan import scan_in_half_precision
from hybridrag.search.rerank import CONFIG as RERANK_CONFIG
from hybridrag.search.searcher import Searcher
from hybridrag.service.versions import (
    IndexVersion,
    fetch_revision_chat,
    fetch_revision_index,
    fetch_revision_reranker,
    git_commit,
)

if TYPE_CHECKING:
    from hybridrag.chat.generation import ChatGenerator

log = logging.getLogger("hybridrag.service")


@dataclass(frozen=True)
class ServiceConfig:
    retrieval: RetrievalParams  # query-time settings from params.yaml
    fusion: FusionParams
    answers: AnswersParams  # /ask's defaults (sources, rerank, token budget)
    store: StoreParams  # where the index is read: its folder, or its PostgreSQL schema
    index_dir: Path = Path(INDEX)  # the workspace index
    revision: str | None = None  # serve this git revision's index instead
    repo: Path = Path(".")  # git + DVC repository holding the revisions
    cache_dir: Path = Path(".hybridrag-cache/indexes")  # fetched revisions
    api_key: str | None = None
    watch_seconds: float = 2.0  # workspace mode: reload when the index folder is replaced; 0 = off
    retire_seconds: float = 30.0  # a replaced index is closed this long after the swap
    connections: int = 8  # SQLite (or PostgreSQL) connections per loaded index
    device: str = "auto"
    encoder_backend: Literal["auto", "torch", "onnx"] = "auto"  # auto: onnx on CPU, else torch
    reranker: Path | None = None  # workspace mode: a train_reranker folder, enables rerank=true
    rerank_depth: int = 10  # candidates the reranker rescores
    chat_model: Path | None = None  # a prepare_base or fine-tuned run folder; enables /ask
    chat_base: Path = Path(BASE_MODEL)  # the base model (tokenizer, adapters' base)
    chat_export: Path = Path(CHAT_EXPORT)  # export_chat's model: answers.runtime onnx
    chat_from_revision: bool = False  # the chat model is the served revision's, fetched
    gate: Gate | None = None  # workspace mode: choose_gate's answerability gate (answers.gate)
    gate_folder: Path | None = None  # where `gate` was loaded from (an index's own threshold names it)
    half_scan: bool = True  # flat indexes: scan an fp16 copy, rescore exactly (hybridrag.search.half_scan)


@dataclass(frozen=True)
class ServedIndex:
    searcher: Searcher
    version: IndexVersion
    loaded_at: str
    gate: Gate | None = None  # the config's gate, with this index's own threshold where it has one


def _fingerprint(index_dir: Path) -> tuple[int, ...] | None:
    """Changes whenever build_db swaps in a new folder (new inode) or rewrites the manifest, and
    when index_folder writes the gate's threshold for the index (after the index itself)."""
    try:
        stat = (index_dir / MANIFEST).stat()
    except FileNotFoundError:
        return None
    try:
        gate = (index_dir / INDEX_GATE_FILE).stat()
    except FileNotFoundError:
        return stat.st_ino, stat.st_mtime_ns
    return stat.st_ino, stat.st_mtime_ns, gate.st_ino, gate.st_mtime_ns


def same_query_encoder(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Two manifest entries of an embedding set encode queries alike: the same model (package or
    bundled contents), token limit, and int8 or not (sets saved before backends were torch)."""
    same_keys = ("model", "bundled_sha256", "max_seq_length")
    return (all(new.get(key) == old.get(key) for key in same_keys)
            and new.get("backend", "torch") == old.get("backend", "torch"))


class IndexHolder:
    """Holds the current ServedIndex; `reload` builds the next one fully before swapping."""

    def __init__(self, config: ServiceConfig):
        self.config = config
        self.current: ServedIndex | None = None
        self.last_error: str | None = None
        self._reload_lock = threading.Lock()
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._fingerprint: tuple[int, ...] | None = None

    def load(self, revision: str | None = None) -> ServedIndex:
        """Open the workspace index, or `revision`'s (default: the configured one), and serve it."""
        revision = revision if revision is not None else self.config.revision
        with self._reload_lock:
            if revision:
                folder, commit = fetch_revision_index(self.config.repo, revision,
                                                      self.config.cache_dir)
                reranker = fetch_revision_reranker(self.config.repo, commit, self.config.cache_dir)
                source = "revision"
            else:
                folder, commit, source = self.config.index_dir, git_commit(self.config.repo), "workspace"
                fingerprint = _fingerprint(folder)
                reranker = self.config.reranker
                if reranker is not None and not (reranker / RERANK_CONFIG).is_file():
                    reranker = None  # not trained (yet); rerank=true gets a 400 that says so
            previous = self.current
            encoder = (previous.searcher.query_encoder
                       if previous and self._same_model(previous, folder) else None)
            data_hash = dvc_directory_hash(folder)  # once: the postgres store is named by it
            searcher = open_searcher(self.config.store, folder, self.config.retrieval,
                                     self.config.fusion, self.config.connections, data_hash,
                                     faiss_threads=1,  # one query vector per request
                                     device=self.config.device, query_encoder=encoder,
                                     encoder_backend=self._backend(), reranker=reranker,
                                     rerank_depth=self.config.rerank_depth)
            if self.config.half_scan and scan_in_half_precision(searcher.dense):
                log.info("dense search scans an fp16 copy of the vectors, rescored exactly")
            searcher.query_encoder.encode("warm up")  # load the models before taking traffic
            if reranker is not None:
                searcher.reranker.scores("warm up", ["warm up"])
            version = IndexVersion(source=source, revision=commit, requested=revision,
                                   data_hash=data_hash, path=str(folder))
            self.current = ServedIndex(searcher, version,
                                       datetime.now(UTC).isoformat(timespec="seconds"),
                                       for_index(self.config.gate, self.config.gate_folder, folder))
            if not revision:
                self._fingerprint = fingerprint
            self.last_error = None
            if previous is not None:  # requests still on it finish first; then free its pool
                retire = threading.Timer(self.config.retire_seconds, previous.searcher.close)
                retire.daemon = True
                retire.start()
            log.info("serving %s index %s (%s)", source, version.data_hash, commit or "no git")
            return self.current

    def _backend(self) -> Literal["torch", "onnx"]:
        if self.config.encoder_backend != "auto":
            return self.config.encoder_backend
        onnx_installed = importlib.util.find_spec("onnxruntime") is not None
        return "onnx" if onnx_installed and pick_device(self.config.device) == "cpu" else "torch"

    def _same_model(self, previous: ServedIndex, folder: Path) -> bool:
        """Whether the new index encodes queries with the same model (same package, or a
        bundled encoder with the same contents, run in int8 or not as its passages were), so
        the loaded encoder can be reused."""
        from hybridrag.index import read_manifest

        name = self.config.retrieval.embedding
        return same_query_encoder(previous.searcher.manifest["embeddings"][name],
                                  read_manifest(folder)["embeddings"].get(name, {}))

    def start_watching(self) -> None:
        """In workspace mode, poll the index folder and reload when `dvc repro` replaces it."""
        if self.config.revision or self.config.watch_seconds <= 0:
            return
        self._watcher = threading.Thread(target=self._watch, name="index-watcher", daemon=True)
        self._watcher.start()

    def _watch(self) -> None:
        while not self._stop.wait(self.config.watch_seconds):
            if self.current is None and self.last_error is None:
                continue  # the first load is under way: it reads what is there now
            fingerprint = _fingerprint(self.config.index_dir)
            if fingerprint is None or fingerprint == self._fingerprint:
                continue
            time.sleep(0.2)  # let a swap that is under way finish
            try:
                self.load()
            except LookupError as error:  # postgres: not published yet; try again next poll
                if self.last_error != f"waiting: {error}":
                    log.info("new index not in PostgreSQL yet; still serving the previous one")
                self.last_error = f"waiting: {error}"
            except Exception as error:  # keep serving the old index; say why
                self.last_error = f"reload failed: {error}"
                self._fingerprint = fingerprint
                log.exception("index reload failed; still serving the previous index")

    def stop(self) -> None:
        self._stop.set()
        if self._watcher:
            self._watcher.join(timeout=5)


class ChatHolder:
    """The chat model behind /ask, on the runtime answers.runtime names (transformers, or the
    ONNX export when it holds this model, with its LM head on the last position: /ask asks one
    question per call), loaded with the index so that /ask has no cold start."""

    def __init__(self, config: ServiceConfig):
        self.config = config
        self._generator: ChatGenerator | None = None
        self._lock = threading.Lock()

    def generator(self) -> ChatGenerator:
        with self._lock:
            if self._generator is None:
                from hybridrag.chat.runtime import load_generator

                config = self.config
                assert config.chat_model is not None  # a holder exists only with a chat model
                model, base, export = config.chat_model, config.chat_base, config.chat_export
                source = None
                if config.chat_from_revision:
                    commit = git_commit(config.repo, config.revision or "HEAD")
                    if commit is None:
                        raise LookupError(f"revision {config.revision!r} is not a commit of "
                                          f"{config.repo}")
                    fetched = fetch_revision_chat(config.repo, commit, config.cache_dir,
                                                  config.answers.chat_model)
                    model, base, export = fetched.model, fetched.base, fetched.export
                    source = str(config.chat_model)  # where export_chat found it in the revision
                self._generator = load_generator(
                    model, base, config.answers.runtime, config.answers.precision, export,
                    config.device, source)
            return self._generator
