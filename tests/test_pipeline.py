"""End to end: `dvc repro` of the whole pipeline on a 300-document subset, in a temporary copy."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from .conftest import save_tiny_base
from .params_reads import recording_env, undeclared_reads

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
COPIED = ["dvc.yaml", "params.yaml", "requirements.txt", "stages", "src", "configs", ".dvc/config",
          ".dvcignore", "data/documents", "data/numeric_questions.jsonl",
          "data/package_docs_questions.jsonl", "data/questions.jsonl", "data/reading"]

pytestmark = pytest.mark.slow


HUNG_AFTER_S = 3600


def sh(*args, cwd, check=True, env=None, stdin=None):
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
           "DVC_NO_ANALYTICS": "1", "HF_HUB_OFFLINE": "1", "GIT_AUTHOR_NAME": "t",
           "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t",
           **(env or {})}
    # a guard against a hung command, not a speed check: the tiny project's first `dvc repro`
    # takes about 7 minutes alone on 2 AVX-512 cores and can take three times that elsewhere
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
                            input=stdin, timeout=HUNG_AFTER_S)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({result.returncode}):\n"
                             f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def tiny_fine_tuning(params: dict, base_model: Path) -> None:
    """Fine-tuning settings that run every method in seconds: a tiny model, two steps each."""
    sft = params["sft"]
    sft["base_model"] = str(base_model)
    sft["methods"] = ["lora", "qlora", "prompt_tuning", "prefix_tuning", "full"]  # every one
    sft["chatml"]["grounded"].update(max_train=24, max_validation=4, max_test=6)
    sft["chatml"]["reading"].update(max_train=24, max_validation=4, max_test=6)
    sft["train"].update(max_length=256, batch_size=2, max_steps=2, save_steps=2, eval_steps=2,
                        eval_samples=2, device="cpu")
    sft["dpo"].update(prompts=4, samples=2, max_steps=2, batch_size=2)
    sft["compare"].update(questions=4, other_questions=2, loss_conversations=4, bootstrap=50)
    # reading prompts within the tiny model's 512 positions (the default 160 tokens: ~550)
    params["answers"].update(max_new_tokens=8, max_queries=3, device="cpu", source_tokens=60)


def tiny_numeric(params: dict) -> None:
    """The numeric runs in seconds: a few questions, two steps each."""
    numeric = params["numeric"]
    numeric["data"].update(max_train=8, max_validation=2, max_test=6)
    numeric["train"].update(batch_size=2, max_steps=2, save_steps=2, eval_steps=2, eval_samples=2,
                            device="cpu")
    numeric["evaluate"].update(max_new_tokens=6, bootstrap=50, samples=2)


def tiny_learning(params: dict) -> None:
    """Pairs, embedder, reranker and answers in seconds: few examples, few steps."""
    params["pairs"].update(synthetic_chunks=6, max_new_tokens=8)
    params["finetune_embed"].update(max_pairs=64, batch_size=16, eval_steps=2, device="cpu")
    params["rerank"].update(max_queries=24, negatives=1, batch_size=16, device="cpu",
                            reading_queries=12, reading_validation=6)
    params["eval_retrieval"]["rerank_queries"] = 20
    params["answerability"].update(max_rows=16, max_length=64, device="cpu")
    params["folder"]["include"] = ["faiss-cpu.md", "fastapi.md", "fsspec.md"]  # three READMEs


def tiny_project(tmp_path_factory, smol_tokenizer) -> Path:
    """A git + DVC copy of the project (a commit, a local remote) with tiny learning settings."""
    root = tmp_path_factory.mktemp("project")
    for name in COPIED:
        source, target = ROOT / name, root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(source, target)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["ingest"]["max_documents"] = 300
    tiny_fine_tuning(params, save_tiny_base(tmp_path_factory.mktemp("tiny") / "base", smol_tokenizer))
    tiny_learning(params)
    tiny_numeric(params)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    sh("git", "init", "-q", cwd=root)
    sh("dvc", "remote", "add", "--local", "-f", "-d", "local", str(root.parent / "remote"), cwd=root)
    sh("git", "add", "-A", cwd=root)
    sh("git", "commit", "-qm", "copy", cwd=root)
    return root


@pytest.fixture(scope="module")
def project(tmp_path_factory, smol_tokenizer):
    """The tiny project on a 300-document subset of the default corpus, after one `dvc repro`
    (its stage scripts logging the params they read to `params_reads/`, beside the project)."""
    root = tiny_project(tmp_path_factory, smol_tokenizer)
    return root, sh("dvc", "repro", cwd=root, env=recording_env(root.parent / "params_reads"))


def stages_run(output: str) -> list[str]:
    return [line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage")]


RETRIEVAL_STAGES = ["ingest", "chunk", "embed", "build_db", "publish_postgres", "eval_retrieval"]
LEARNING_STAGES = ["make_pairs", "finetune_embed", "embed_finetuned", "train_reranker",
                   "eval_answers"]
SFT_STAGES = ["prepare_base", "chatml", "train_lora@lora", "train_lora@qlora",
              "train_lora@prompt_tuning", "train_lora@prefix_tuning", "train_full", "train_dpo",
              "export_chat", "infer_compare", "choose_gate"]
NUMERIC_STAGES = ["numeric_data", "train_numeric_sft", "train_numeric_hybrid", "predict_numeric@base",
                  "predict_numeric@sft", "predict_numeric@hybrid", "eval_numeric"]
FOLDER_STAGES = ["package_docs", "index_folder", "eval_folder", "answer_folder"]


def test_repro_runs_every_stage_and_measures_every_mode(project):
    root, result = project
    ran = stages_run(result.stdout)
    assert sorted(ran) == sorted(RETRIEVAL_STAGES + LEARNING_STAGES + SFT_STAGES + NUMERIC_STAGES
                                 + FOLDER_STAGES)
    assert [s for s in ran if s in RETRIEVAL_STAGES] == RETRIEVAL_STAGES
    order = {stage: i for i, stage in enumerate(ran)}
    assert order["embed"] < order["make_pairs"] < order["finetune_embed"] < order["embed_finetuned"]
    assert order["embed_finetuned"] < order["build_db"] < order["train_reranker"]
    assert order["train_reranker"] < order["eval_retrieval"]
    assert order["train_reranker"] < order["chatml"] < order["train_lora@lora"] < order["train_dpo"]
    assert order["train_dpo"] < order["infer_compare"] and order["train_dpo"] < order["eval_answers"]
    assert order["train_dpo"] < order["export_chat"] < order["eval_answers"]
    assert order["chatml"] < order["choose_gate"] < order["eval_answers"]
    assert order["package_docs"] < order["index_folder"] < order["eval_folder"]
    assert order["index_folder"] < order["answer_folder"]
    assert order["choose_gate"] < order["index_folder"]  # the index's gate threshold
    assert order["export_chat"] < order["answer_folder"] and order["choose_gate"] < order[
        "answer_folder"]
    assert order["finetune_embed"] < order["index_folder"] and order["train_reranker"] < order[
        "eval_folder"]
    ingest = json.loads((root / "metrics/ingest.json").read_text())
    assert ingest["documents"] == 300 and ingest["skipped_rows"] == 0
    retrieval = json.loads((root / "metrics/retrieval.json").read_text())
    assert retrieval["queries"] == ingest["judged_queries"]["test"] > 50
    for mode in ("bm25", "dense", "hybrid_rrf", "hybrid_weighted", "hybrid", "dense@base",
                 "hybrid@base", "hybrid@rerank_queries", "hybrid+rerank"):
        assert 0.5 < retrieval[mode]["ndcg@10"] <= 1.0, mode
        assert retrieval[mode]["recall@100"] >= retrieval[mode]["recall@10"]
    assert retrieval["hybrid"] == retrieval["hybrid_weighted"]
    # reranking reorders the top 10 only: recall@100 is the input run's
    assert retrieval["hybrid+rerank"]["recall@100"] == retrieval["hybrid@rerank_queries"]["recall@100"]
    manifest = json.loads((root / "data/index/manifest.json").read_text())
    chunks = (root / "data/chunks.jsonl").read_text().count("\n")
    assert manifest["documents"] == 300 and manifest["chunks"] == chunks
    assert sorted(manifest["embeddings"]) == ["base", "finetuned"]
    assert manifest["embeddings"]["finetuned"]["bundled"] == "encoders/finetuned"
    report = (root / "reports/retrieval_metrics.md").read_text()
    assert "| hybrid_rrf |" in report and "Fusion ablation" in report
    assert "| fine-tuned embedder, dense |" in report and "| cross-encoder rerank |" in report


def test_every_param_a_stage_read_is_declared_in_dvc_yaml(project):
    """A value a stage reads but does not declare would not rerun it when changed."""
    root, _ = project
    assert undeclared_reads(root.parent / "params_reads", root / "dvc.lock") == {}


def test_learning_stages_report_what_they_made(project):
    root, _ = project
    pairs = json.loads((root / "metrics/pairs.json").read_text())
    ingest = json.loads((root / "metrics/ingest.json").read_text())
    assert pairs["real_pairs"] == ingest["judged_queries"]["train"]
    assert pairs["synthetic_generated"] == 6
    assert pairs["synthetic_kept"] + sum(pairs["synthetic_rejected"].values()) == 6
    assert pairs["train"]["pairs"] + pairs["validation"]["pairs"] == (
        pairs["real_pairs"] + pairs["synthetic_kept"])
    test_docs = {line.split("\t")[1] for line in
                 (root / "data/ingested/qrels/test.tsv").read_text().splitlines()[1:]}
    trained_docs = {json.loads(line)["doc_id"] for name in ("train", "validation")
                    for line in (root / f"data/pairs/{name}.jsonl").read_text().splitlines()}
    assert trained_docs and not trained_docs & test_docs
    embed = json.loads((root / "metrics/finetune_embed.json").read_text())
    assert embed["training_pairs"] == 64 and embed["steps"] == 4
    reranker = json.loads((root / "metrics/reranker.json").read_text())
    assert reranker["training_queries"] == 24 and reranker["weight"] in (0.0, 0.1, 0.2, 0.3, 0.4,
                                                                          0.5, 0.6, 0.8, 1.0)
    assert reranker["natural_training_queries"] == 12  # questions of the reading train articles
    assert reranker["validation_ndcg@10_reading"]["queries"] == 6
    assert reranker["chosen_on"] == ("the smallest validation nDCG@10 gain over the "
                                     "first stage among corpus and reading, then their mean gain")
    answers = json.loads((root / "metrics/answers.json").read_text())
    assert answers["queries"] == 3 and answers["chat_model"] == "dpo"
    assert answers["dpo"]["items"] == 3 and 0.0 <= answers["retrieved_relevant"] <= 1.0
    assert "always cite [1]" in answers and "Grounded answers" in (root / "reports/answers.md").read_text()
    gate = json.loads((root / "metrics/gate.json").read_text())  # chosen on validation, applied
    assert gate["answerable"] + gate["unanswerable"] > 0 and "validation" in gate["chosen_on"]
    # through the full RAG loop (retrieved sources), not chatml's given ones (no_answer rows)
    assert gate["chosen_on"].endswith("the product retrieves")
    assert set(gate["gated_by_kind"]) <= {"answer", "unanswerable", "retrieval_miss"}
    assert answers["gate"]["threshold"] == gate["threshold"]
    # its classifier: the reranker fine-tuned on the reading training articles, saved with it
    assert gate["scorer"] == "answerability" and gate["training_rows"] == 16
    assert gate["reranker"]["chosen_on"] == gate["chosen_on"]  # the reranker alone, beside
    assert (root / "models/gate/answerability/config.json").is_file()
    # what the product would show on those questions: every gate cap with both fallbacks
    product = gate["product_on_validation"]
    assert (product["chat_model"], product["runtime"]) == ("dpo", "onnx int8")
    assert {"no gate, keep", "gate 0.15, extractive"} <= set(product)
    assert product["no gate, keep"]["threshold"] is None
    # the same for every other trained chat model, exported as infer_compare exports them
    others = gate["other_chat_models_on_validation"]
    assert set(others) == {"lora", "qlora", "prompt_tuning", "prefix_tuning", "full"}
    assert {others[m]["runtime"] for m in ("lora", "qlora", "full")} == {"onnx int8"}
    assert {others[m]["runtime"] for m in ("prompt_tuning", "prefix_tuning")} == {"transformers fp32"}
    assert all(set(table) == set(product) - {"chat_model"} for table in others.values())
    # the rule the defaults follow: the best overall F1 within the false-abstention budget
    within = [rates["overall_f1"] for table in (product, *others.values())
              for rates in table.values() if isinstance(rates, dict)
              and rates["overall_f1"] is not None and rates["false_abstention"] is not None
              and rates["false_abstention"] <= 0.15]
    best = gate["best_on_validation"]
    assert (best is None) if not within else (best["overall_f1"] == max(within)
                                              and best["false_abstention"] <= 0.15)
    for png in ("recall_at_k.png", "fusion_sweep.png"):
        assert (root / "reports" / png).read_bytes()[:4] == b"\x89PNG"


def test_second_repro_is_a_no_op(project):
    root, _ = project
    result = sh("dvc", "repro", cwd=root)
    assert stages_run(result.stdout) == []
    assert "Data and pipelines are up to date" in result.stdout


def test_fusion_param_reruns_only_evaluation(project):
    root, _ = project
    sh("git", "add", "-A", cwd=root)
    sh("git", "commit", "-qm", "results", cwd=root)
    result = sh("dvc", "exp", "run", "-S", "fusion=rrf", cwd=root)  # the design card's command
    evaluation = ["answer_folder", "eval_answers", "eval_folder", "eval_retrieval"]
    assert sorted(stages_run(result.stdout)) == evaluation  # evaluation only
    retrieval = json.loads((root / "metrics/retrieval.json").read_text())
    assert retrieval["hybrid"] == retrieval["hybrid_rrf"]
    diff = json.loads(sh("dvc", "metrics", "diff", "--json", cwd=root).stdout)
    assert "metrics/retrieval.json" in diff and "hybrid.ndcg@10" in diff["metrics/retrieval.json"]
    sh("git", "checkout", "--", "params.yaml", cwd=root)
    result = sh("dvc", "exp", "run", "-S", "fusion.method=rrf", cwd=root)  # the long form too
    assert sorted(stages_run(result.stdout)) == evaluation
    shown = sh("dvc", "exp", "show", "--json", cwd=root).stdout
    assert '"method": "rrf"' in shown
    diff = json.loads(sh("dvc", "params", "diff", "--json", cwd=root).stdout)
    assert diff["params.yaml"]["fusion.method"] == {"old": "weighted", "new": "rrf"}
    sh("git", "checkout", "--", ".", cwd=root)  # back to the committed results
    sh("dvc", "checkout", cwd=root)


def test_a_regression_weight_experiment_asks_only_the_hybrid_run_again(project):
    """docs/numeric.md's sweep: base and plain SFT predictions come from the cache."""
    root, _ = project
    sh("git", "add", "-A", cwd=root)
    sh("git", "commit", "-qm", "results", "--allow-empty", cwd=root)
    base = (root / "data/numeric_predictions/base.jsonl").read_text()
    result = sh("dvc", "exp", "run", "-S", "numeric.regression.weight=0.3", cwd=root)
    assert stages_run(result.stdout) == ["train_numeric_hybrid", "predict_numeric@hybrid",
                                         "eval_numeric"]
    assert (root / "data/numeric_predictions/base.jsonl").read_text() == base
    sh("git", "checkout", "--", ".", cwd=root)
    sh("dvc", "checkout", cwd=root)


