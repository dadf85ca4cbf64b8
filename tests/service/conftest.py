import time

import pytest
from fastapi.testclient import TestClient

from hybridrag.service.app import create_app
from hybridrag.service.state import ServiceConfig

from ..conftest import FUSION, PARAMS, RETRIEVAL

ANSWERS = PARAMS.answers.updated(rerank=False)  # tests ask for reranking explicitly


def wait_ready(client: TestClient, headers: dict[str, str] | None = None, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.get("/ready", headers=headers).status_code == 200:
            return
        time.sleep(0.1)
    raise TimeoutError("the service never became ready")


def make_client(index_dir, **config) -> TestClient:
    return TestClient(create_app(ServiceConfig(RETRIEVAL, FUSION, ANSWERS, index_dir=index_dir,
                                               repo=index_dir.parent, watch_seconds=0,
                                               device="cpu", **config)))


@pytest.fixture(scope="module")
def client(small_index):
    with make_client(small_index) as test_client:
        wait_ready(test_client)
        yield test_client
