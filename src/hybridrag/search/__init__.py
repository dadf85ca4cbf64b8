"""Retrieval: BM25 (FTS5), dense (FAISS), their fusion, filters and reranking."""
