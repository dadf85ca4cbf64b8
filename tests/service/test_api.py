"""The search API in-process: results, explanations, versions and every kind of bad input."""


import pytest

from hybridrag.dvc_hash import dvc_directory_hash
from hybridrag.postgres.publish import schema_for
from hybridrag.remote import sse_events
from hybridrag.service.schemas import MAX_QUERY_CHARS
from support.waiting import wait_for

from .conftest import ANSWERS, make_client, wait_ready


def test_search_returns_explained_results_and_the_index_version(client, small_index):
    response = client.get("/hybrid_search", params={"query": "radium decay", "k": 3})
    assert response.status_code == 200
    body = response.json()
    assert body["mode"] == "hybrid" and body["k"] == 3 and body["took_ms"] > 0
    assert body["index"]["data_hash"] == dvc_directory_hash(small_index)
    assert body["index"]["source"] == "workspace" and body["index"]["documents"] == 24
    assert body["index"]["store"] == ("sqlite" if client.backend == "sqlite" else
                                      f"postgres:{schema_for(dvc_directory_hash(small_index))}")
    first = body["results"][0]
    assert first["doc_id"] in {"d00", "d01"} and first["rank"] == 1
    assert first["bm25"]["rank"] >= 1 and first["dense"]["rank"] >= 1
    assert "<mark>radium</mark>" in first["snippet"]
    assert first["author"] in {"Marie Curie", "Alan Turing"} and first["keywords"][0] == "physics"
    assert body["fusion"]["method"] == "weighted"


def test_fusion_can_be_chosen_per_request(client):
    body = client.get("/hybrid_search", params={"query": "jazz", "k": 2, "fusion": "rrf",
                                                 "rrf_k": 10}).json()
    top = body["results"][0]
    assert body["fusion"]["method"] == "rrf" and body["fusion"]["rrf_k"] == 10
    assert top["score"] == pytest.approx(sum(1 / (10 + top[r]["rank"]) for r in ("bm25", "dense")
                                             if top[r]))
    bm25_only = client.get("/hybrid_search", params={"query": "jazz", "mode": "bm25"}).json()
    assert bm25_only["fusion"] is None and all(r["dense"] is None for r in bm25_only["results"])


def test_filters_are_applied(client):
    body = client.get("/hybrid_search", params=[("query", "essay"), ("k", 10), ("author", "curie"),
                                                ("year", "1900..1905"), ("keyword", "physics")]).json()
    assert sorted(r["doc_id"] for r in body["results"]) == ["d00", "d02", "d04"]


def test_language_and_file_type_filters(client):
    def found(*params):
        body = client.get("/hybrid_search", params=[("query", "essay"), ("k", 24), *params]).json()
        return sorted(r["doc_id"] for r in body["results"])

    assert found(("language", "FR")) == [f"d{n}" for n in range(16, 24)]
    assert found(("file_type", "pdf")) == [f"d{n:02d}" for n in range(8)]
    assert found(("file_type", "pdf"), ("language", "fr")) == []
    bad = client.get("/hybrid_search", params={"query": "x", "file_type": "xlsx"})
    assert bad.status_code == 422 and "file_type" in bad.text


def test_snippets_escape_html(client):
    body = client.get("/hybrid_search", params={"query": "<script>alert(1)</script> jazz"}).json()
    assert all("<script>" not in r["snippet"] for r in body["results"])