def test_a_folder_of_your_files_reruns_only_the_folder_stages(project, tmp_path_factory):
    from .ingest.mixed_folder import EXPECTED, make_mixed_folder
    from .test_files_pipeline import QUESTIONS

    root, _ = project
    sh("git", "add", "-A", cwd=root)
    sh("git", "commit", "-qm", "results", "--allow-empty", cwd=root)
    folder = make_mixed_folder(tmp_path_factory.mktemp("mixed"))
    questions = tmp_path_factory.mktemp("questions") / "questions.jsonl"
    questions.write_text("".join(json.dumps(row) + "\n" for row in QUESTIONS))
    result = sh("dvc", "exp", "run", "-S", f"folder.path={folder}", "-S",
                f"folder.questions={questions}", "-S", "folder.include=[\"*\"]", cwd=root)
    assert sorted(stages_run(result.stdout)) == ["answer_folder", "eval_folder",
                                                 "index_folder"]  # nothing retrains
    index = json.loads((root / "metrics/folder/index.json").read_text())
    assert index["documents"] == len(EXPECTED["documents"])
    assert (index["judged_questions"], index["unanswerable_questions"]) == (3, 1)
    chosen = json.loads((root / "models/gate/gate.json").read_text())["threshold"]
    assert index["gate"]["sections"] >= 3  # Glaciers, Flow, Der Wald: headings with text
    assert (index["gate"]["threshold"] is None) == (chosen is None)  # chosen on them, if gated
    retrieval = json.loads((root / "metrics/folder/retrieval.json").read_text())
    assert retrieval["queries"] == 3
    for mode in ("bm25", "dense", "hybrid", "hybrid+rerank"):
        assert 0 <= retrieval[mode]["hit_rate@3"] <= 1, mode
    answers = json.loads((root / "metrics/folder/answers.json").read_text())
    cap = yaml.safe_load((root / "params.yaml").read_text())["answers"]["max_queries"]
    asked = answers[answers["chat_model"]]  # the folder's questions, answerable or not, up to
    assert answers["queries"] == asked["items"] == min(len(QUESTIONS), cap)  # answers.max_queries
    hits = json.loads(sh("hybridrag", "search", "gearbox generator", "--json", "-k", "1",
                         "--index", "data/folder/index", cwd=root).stdout)
    assert hits[0]["source_path"] == "reports/wind.pdf"
    sh("git", "checkout", "--", ".", cwd=root)
    sh("dvc", "checkout", cwd=root)


