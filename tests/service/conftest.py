
import pytest
from fastapi.testclient import TestClient

from hybridrag.service.app import create_app
from hybridrag.service.state import ServiceConfig
from support.waiting import wait_for

from ..conftest import FUSION, PARAMS, POSTGRES_STORE, RETRIEVAL

ANSWERS = PARAMS.answers.updated(rerank=False)  # tests ask for reranking explicitly


def wait_ready(client: TestClient, headers: dict[str, str] | None = None, timeout: float = 120) -> None:
    wait_for(lambda: client.get("/ready", headers=headers).status_code == 200, timeout,
             "the service to be ready", poll=0.1)


def make_client(index_dir, store=PARAMS.store, answers=ANSWERS, **config) -> TestClient:
    return TestClient(create_app(ServiceConfig(RETRIEVAL, FUSION, answers, store,
                                               index_dir=index_dir, repo=index_dir.parent,
                                               device="cpu", **{"watch_seconds": 0, **config})))


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def client(request, small_index):
    """The service over the small index, read from its folder or from a real PostgreSQL."""
    store = PARAMS.store
    if request.param == "postgres":
        request.getfixturevalue("published_small_index")
        store = POSTGRES_STORE
    with make_client(small_index, store) as test_client:
        wait_ready(test_client)
        test_client.backend = request.param
        yield test_client
