"""The real service on loopback: schema fuzzing, 32 clients across index swaps, the page."""

import json
import shutil
import subprocess
import sys
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from hybridrag.atomic import atomic_directory
from hybridrag.records import Document
from hybridrag.remote import sse_events
from support.service_process import start_service, stop, wait_until_ready
from support.waiting import wait_for

from ..conftest import PARAMS, ROOT, build_small_index, make_documents, write_test_params

pytestmark = pytest.mark.slow
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def indexes(tmp_path_factory, encoder):
    """Two different indexes (A: 24 documents, B: 25) to serve and swap between."""
    root = tmp_path_factory.mktemp("live")
    build_small_index(root / "index-a", make_documents(), encoder)
    extra = Document("d99", "Extra", "An extra essay about radium and jazz.", "Ada", 1999,
                     ("music",), "music")
    build_small_index(root / "index-b", [*make_documents(), extra], encoder)
    return root


@pytest.fixture
def served(indexes, tmp_path, small_reranker, tiny_base):
    """`hybridrag serve` over a copy of index A, reloading 0.3 s after the folder is replaced,
    with a trained reranker (rerank=true) and a tiny chat model (/ask)."""
    served_dir = tmp_path / "index"
    shutil.copytree(indexes / "index-a", served_dir)
    servers = []

    def start(api_key: str = ""):
        process, url = start_service(["--index", str(served_dir), "--repo", str(tmp_path),
                                      "--watch", "0.3", "--reranker", str(small_reranker[1]),
                                      "--params", str(write_test_params(tmp_path)),
                                      "--chat-model", str(tiny_base), "--chat-base", str(tiny_base)],
                                     tmp_path / "server.log",
                                     {"HYBRIDRAG_API_KEY": api_key, "HF_HUB_OFFLINE": "1"})
        servers.append(process)
        wait_until_ready(f"{url}/ready", process, headers={"X-API-Key": api_key} if api_key else None)
        return url, served_dir

    yield start
    for process in servers:
        stop(process)


def schemathesis(url: str, workdir: Path, *extra: str) -> subprocess.CompletedProcess:
    st = Path(sys.executable).parent / "st"
    # All checks but one: a year range whose start is after its end ("2222..-42") matches the
    # pattern a schema can state, and is refused with a 422 by design (a malformed range).
    return subprocess.run([str(st), "run", f"{url}/openapi.json", "--checks", "all",
                           "--exclude-checks", "positive_data_acceptance", "-n", "150",
                           "--seed", "7", "--phases", "examples,coverage,fuzzing", *extra],
                          capture_output=True, text=True, timeout=600, cwd=workdir)


def test_schema_fuzzing_finds_no_server_error(served, tmp_path):
    url, _ = served()
    result = schemathesis(url, tmp_path)
    assert result.returncode == 0, result.stdout[-6000:]
    assert "No issues found" in result.stdout or "passed" in result.stdout


def test_schema_fuzzing_with_api_key_checks_auth_too(served, tmp_path):
    url, _ = served(api_key="k3y")
    assert httpx.get(f"{url}/hybrid_search", params={"query": "x"}).status_code == 401
    result = schemathesis(url, tmp_path, "-H", "X-API-Key: k3y")
    assert result.returncode == 0, result.stdout[-6000:]