def test_the_postgres_backend_gives_the_same_retrieval_metrics(project, postgres, monkeypatch):
    """README: `dvc exp run -S store.backend=postgres` with a server in the environment."""
    from hybridrag.dvc_hash import dvc_directory_hash
    from hybridrag.postgres.publish import DSN_VARIABLE, schema_for

    root, _ = project
    embedded = json.loads((root / "metrics/retrieval.json").read_text())
    assert json.loads((root / "metrics/postgres.json").read_text()) == {"backend": "sqlite"}
    monkeypatch.setenv(DSN_VARIABLE, postgres.dsn)
    result = sh("dvc", "exp", "run", "-S", "store.backend=postgres", "-S",
                "store.postgres_dense=exact", cwd=root)
    assert sorted(stages_run(result.stdout)) == ["eval_retrieval", "publish_postgres"]
    published = json.loads((root / "metrics/postgres.json").read_text())
    assert published["schema"] == schema_for(dvc_directory_hash(root / "data/index"))
    assert DSN_VARIABLE not in result.stdout + result.stderr and postgres.dsn not in result.stdout
    read_back = json.loads((root / "metrics/retrieval.json").read_text())
    assert set(read_back) == set(embedded) and read_back["queries"] == embedded["queries"] > 0
    for mode, values in embedded.items():
        if isinstance(values, dict):
            assert read_back[mode] == pytest.approx(values, abs=1e-9), mode
    assert "PostgreSQL + pgvector (dense: exact)" in (root / "reports/retrieval_metrics.md").read_text()
    sh("git", "checkout", "--", ".", cwd=root)  # back to the committed results
    sh("dvc", "checkout", cwd=root)


