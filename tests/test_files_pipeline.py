"""End to end on a folder of the user's files: `dvc exp run -S ingest.source=files -S
ingest.path=<folder>` over the mixed test corpus builds an index, and search and answers point
to file and page."""

import json

import pytest

from .ingest.mixed_folder import EXPECTED, make_mixed_folder
from .params_reads import recording_env, undeclared_reads
from .test_pipeline import sh, stages_run, tiny_project

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def files_project(tmp_path_factory, smol_tokenizer):
    root = tiny_project(tmp_path_factory, smol_tokenizer)
    folder = make_mixed_folder(tmp_path_factory.mktemp("mixed"))
    questions = tmp_path_factory.mktemp("questions") / "questions.jsonl"
    questions.write_text("".join(json.dumps(row) + "\n" for row in QUESTIONS))
    result = sh("dvc", "exp", "run", "-S", "ingest.source=files", "-S", f"ingest.path={folder}",
                "-S", f"ingest.questions={questions}", "-S", "answers.max_queries=10", cwd=root,
                env=recording_env(root.parent / "params_reads"))
    return root, result


QUESTIONS = [  # the user's questions about the mixed folder: three answerable, one not
    {"question": "What raises the rotor's slow rotation for the generator?",
     "relevant": "reports/wind.pdf", "answer": "a gearbox"},
    {"question": "Since when has the Rance barrage generated power?",
     "relevant": "web/tides.html", "answer": "1966"},
    {"question": "How do glaciers flow downhill?", "relevant": ["notes/glaciers.md"]},
    {"question": "Who won the 1998 football world cup?", "answerable": False},
]


def search(root, query, *options):
    return json.loads(sh("hybridrag", "search", query, "--json", "--embedding", "base", *options,
                         cwd=root).stdout)


def test_every_stage_runs_on_a_folder_of_files(files_project):
    root, result = files_project
    assert "ingest" in stages_run(result.stdout) and "eval_answers" in stages_run(result.stdout)
    ingest = json.loads((root / "metrics/ingest.json").read_text())
    assert ingest["documents"] == len(EXPECTED["documents"])
    assert ingest["file_types"] == {"docx": 1, "html": 1, "markdown": 2, "pdf": 1, "text": 1}
    assert ingest["languages"] == {"de": 1, "en": 4, "fr": 1} and ingest["main_language"] == "en"
    skipped = {kind: [line.split(":")[0] for line in lines]
               for kind, lines in ingest["skipped"].items()}
    assert skipped == EXPECTED["skipped"]
    assert ingest["skipped_by_kind"] == {kind: 1 for kind in EXPECTED["skipped"]}
    assert ingest["judged_queries"] == {"test": 3}  # the user's answerable questions


def test_every_param_a_stage_read_on_a_folder_is_declared_in_dvc_yaml(files_project):
    root, _ = files_project
    assert undeclared_reads(root.parent / "params_reads", root / "dvc.lock") == {}


def test_search_filters_by_metadata_and_shows_file_and_page(files_project):
    root, _ = files_project
    hit = search(root, "gearbox generator", "-k", "1")[0]
    assert (hit["source_path"], hit["file_type"], hit["page"]) == ("reports/wind.pdf", "pdf", 2)
    assert [h["source_path"] for h in search(root, "energy", "--filter", "language=fr")] == [
        "french/fromage.txt"]
    assert [h["source_path"] for h in search(root, "energy", "--filter", "year=2019")] == [
        "web/tides.html"]
    assert {h["source_path"] for h in search(root, "ice", "--filter", "file_type=markdown")} <= {
        "notes/glaciers.md", "notes/wald.md"}
    text = sh("hybridrag", "search", "gearbox", "-k", "1", "--embedding", "base", cwd=root).stdout
    assert "[reports/wind.pdf, p. 2]" in text
    hit = search(root, "internal deformation", "-k", "1", "--mode", "bm25")[0]  # "## Flow" only
    assert (hit["source_path"], hit["section"]) == ("notes/glaciers.md", "Glaciers › Flow")
    hit = search(root, "output predictable years ahead", "-k", "1", "--mode", "bm25")[0]
    assert (hit["source_path"], hit["section"]) == ("web/tides.html", "Tidal power › Tidal stream")


def test_the_user_s_questions_are_measured_by_retrieval_and_answer_evaluation(files_project):
    root, _ = files_project
    retrieval = json.loads((root / "metrics/retrieval.json").read_text())
    assert retrieval["queries"] == 3
    for mode in ("bm25", "dense", "hybrid", "hybrid+rerank"):
        assert 0 <= retrieval[mode]["hit_rate@3"] <= 1 and "ndcg@10" in retrieval[mode], mode
    answers = json.loads((root / "metrics/answers.json").read_text())
    model = answers[answers["chat_model"]]
    assert answers["queries"] == 4 and model["unanswerable"] >= 1
    assert model["reading_items"] == 3  # two answers given, and the unanswerable question


def test_learning_without_questions_keeps_the_start_embedder_and_reranks_from_natural_questions(
        files_project):
    root, _ = files_project
    embedder = json.loads((root / "metrics/finetune_embed.json").read_text())
    assert embedder["trained"] is False and "no pairs to learn from" in embedder["reason"]
    reranker = json.loads((root / "metrics/reranker.json").read_text())  # transfers: trained on
    assert reranker["trained"] is True and reranker["training_queries"] == 0  # the reading
    assert reranker["natural_training_queries"] == 12  # file's questions, not the folder's
    assert reranker["chosen_on"] == ("the smallest validation nDCG@10 gain over the "
                                     "first stage among reading, then their mean gain")
