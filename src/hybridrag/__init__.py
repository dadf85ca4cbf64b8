"""hybridrag: reproducible hybrid retrieval (SQLite FTS5 BM25 + FAISS dense) with DVC."""

__version__ = "0.1.0"

import logging as _logging

# bitsandbytes warns on import, on every CPU machine, that an optional kernels package for
# 4-bit CPU matmuls is missing; 4-bit training works without it (../shared/NOTES.md).
_logging.getLogger("bitsandbytes").setLevel(_logging.ERROR)