def test_push_and_pull_round_trip(project):
    root, _ = project
    sh("dvc", "push", cwd=root)
    assert any((root.parent / "remote").rglob("*"))
    shutil.rmtree(root / ".dvc" / "cache")
    for output in ("data/ingested", "data/embeddings", "data/index"):
        shutil.rmtree(root / output)
    for output in ("data/chunks.jsonl", "data/eval/per_query.jsonl"):
        (root / output).unlink()
    sh("dvc", "pull", cwd=root)
    assert (root / "data/index/corpus.sqlite").is_file()
    status = sh("dvc", "status", cwd=root).stdout
    assert "Data and pipelines are up to date" in status


def add_s3_remote(clone: Path, name: str, s3, bucket: str | None = None) -> None:
    """An S3 remote kept in .dvc/config.local (the endpoint is this machine's); the credentials
    stay in the environment."""
    sh("dvc", "remote", "add", "--local", "-f", name, f"s3://{bucket or s3.bucket}/dvc", cwd=clone)
    sh("dvc", "remote", "modify", "--local", name, "endpointurl", s3.endpoint, cwd=clone)


def served_answers(clone: Path, log: Path) -> tuple[list, list]:
    """What `hybridrag serve` in `clone` answers: search results and /ask answers."""
    from support.service_process import start_service, stop, wait_until_ready

    process, url = start_service(["--index", "data/index", "--repo", str(clone), "--watch", "0",
                                  "--params", "params.yaml"], log, {"HYBRIDRAG_API_KEY": ""},
                                 clone)
    try:
        wait_until_ready(f"{url}/ready", process)
        searched = [[(h["doc_id"], h["chunk_id"], round(h["score"], 6)) for h in httpx.get(
            f"{url}/hybrid_search", params={"query": q, "k": 5}).json()["results"]]
            for q in ("painting by a french artist", "river", "ancient empire")]
        asked = [httpx.get(f"{url}/ask", params={"query": q}, timeout=120).json()
                 for q in ("painting by a french artist", "Which river is the longest?")]
    finally:
        stop(process)
    return searched, [(a["answer"], a["cited"], a["runtime"], [s["doc_id"] for s in a["sources"]])
                      for a in asked]


