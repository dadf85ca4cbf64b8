"""hybridrag: reproducible hybrid retrieval (SQLite FTS5 BM25 + FAISS dense) with DVC."""

__version__ = "0.1.0"
