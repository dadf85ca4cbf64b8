"""The PostgreSQL + pgvector backend: the index's documents, chunks, BM25 weights and vectors in
a schema per index version, searched with the same results as the embedded SQLite + FAISS."""