def test_a_second_clone_pulls_everything_from_s3_and_serves_the_same(project, tmp_path):
    """A team's round trip over real S3 (moto's server on loopback): push from one clone; a
    fresh clone pulls, is up to date, reproduces nothing, and serves the same search results
    and answers. An empty remote is an error that says what is missing; the credentials appear
    in no tracked file and no output."""
    from support.s3_server import local_s3

    root, _ = project
    second = tmp_path / "second"
    with local_s3(tmp_path) as s3:
        add_s3_remote(root, "team", s3)
        pushed = sh("dvc", "push", "-r", "team", cwd=root, env=s3.environment)
        sh("git", "clone", "-q", str(root), str(second), cwd=tmp_path)
        add_s3_remote(second, "team", s3)
        s3.create_bucket("empty")
        add_s3_remote(second, "empty", s3, bucket="empty")
        empty = sh("dvc", "pull", "-r", "empty", cwd=second, env=s3.environment, check=False)
        assert empty.returncode != 0 and "missing" in (empty.stdout + empty.stderr).lower()
        assert not (second / "data/index/corpus.sqlite").exists()
        pulled = sh("dvc", "pull", "-r", "team", cwd=second, env=s3.environment)
    assert "Data and pipelines are up to date" in sh("dvc", "status", cwd=second).stdout
    again = sh("dvc", "repro", cwd=second)
    assert stages_run(again.stdout) == []
    first_served = served_answers(root, tmp_path / "first.log")
    second_served = served_answers(second, tmp_path / "second.log")
    assert second_served == first_served and first_served[1][0][2] == "onnx int8"
    outputs = [pushed.stdout, pushed.stderr, pulled.stdout, pulled.stderr, empty.stdout,
               empty.stderr, (tmp_path / "first.log").read_text(),
               (tmp_path / "second.log").read_text()]
    for secret in (s3.secret_key, s3.access_key):
        assert not any(secret in text for text in outputs)
        for clone in (root, second):
            assert sh("git", "grep", "-q", secret, cwd=clone, check=False).returncode == 1