@pytest.mark.parametrize("params,field,message", [
    ({"query": ""}, "query", "at least 1 character"),
    ({"query": "   \t "}, "query", "not only whitespace"),
    ({}, "query", "Field required"),
    ({"query": "x", "k": 0}, "k", "greater than or equal to 1"),
    ({"query": "x", "k": 101}, "k", "less than or equal to 100"),
    ({"query": "x", "k": "ten"}, "k", "valid integer"),
    ({"query": "x" * (MAX_QUERY_CHARS + 1)}, "query", f"at most {MAX_QUERY_CHARS} characters"),
    ({"query": "x", "colour": "red"}, "colour", "Extra inputs are not permitted"),
    ({"query": "x", "year": "19x9"}, "year", "year must look like"),
    ({"query": "x", "year": "2000..1990"}, "year", "is empty"),
    ({"query": "x", "mode": "fuzzy"}, "mode", "'bm25', 'dense' or 'hybrid'"),
    ({"query": "x", "dense_weight": 1.5}, "dense_weight", "less than or equal to 1"),
])
def test_bad_input_gets_422_naming_the_field(client, params, field, message):
    response = client.get("/hybrid_search", params=params)
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert any(e["loc"][-1] == field and message in e["msg"] for e in errors), errors


@pytest.mark.parametrize("query", ['"unbalanced', "a NEAR b", "title:foo", "-minus", "foo*",
                                   "AND OR NOT", "(", "^", "\u00e9t\u00e9", "'; DROP TABLE x; --"])
def test_fts5_syntax_in_queries_is_just_text(client, query):
    assert client.get("/hybrid_search", params={"query": query}).status_code == 200


def test_documents_by_id(client):
    body = client.get("/documents/d05").json()
    assert body["doc_id"] == "d05" and body["year"] == 1905 and body["chunks"][0]["position"] == 0
    assert body["text"][body["chunks"][0]["start"]:body["chunks"][0]["end"]]
    missing = client.get("/documents/no/such/doc")
    assert missing.status_code == 404 and "no/such/doc" in missing.json()["detail"]


def test_health_ready_version(client):
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").json()["chunks"] > 24
    version = client.get("/version").json()
    assert version["package_version"] and version["index"]["embedding_model"]


def test_openapi_documents_every_route(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/hybrid_search", "/documents/{doc_id}", "/health", "/ready", "/version",
            "/admin/reload"} <= set(paths)
    names = {p["name"] for p in paths["/hybrid_search"]["get"]["parameters"]}
    assert {"query", "k", "mode", "fusion", "author", "year", "topic", "keyword"} <= names


def test_search_page_is_served(client):
    page = client.get("/")
    assert page.status_code == 200 and "hybridrag search" in page.text


def test_api_key_protects_everything_but_health(small_index):
    with make_client(small_index, api_key="s3cret") as secured:
        wait_ready(secured, headers={"X-API-Key": "s3cret"})
        assert secured.get("/health").status_code == 200
        for path in ("/hybrid_search?query=x", "/documents/d01", "/ready", "/version"):
            assert secured.get(path).status_code == 401, path
            assert secured.get(path, headers={"X-API-Key": "wrong"}).status_code == 401, path
        ok = secured.get("/hybrid_search", params={"query": "x"}, headers={"X-API-Key": "s3cret"})
        assert ok.status_code == 200
        reload = secured.post("/admin/reload", headers={"X-API-Key": "s3cret"})
        assert reload.status_code == 200 and reload.json()["documents"] == 24
        unknown = secured.post("/admin/reload", params={"revision": "no-such-tag"},
                               headers={"X-API-Key": "s3cret"})
        assert unknown.status_code == 404 and "no-such-tag" in unknown.json()["detail"]


def test_admin_reload_needs_an_api_key_configured(client):
    response = client.post("/admin/reload")
    assert response.status_code == 403 and "HYBRIDRAG_API_KEY" in response.json()["detail"]


def test_not_ready_is_503_with_the_reason(small_index, tmp_path):
    with make_client(tmp_path / "missing-index") as broken:
        wait_for(lambda: "not loaded" in broken.get("/ready").json().get("detail", ""),
                 what="the load to fail")
        response = broken.get("/hybrid_search", params={"query": "x"})
        assert response.status_code == 503
        assert "dvc repro build_db" in response.json()["detail"]


def test_rerank_without_a_reranker_is_a_400_that_says_so(client):
    response = client.get("/hybrid_search", params={"query": "jazz", "rerank": "true"})
    assert response.status_code == 400 and "train_reranker" in response.json()["detail"]
    assert client.get("/ask", params={"query": "jazz"}).status_code == 404  # no chat model