def test_uvicorn_serves_api_main_configured_by_the_environment(indexes, tmp_path, tiny_base):
    """`uvicorn api.main:app`, as the README runs it, from the repository root."""
    from support.ports import free_port
    from support.service_process import start_process

    port = free_port()
    env = {"HYBRIDRAG_INDEX": str(indexes / "index-a"), "HYBRIDRAG_PARAMS": str(
        write_test_params(tmp_path)), "HYBRIDRAG_REPO": str(tmp_path), "HYBRIDRAG_WATCH_SECONDS": "0",
        "HYBRIDRAG_CHAT_MODEL": str(tiny_base), "HYBRIDRAG_CHAT_BASE": str(tiny_base),
        "HYBRIDRAG_DEVICE": "cpu", "HYBRIDRAG_API_KEY": ""}
    uvicorn = Path(sys.executable).parent / "uvicorn"
    process = start_process([str(uvicorn), "api.main:app", "--host", "127.0.0.1", "--port", str(port)],
                            tmp_path / "uvicorn.log", env, ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(f"{url}/ready", process)
        hits = httpx.get(f"{url}/hybrid_search", params={"query": "jazz", "k": 3}).json()["results"]
        assert len(hits) == 3 and hits[0]["rank"] == 1
        asked = httpx.get(f"{url}/ask", params={"query": "jazz", "max_new_tokens": 4}, timeout=60)
        assert asked.status_code == 200 and len(asked.json()["sources"]) == PARAMS.answers.sources
    finally:
        stop(process)


def test_32_clients_across_eight_index_swaps_never_fail(served, indexes):
    """32 clients search while the index folder is replaced eight times, as `dvc repro` would:
    every request succeeds, and both indexes answer. Each swap waits until the service serves
    the new version and has answered from it (no fixed sleeps; throughput is a benchmark's)."""
    url, served_dir = served()
    done = threading.Event()
    statuses: Counter[str] = Counter()
    hashes: Counter[str] = Counter()
    lock = threading.Lock()

    def client(n: int) -> None:
        queries = ["radium", "jazz improvisation", "tomato berry", "essay", "DNA structure"]
        with httpx.Client(timeout=60) as http:
            i = n
            while not done.is_set():
                try:
                    response = http.get(f"{url}/hybrid_search",
                                        params={"query": queries[i % len(queries)], "k": 5})
                    outcome = str(response.status_code)
                    data_hash = response.json()["index"]["data_hash"] if outcome == "200" else None
                except httpx.HTTPError as error:
                    outcome, data_hash = type(error).__name__, None
                with lock:
                    statuses[outcome] += 1
                    if data_hash:
                        hashes[data_hash] += 1
                i += 1

    def served_hash() -> str:
        return httpx.get(f"{url}/version", timeout=30).json()["index"]["data_hash"]

    threads = [threading.Thread(target=client, args=(n,)) for n in range(32)]
    for thread in threads:
        thread.start()
    swaps = 8
    try:
        for swap in range(swaps):
            before = served_hash()
            source = indexes / ("index-b" if swap % 2 == 0 else "index-a")
            with atomic_directory(served_dir) as staging:
                shutil.copytree(source, staging, dirs_exist_ok=True)
            wait_for(lambda old=before: served_hash() != old, 60, f"swap {swap + 1} to be served")
            now = served_hash()
            wait_for(lambda new=now, seen=hashes[now]: hashes[new] >= seen + 32, 60,
                     f"answers after swap {swap + 1}")
    finally:
        done.set()
        for thread in threads:
            thread.join()
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "load-test.json").write_text(json.dumps(
        {"clients": 32, "swaps": swaps, "responses": dict(statuses),
         "answers_per_index": dict(hashes)}, indent=2))
    assert set(statuses) == {"200"}, statuses
    assert len(hashes) == 2, hashes  # both indexes answered