def test_an_experiment_is_shared_through_git_and_s3(project, tmp_path):
    """`dvc exp push` to a git remote (and its data to S3); another clone pulls it, shows it
    and diffs its metrics against its own."""
    from support.s3_server import local_s3

    root, _ = project
    origin = tmp_path / "origin.git"
    sh("git", "init", "-q", "--bare", str(origin), cwd=tmp_path)
    sh("git", "symbolic-ref", "HEAD", "refs/heads/main", cwd=origin)
    sh("git", "remote", "add", "origin", str(origin), cwd=root)
    sh("git", "push", "-q", "origin", "HEAD:refs/heads/main", cwd=root)
    with local_s3(tmp_path) as s3:
        add_s3_remote(root, "team", s3)
        sh("dvc", "exp", "run", "-n", "team-rrf", "-S", "fusion=rrf", cwd=root)
        sh("dvc", "exp", "push", "-r", "team", "origin", "team-rrf", cwd=root, env=s3.environment)
        sh("git", "checkout", "--", ".", cwd=root)
        sh("dvc", "checkout", cwd=root)
        partner = tmp_path / "partner"
        sh("git", "clone", "-q", str(origin), str(partner), cwd=tmp_path)
        add_s3_remote(partner, "team", s3)
        sh("dvc", "exp", "pull", "-r", "team", "origin", "team-rrf", cwd=partner,
           env=s3.environment)
    shown = json.loads(sh("dvc", "exp", "show", "--json", cwd=partner).stdout)
    assert "team-rrf" in json.dumps(shown)
    diff = json.loads(sh("dvc", "metrics", "diff", "--json", "HEAD", "team-rrf",
                         cwd=partner).stdout)
    assert "hybrid.ndcg@10" in diff["metrics/retrieval.json"]
    params = json.loads(sh("dvc", "params", "diff", "--json", "HEAD", "team-rrf",
                           cwd=partner).stdout)
    changed = params["params.yaml"]  # fusion=rrf replaces the section by its shorthand
    assert changed["fusion"]["new"] == "rrf" and changed["fusion.method"]["old"] == "weighted"


def test_search_cli_over_the_built_index(project):
    root, _ = project
    result = sh("hybridrag", "search", "painting by a french artist", "-k", "3", "--json",
                "--index", "data/index", cwd=root)
    results = json.loads(result.stdout)
    assert [r["rank"] for r in results] == [1, 2, 3]
    assert all(set(r) >= {"doc_id", "chunk_id", "score", "bm25", "dense", "snippet"}
               for r in results)
    bad = sh("hybridrag", "search", "x", "--filter", "year=19x9", cwd=root, check=False)
    assert bad.returncode == 2 and "year must look like" in bad.stderr
    reranked = json.loads(sh("hybridrag", "search", "painting by a french artist", "-k", "3",
                             "--rerank", "--json", cwd=root).stdout)
    assert {r["doc_id"] for r in reranked} <= {r["doc_id"] for r in json.loads(sh(
        "hybridrag", "search", "painting by a french artist", "-k", "10", "--json", cwd=root).stdout)}
    assert all(r["rerank"]["first_stage_rank"] <= 10 for r in reranked)
    base = json.loads(sh("hybridrag", "search", "painting", "--mode", "dense", "--embedding", "base",
                         "--json", cwd=root).stdout)
    assert base and base[0]["dense"]["rank"] == 1
    asked = json.loads(sh("hybridrag", "ask", "painting by a french artist", "--sources", "2",
                          "--max-new-tokens", "4", "--json", cwd=root).stdout)
    assert [s["number"] for s in asked["sources"]] == [1, 2] and set(asked["cited"]) <= {1, 2}
    assert asked["runtime"] == "onnx int8"  # export_chat's model of answers.chat_model (dpo)
    printed = sh("hybridrag", "ask", "painting by a french artist", "--sources", "2",
                 "--max-new-tokens", "4", cwd=root).stdout  # streamed as it is written
    assert printed.lstrip().startswith(asked["answer"]) and "[2] " in printed
    many = sh("hybridrag", "ask", "-", "--sources", "2", "--max-new-tokens", "4", "--json",
              cwd=root, stdin="painting by a french artist\n\n  a red fruit \n").stdout
    first, second = (json.loads(line) for line in many.splitlines())  # blank lines skipped
    assert first == asked and second["query"] == "a red fruit"  # one load, the same answers
    listed = sh("hybridrag", "ask", "-", "--sources", "2", "--max-new-tokens", "4", cwd=root,
                stdin="painting by a french artist\na red fruit\n").stdout
    assert listed.startswith("Q: painting by a french artist\n") and "\nQ: a red fruit\n" in listed
    on_torch = json.loads(sh("hybridrag", "ask", "painting by a french artist", "--sources", "2",
                             "--max-new-tokens", "4", "--runtime", "transformers", "--json",
                             cwd=root).stdout)
    assert on_torch["runtime"] == "transformers fp32" and on_torch["sources"] == asked["sources"]
    missing = sh("hybridrag", "search", "x", "--embedding", "large", cwd=root, check=False)
    assert missing.returncode == 2 and "no 'large' embeddings" in missing.stderr


def locked_index_hash(root: Path, revision: str) -> str:
    lock = yaml.safe_load(sh("git", "show", f"{revision}:dvc.lock", cwd=root).stdout)
    return next(out["md5"] for out in lock["stages"]["build_db"]["outs"] if out["path"] == "data/index")