def test_rerank_and_ask(small_index, small_reranker, tiny_base):
    _, reranker, _, _ = small_reranker
    with make_client(small_index, reranker=reranker, rerank_depth=6, chat_model=tiny_base,
                     chat_base=tiny_base) as served:
        wait_ready(served)
        plain = served.get("/hybrid_search", params={"query": "the baroque fugue", "k": 6}).json()
        body = served.get("/hybrid_search", params={"query": "the baroque fugue", "k": 3,
                                                    "rerank": "true"}).json()
        assert body["rerank_depth"] == 6 and plain["rerank_depth"] is None
        assert len(body["results"]) == 3
        before = {hit["doc_id"]: hit["rank"] for hit in plain["results"]}
        for hit in body["results"]:
            assert hit["rerank"]["first_stage_rank"] == before[hit["doc_id"]]
        assert all(hit["rerank"] is None for hit in plain["results"])
        asked = served.get("/ask", params={"query": "the baroque fugue", "sources": 2,
                                           "max_new_tokens": 4})
        assert asked.status_code == 200
        answer = asked.json()
        assert [s["number"] for s in answer["sources"]] == [1, 2]
        assert [s["doc_id"] for s in answer["sources"]] == [h["doc_id"] for h in plain["results"][:2]]
        assert answer["chat_model"] == str(tiny_base) and answer["reranked"] is False
        bad = served.get("/ask", params={"query": " ", "sources": 11})
        assert bad.status_code == 422
        assert {e["loc"][-1] for e in bad.json()["detail"]} == {"query", "sources"}
        assert "/ask" in served.get("/openapi.json").json()["paths"]


def test_ask_streams_the_answer_it_gives_whole(small_index, varied_tiny_base, onnx_chat):
    settings = ANSWERS.updated(runtime="onnx", precision="fp32", max_new_tokens=12)
    with make_client(small_index, chat_model=varied_tiny_base, chat_base=varied_tiny_base,
                     chat_export=onnx_chat, answers=settings) as served:
        wait_ready(served)
        whole = served.get("/ask", params={"query": "the baroque fugue"}).json()
        assert whole["runtime"] == "onnx fp32" and whole["answer"]
        with served.stream("GET", "/ask/stream", params={"query": "the baroque fugue"}) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            received = list(sse_events(response.iter_lines()))
        names = [name for name, _ in received]
        assert names[-1] == "answer" and set(names[:-1]) == {"token"} and len(names) > 2
        streamed = received[-1][1]
        assert "".join(data["text"] for _, data in received[:-1]).strip() == streamed["answer"]
        for field in ("answer", "cited", "stopped", "sources", "runtime", "chat_model"):
            assert streamed[field] == whole[field], field
        bad = served.get("/ask/stream", params={"query": " "})
        assert bad.status_code == 422  # before any event: a plain error, not a broken stream
        schema = served.get("/openapi.json").json()["paths"]["/ask/stream"]["get"]
        assert "text/event-stream" in schema["responses"]["200"]["content"]


def test_the_loaded_query_encoder_is_reused_only_for_the_same_model_limit_and_backend():
    from hybridrag.service.state import same_query_encoder

    entry = {"model": "m", "max_seq_length": 256, "file": "vectors-base.faiss"}
    assert same_query_encoder(entry, {**entry, "backend": "torch"})  # older sets were torch
    assert not same_query_encoder(entry, {**entry, "backend": "onnx_int8"})
    assert not same_query_encoder(entry, {**entry, "max_seq_length": 128})
    assert not same_query_encoder({**entry, "bundled_sha256": "a"}, {**entry, "bundled_sha256": "b"})


