"""`uvicorn api.main:app`: the search service over the workspace index (or a revision's),
configured by HYBRIDRAG_* environment variables (see README, or `hybridrag serve --help`)."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # models come from local folders; never wait on a hub

from hybridrag.service.app import create_app  # noqa: E402
from hybridrag.service.settings import config_from_env  # noqa: E402

app = create_app(config_from_env())