def test_service_serves_a_committed_revision_fetched_through_dvc(project, tmp_path):
    from hybridrag.service.versions import fetch_revision_index
    from support.service_process import readiness_detail, start_service, stop, wait_until_ready
    from support.waiting import wait_for

    root, _ = project
    sh("git", "add", "-A", cwd=root)
    sh("git", "commit", "-qm", "v1", "--allow-empty", cwd=root)
    sh("git", "tag", "v1", cwd=root)
    sh("dvc", "push", cwd=root)
    v1_chunks = json.loads((root / "data/index/manifest.json").read_text())["chunks"]
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["build_db"]["faiss_index"] = "hnsw"  # a different index of the same chunks
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    sh("dvc", "repro", "build_db", cwd=root)  # the index alone: what a revision is told apart by
    sh("git", "add", "-A", cwd=root)
    sh("git", "commit", "-qm", "v2", cwd=root)
    sh("git", "tag", "v2", cwd=root)
    assert json.loads((root / "data/index/manifest.json").read_text())["faiss_index"] == "hnsw"
    assert locked_index_hash(root, "v2") != locked_index_hash(root, "v1")
    sh("dvc", "push", cwd=root)
    shutil.rmtree(root / ".dvc" / "cache")  # v1 must now come from the remote

    folder, commit = fetch_revision_index(root, "v1", tmp_path / "cache")
    assert commit == sh("git", "rev-parse", "v1", cwd=root).stdout.strip()
    assert json.loads((folder / "manifest.json").read_text())["faiss_index"] == "flat"

    process, url = start_service(["--revision", "v1", "--repo", str(root),
                                  "--cache-dir", str(tmp_path / "cache")], tmp_path / "server.log",
                                 {"HYBRIDRAG_API_KEY": ""})
    try:
        wait_until_ready(f"{url}/ready", process)
        index = httpx.get(f"{url}/ready").json()
        assert index["source"] == "revision" and index["requested"] == "v1"
        assert index["revision"] == commit and index["chunks"] == v1_chunks
        assert index["data_hash"] == locked_index_hash(root, "v1")
        results = httpx.get(f"{url}/hybrid_search", params={"query": "painting", "k": 2}).json()
        assert results["index"]["revision"] == commit and len(results["results"]) == 2
        # the revision's fine-tuned query encoder came inside its index, its reranker beside it
        assert index["embedding_model"] == str(folder / "encoders" / "finetuned")
        reranked = httpx.get(f"{url}/hybrid_search", params={"query": "painting", "k": 2,
                                                              "rerank": "true"}).json()
        assert all(hit["rerank"]["first_stage_rank"] >= 1 for hit in reranked["results"])
        # and its chat model (with its ONNX export), fetched from the remote the same way
        asked = httpx.get(f"{url}/ask", params={"query": "painting", "sources": 2},
                          timeout=120).json()
        assert asked["runtime"] == "onnx int8" and asked["index"]["revision"] == commit
        assert (tmp_path / "cache" / f"{commit}-models-chat" / "run.json").is_file()
    finally:
        stop(process)
    # a revision whose index is nowhere (not in the cache, never pushed): a clear error
    lock = yaml.safe_load((root / "dvc.lock").read_text())
    for out in lock["stages"]["build_db"]["outs"]:
        if out["path"] == "data/index":
            out["md5"] = "0" * 32 + ".dir"
    (root / "dvc.lock").write_text(yaml.safe_dump(lock, sort_keys=False))
    sh("git", "commit", "-qam", "an index never pushed", cwd=root)
    sh("git", "tag", "v-missing", cwd=root)
    with pytest.raises(LookupError, match="neither the DVC cache nor the remote"):
        fetch_revision_index(root, "v-missing", tmp_path / "cache")
    process, url = start_service(["--revision", "v-missing", "--repo", str(root), "--cache-dir",
                                  str(tmp_path / "cache"), "--chat-model", "none"],
                                 tmp_path / "missing.log", {"HYBRIDRAG_API_KEY": ""})
    try:
        wait_for(lambda: "neither" in readiness_detail(url), 120,
                 "the service to say the index is missing")
        assert httpx.get(f"{url}/ready").status_code == 503
        assert httpx.get(f"{url}/hybrid_search", params={"query": "x"}).status_code == 503
    finally:
        stop(process)
    sh("git", "reset", "-q", "--hard", "v2", cwd=root)  # the workspace as it was