def test_eight_parallel_ask_clients_get_the_answers_of_sequential_calls(indexes, tmp_path,
                                                                        varied_tiny_base,
                                                                        onnx_chat):
    """The chat model on ONNX Runtime GenAI, shared by concurrent requests: 8 clients at once,
    on /ask and on /ask/stream, get exactly the answers that one-at-a-time calls get."""
    params = write_test_params(tmp_path, runtime="onnx", precision="fp32", max_new_tokens=16)
    process, url = start_service(["--index", str(indexes / "index-a"), "--repo", str(tmp_path),
                                  "--watch", "0", "--params", str(params),
                                  "--chat-model", str(varied_tiny_base),
                                  "--chat-base", str(varied_tiny_base),
                                  "--chat-export", str(onnx_chat)], tmp_path / "server.log",
                                 {"HYBRIDRAG_API_KEY": ""})
    queries = ["radium decay", "jazz improvisation", "tomato berry", "the baroque fugue",
               "DNA structure", "heat engines", "natural selection", "electric guitar"]

    def ask(query: str) -> dict:
        response = httpx.get(f"{url}/ask", params={"query": query}, timeout=120)
        assert response.status_code == 200, response.text
        return response.json()

    def ask_streaming(query: str) -> dict:
        with httpx.stream("GET", f"{url}/ask/stream", params={"query": query},
                          timeout=120) as response:
            assert response.status_code == 200
            received = list(sse_events(response.iter_lines()))
        assert received[-1][0] == "answer"
        text = "".join(data["text"] for name, data in received if name == "token")
        assert text.strip() == received[-1][1]["answer"]
        return received[-1][1]

    def essentials(reply: dict) -> tuple:
        return reply["answer"], reply["cited"], reply["stopped"], [
            (s["doc_id"], s["text"]) for s in reply["sources"]]

    try:
        wait_until_ready(f"{url}/ready", process)
        sequential = [ask(q) for q in queries]
        assert {r["runtime"] for r in sequential} == {"onnx fp32"}
        assert len({r["answer"] for r in sequential}) > 1  # the questions get different answers
        with ThreadPoolExecutor(max_workers=8) as pool:
            parallel = list(pool.map(ask, queries))
            streamed = list(pool.map(ask_streaming, queries))
        # `hybridrag ask --server`: the service's answers, one JSON object per line for many
        cli = [sys.executable, "-m", "hybridrag.cli", "ask", "--server", url]
        from_cli = subprocess.run([*cli, "-", "--json"], input="\n".join(queries[:2]) + "\n",
                                  capture_output=True, text=True, timeout=300, check=True)
        printed = subprocess.run([*cli, queries[0]], capture_output=True, text=True,
                                 timeout=300, check=True).stdout
        refused = subprocess.run([*cli, queries[0], "--max-new-tokens", "100000"],
                                 capture_output=True, text=True, timeout=300)
    finally:
        stop(process)
    expected = [essentials(r) for r in sequential]
    assert [essentials(r) for r in parallel] == expected
    assert [essentials(r) for r in streamed] == expected
    assert [essentials(json.loads(line)) for line in from_cli.stdout.splitlines()] == expected[:2]
    assert printed.lstrip().startswith(sequential[0]["answer"])
    assert f"[1] {sequential[0]['sources'][0]['title']}  [" in printed  # the sources listed
    assert refused.returncode == 2 and "max_new_tokens: Input should be less than or equal" \
        in refused.stderr


def test_search_page_in_headless_chromium(served):
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        pytest.skip("Debian's chromium and chromium-driver are not installed (make test installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    url, _ = served()
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--window-size=1200,1000"):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(driver), options=options)
    try:
        browser.get(url + "/")
        wait = WebDriverWait(browser, 30)
        wait.until(expected_conditions.text_to_be_present_in_element((By.ID, "index-version"), "docs"))
        browser.find_element(By.ID, "query").send_keys("radium decay")
        browser.find_element(By.ID, "topic").send_keys("physics")
        browser.find_element(By.ID, "search-button").click()
        wait.until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "article.hit")))
        hits = browser.find_elements(By.CSS_SELECTOR, "article.hit")
        assert hits[0].get_attribute("data-doc-id") in {"d00", "d01"}
        marked = {m.text.lower() for m in hits[0].find_elements(By.CSS_SELECTOR, ".snippet mark")}
        assert marked == {"radium", "decay"}
        assert "bm25" in hits[0].find_element(By.CSS_SELECTOR, "table.scores").text
        assert all("topic: physics" in hit.text for hit in hits)
        assert "?query=radium+decay" in browser.current_url
        ARTIFACTS.mkdir(exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / "search-page.png"))
        browser.find_element(By.ID, "query").clear()
        browser.find_element(By.NAME, "year").send_keys("2000..1990")
        browser.find_element(By.ID, "query").send_keys("x")
        browser.find_element(By.ID, "search-button").click()
        wait.until(expected_conditions.visibility_of_element_located((By.ID, "error")))
        assert "year" in browser.find_element(By.ID, "error").text
    finally:
        browser.quit()
