"""The folder where ONNX exports are kept between processes, and opening them in ONNX Runtime on
CPU, without torch: a second `hybridrag ask` or service start opens the kept graphs (the text
encoder, the cross-encoders, the chat decoder's rewritten graph) instead of importing torch and
sentence-transformers to export them again. Each entry is one .onnx file named by the hash of
what it was made from; what a caller needs to run it (its inputs, its tokenizer) is kept in the
graph's own metadata (`METADATA_KEY`). hybridrag.onnx_export writes the entries."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

from hybridrag.atomic import atomic_open

log = logging.getLogger("hybridrag.onnx")

CACHE_ENV = "HYBRIDRAG_ONNX_CACHE"  # the cache folder; "off" exports at every load
CACHE_ENTRIES = 8  # exports kept, the most recently used (the default models take about 200 MB)
CACHE_FORMAT = "2"  # what the keys hash and how: a change invalidates every saved export
# the libraries that write, read or feed the graphs
EXPORT_LIBRARIES = ("torch", "onnx", "onnxruntime", "transformers", "sentence-transformers",
                    "tokenizers")
METADATA_KEY = "hybridrag"  # the graph's metadata entry holding what running it needs (JSON)
EXPORT_CODE = ("onnx_graphs.py", "token_features.py")  # what a model folder's export is made with


def cache_folder() -> Path | None:
    """Where exports are kept: $HYBRIDRAG_ONNX_CACHE, else the user's cache folder
    (~/.cache/hybridrag/onnx on Linux); None when the variable is "off"."""
    value = os.environ.get(CACHE_ENV, "")
    if value == "off":
        return None
    if value:
        return Path(value)
    import platformdirs

    return Path(platformdirs.user_cache_dir("hybridrag")) / "onnx"


def installed_version(distribution: str) -> str:
    """`distribution`'s installed version ("" when it is not installed), imported or not."""
    try:
        return f"{distribution} {metadata.version(distribution)}"
    except metadata.PackageNotFoundError:
        return ""


def cache_key(parts: Iterable[str], files: Iterable[Path] = ()) -> str:
    """The name of an entry made from `parts` (texts) and the contents of `files`, with the cache
    format and the versions of the libraries that write and read graphs."""
    digest = hashlib.sha256()
    for part in (CACHE_FORMAT, *map(installed_version, EXPORT_LIBRARIES), *parts):
        digest.update(part.encode())
        digest.update(b"\0")
    for path in files:
        digest.update(f"{path.name}\0{path.stat().st_size}\0".encode())
        with path.open("rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha256").digest())
    return digest.hexdigest()[:40]


def folder_files(folder: Path) -> list[Path]:
    """Every file under `folder` (a model's weights, configuration and tokenizer), in a fixed
    order."""
    return sorted(p for p in folder.rglob("*") if p.is_file())


def model_folder_key(kind: str, folder: Path, quantize: bool, *options: object) -> str:
    """The entry of the model saved in `folder` exported as `kind`: the hash of its files, of the
    code that exports it and feeds it, of the quantisation and of `options`."""
    code = [(Path(__file__).parent / name).read_text() for name in EXPORT_CODE]
    files = folder_files(folder)
    layout = [path.relative_to(folder).as_posix() for path in files]  # 1_Pooling/config.json too
    return f"{cache_key([kind, *code, str(quantize), *map(str, options), *layout], files)}.onnx"


def session_options(threads: int | None) -> Any:
    """`threads`: None lets ONNX Runtime use every core; a number fixes the thread count, with
    helper threads that sleep when idle (a service sharing its cores). Sleeping threads
    matter there: spinning ones slowed the whole service (bench/service_latency.py: hybrid p50
    13.0 -> 9.8 ms on 2 cores)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def open_session(path: Path, threads: int | None) -> Any:
    import onnxruntime

    return onnxruntime.InferenceSession(str(path), session_options(threads),
                                        providers=["CPUExecutionProvider"])


def graph_metadata(session: Any) -> dict[str, Any]:
    """What the exporter stored in the graph for its callers ({} when nothing)."""
    return json.loads(session.get_modelmeta().custom_metadata_map.get(METADATA_KEY, "{}"))


def kept_path(name: str) -> Path | None:
    """The kept file `name`, marked recently used (kept longest), or None (not kept, or the
    cache off)."""
    cache = cache_folder()
    if cache is None or not (cache / name).is_file():
        return None
    with contextlib.suppress(OSError):
        (cache / name).touch()
    return cache / name


def kept_session(name: str, threads: int | None) -> Any | None:
    """The kept export `name`, opened, or None (not kept, the cache off, or a file that does not
    open: it is exported again)."""
    path = kept_path(name)
    if path is None:
        return None
    try:
        return open_session(path, threads)
    except Exception as error:  # a damaged file (ONNX Runtime's own error types): export again
        log.warning("the kept ONNX export %s does not open (%s); exporting again", path, error)
        return None


def kept_bytes(name: str) -> bytes | None:
    """The kept file `name`'s bytes (a graph ONNX Runtime GenAI reads from memory), or None."""
    path = kept_path(name)
    return None if path is None else path.read_bytes()


def keep(source: Path | bytes, name: str) -> None:
    """Keep `source` (a graph file, or a graph's bytes) in the cache as `name`, atomically (a
    reader sees all of it or none), then drop all but the CACHE_ENTRIES most recently used. A
    graph with its weights in separate files (over 2 GB) is not kept; a cache that cannot be
    written is only logged."""
    cache = cache_folder()
    if cache is None:
        return
    if isinstance(source, Path) and any(p.suffix != ".onnx" for p in source.parent.iterdir()):
        return
    try:
        with atomic_open(cache / name, "wb") as handle:
            if isinstance(source, bytes):
                handle.write(source)
            else:
                with source.open("rb") as graph:
                    shutil.copyfileobj(graph, handle)
        kept = sorted(cache.glob("*.onnx"), key=lambda p: p.stat().st_mtime, reverse=True)
        for stale in kept[CACHE_ENTRIES:]:
            stale.unlink(missing_ok=True)
    except OSError as error:
        log.warning("could not keep the ONNX export in %s (%s); the next load exports again",
                    cache, error)