def test_fine_tuning_half_compares_every_method(project):
    root, _ = project
    data = json.loads((root / "metrics/sft_data.json").read_text())  # the default: reading
    assert data["source"] == "reading"
    assert data["conversations"] == {"train": 24, "validation": 4, "test": 6}
    articles = {split: set(data[split]["articles"]) for split in ("train", "validation", "test")}
    assert [len(articles[s]) for s in ("validation", "test")] == [2, 2]
    assert not (articles["train"] & articles["validation"] or articles["train"] & articles["test"]
                or articles["validation"] & articles["test"])
    compare = json.loads((root / "metrics/sft/compare.json").read_text())
    models = {"base", "lora", "qlora", "prompt_tuning", "prefix_tuning", "full", "dpo"}
    baselines = {"always cite [1]", "extractive"}
    shown = baselines | {"product"}  # the product: dpo's replies through the gate and policy
    assert set(compare) == models | shown | {"test_rows", "best_overall_f1", "rag_loop"}
    assert compare["best_overall_f1"] in models and set(compare["rag_loop"]) == models | shown
    assert compare["product"]["items"] == compare["dpo"]["items"]
    assert set(compare["product"]["vs_base"]) >= {"f1", "overall_f1"}
    assert set(compare["extractive"]["vs_base"]) >= {"f1", "overall_f1"}
    for method in ("lora", "qlora", "prompt_tuning", "prefix_tuning", "full", "dpo"):
        training = json.loads((root / f"metrics/sft/train_{method}.json").read_text())
        assert training["train_steps"] == 2 and compare[method]["peak_memory_mb"] > 0
        assert (root / f"dvclive/{method}/plots/metrics/train/loss.tsv").is_file()
        assert set(compare[method]["vs_base"]) >= {"f1", "overall_f1", "cites_relevant"}
        assert set(compare[method]["vs_extractive"]) == {"f1", "overall_f1"}
    assert compare["base"]["questions"] == compare["dpo"]["questions"] == 4  # dpo: the default
    assert compare["lora"]["questions"] == compare["qlora"]["questions"] == 2
    dpo = json.loads((root / "metrics/sft/train_dpo.json").read_text())
    assert dpo["start"] == "lora" and dpo["preference_data"]["pairs"] > 0
    assert dpo["preference_data"]["sampled_on"] == "onnx fp32"  # sft.dpo.sample_precision
    for method in ("base", "lora", "qlora", "full", "dpo"):  # exported for the comparison
        assert compare[method]["runtime"] == "onnx int8", method
    for method in ("prompt_tuning", "prefix_tuning"):  # nothing to merge: transformers
        assert compare[method]["runtime"] == "transformers fp32", method
    export = json.loads((root / "models/chat/run.json").read_text())
    assert (export["kind"], export["precision"], export["source"]) == ("onnx", "int8", "models/dpo")
    assert json.loads((root / "metrics/answers.json").read_text())["runtime"] == "onnx int8"
    report = (root / "reports/sft_results.md").read_text()
    assert "| prefix_tuning |" in report and "| dpo |" in report and "Sample answers" in report
    for png in ("sft_loss_curves.png", "dpo_reward_margins.png"):
        assert (root / "reports" / png).read_bytes()[:4] == b"\x89PNG"


def test_numeric_stages_compare_base_sft_and_hybrid_in_every_context(project):
    root, _ = project
    data = json.loads((root / "metrics/numeric/data.json").read_text())
    assert data["source"] == "corpus_years" and set(data["sets"]) == {"years", "in_text"}
    assert data["rows"]["train"] == sum(s["train"]["questions"] for s in data["sets"].values())
    contexts = ("none", "keyword", "semantic", "sources")
    assert [data["rows"][f"test/years/{c}"] for c in contexts] == [6] * 4
    test_docs = {line.split("\t")[1] for line in
                 (root / "data/ingested/qrels/test.tsv").read_text().splitlines()[1:]}
    trained = [json.loads(line) for line in (root / "data/numeric/train.jsonl").read_text().splitlines()]
    assert trained and not {row["doc_id"] for row in trained} & test_docs
    compare = json.loads((root / "metrics/numeric/compare.json").read_text())
    assert {f"years / {c} / {m}" for m in ("base", "sft", "hybrid") for c in contexts} <= \
        set(compare["scores"])
    assert set(compare["scores"]["years / sources / hybrid"]) == {"generated", "head"}
    assert set(compare["scores"]["years / none / sft"]) == {"generated"}
    assert compare["scores"]["years / none / base"]["generated"]["questions"] == 6
    assert "years: sources: hybrid - sft, absolute error" in compare["comparisons"]
    assert "years: sft: semantic - keyword, absolute error" in compare["comparisons"]
    assert compare["scores"]["validation / mixed / hybrid"]["generated"]["questions"] == \
        data["rows"]["validation"]  # what a sweep of the regression weight chooses on
    for run in ("sft", "hybrid"):
        training = json.loads((root / f"metrics/numeric/train_{run}.json").read_text())
        assert training["train_steps"] == 2
    assert (root / "models/numeric/hybrid/head.json").is_file()
    assert not (root / "models/numeric/sft/head.json").exists()
    assert "## years: 6 questions" in (root / "reports/numeric.md").read_text()
    assert (root / "reports/numeric_scatter.png").read_bytes()[:4] == b"\x89PNG"


def test_the_default_folder_path_indexes_package_readmes(project):
    root, _ = project
    index = json.loads((root / "metrics/folder/index.json").read_text())
    assert index["documents"] == 3 and index["file_types"] == {"markdown": 3}
    assert index["embedding"] == "finetuned" and index["embedder"] == "models/embed"
    assert index["judged_questions"] == 2  # the questions whose answers are faiss-cpu and fsspec
    assert index["skipped_by_kind"]  # the questions about READMEs left out by folder.include
    retrieval = json.loads((root / "metrics/folder/retrieval.json").read_text())
    assert retrieval["queries"] == 2 and "hybrid+rerank" in retrieval
