"""`uvicorn api.main:app`: the search service over the workspace index (or a revision's),
configured by HYBRIDRAG_* environment variables (see README, or `hybridrag serve --help`)."""

from hybridrag.service.app import create_app
from hybridrag.service.settings import config_from_env

app = create_app(config_from_env())