def test_ask_through_the_gate_says_why_it_did_not_answer(small_index, small_reranker, tiny_base):
    from hybridrag.answers.gate import Gate
    from hybridrag.answers.prompt import NO_ANSWER

    _, reranker, _, _ = small_reranker
    settings = ANSWERS.updated(rerank=True, max_new_tokens=4)
    never = Gate(float("inf"), "a test that turns every question away")
    with make_client(small_index, reranker=reranker, chat_model=tiny_base, chat_base=tiny_base,
                     answers=settings, gate=never) as served:
        wait_ready(served)
        asked = served.get("/ask", params={"query": "the baroque fugue", "sources": 2}).json()
        unranked = served.get("/ask", params={"query": "the baroque fugue", "sources": 2,
                                              "rerank": "false"}).json()
    assert asked["answer"] == NO_ANSWER and asked["cited"] == [] and asked["reranked"] is True
    assert "a test that turns every question away" in asked["gated"]
    assert len(asked["sources"]) == 2  # the nearest sources are still shown
    assert unranked["gated"] is None  # without reranking there is no score to gate on


def test_an_index_brings_its_own_gate_threshold_and_writing_it_reloads_the_index(
        tmp_path, small_index, small_reranker, tiny_base):
    import json
    import shutil

    from hybridrag.answers.gate import GATE_FILE, Gate
    from hybridrag.answers.index_gate import INDEX_GATE_FILE, gate_fingerprint
    from hybridrag.atomic import atomic_write_text

    index, gate_folder = tmp_path / "index", tmp_path / "gate"
    shutil.copytree(small_index, index)
    gate_folder.mkdir()
    (gate_folder / GATE_FILE).write_text(json.dumps({"threshold": 1e9, "chosen_on": "everything"}))
    settings = ANSWERS.updated(rerank=True, max_new_tokens=4)
    with make_client(index, reranker=small_reranker[1], chat_model=tiny_base, chat_base=tiny_base,
                     answers=settings, gate=Gate.load(gate_folder), gate_folder=gate_folder,
                     watch_seconds=0.1) as served:
        wait_ready(served)

        def gated() -> str | None:
            return served.get("/ask", params={"query": "the baroque fugue"}).json()["gated"]

        assert "chosen on everything" in gated()  # the gate's own threshold turns it away
        atomic_write_text(index / INDEX_GATE_FILE, json.dumps({
            "threshold": -1e9, "chosen_on": "this index's headings",
            "gate": gate_fingerprint(gate_folder)}))  # index_folder writes it after the index
        wait_for(lambda: gated() is None, 60, "the index's own threshold to be served")


def test_the_half_precision_scan_serves_the_flat_search_results(small_index):
    queries = ["radium decay", "edible berry", "jazz", "heat engines", "natural selection"]

    def served(test_client):
        wait_ready(test_client)
        return (type(test_client.app.state.service.holder.current.searcher.dense.index).__name__,
                [[(r["doc_id"], r["dense"]["rank"], round(r["dense"]["score"], 5))
                  for r in test_client.get("/hybrid_search", params={
                      "query": q, "k": 10, "mode": "dense"}).json()["results"]] for q in queries])

    with make_client(small_index) as scanning, make_client(small_index, half_scan=False) as direct:
        (scan_kind, scan_results), (direct_kind, direct_results) = served(scanning), served(direct)
    assert (scan_kind, direct_kind) == ("HalfPrecisionScan", "IndexIDMap2")
    assert scan_results == direct_results and len(scan_results[0]) == 10


def test_a_bad_environment_flag_is_an_error_that_names_it(monkeypatch):
    from hybridrag.service.settings import config_from_env

    monkeypatch.setenv("HYBRIDRAG_HALF_SCAN", "maybe")
    with pytest.raises(ValueError, match="HYBRIDRAG_HALF_SCAN must be 0 or 1, got 'maybe'"):
        config_from_env()


def test_every_environment_variable_is_documented_with_its_default():
    from pathlib import Path

    from hybridrag.service.settings import ENVIRONMENT

    docs = (Path(__file__).parents[2] / "docs" / "service.md").read_text()
    for name, (default, _) in ENVIRONMENT.items():
        assert f"| `{name}` | {f'`{default}`' if default else 'unset'} |" in docs, name
