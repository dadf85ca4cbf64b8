"""Embedding fine-tuning: a real (short) MNRL run on MiniLM keeps its best checkpoint, reports
what it measured, and saves a model that loads and scores as reported."""

import pytest

from hybridrag.embedding import load_encoder
from hybridrag.learning.embedder import EVALUATOR, finetune, validation_evaluator
from hybridrag.learning.pairs import Pair, split_by_document

from ..conftest import MODEL, PARAMS, make_documents

pytestmark = pytest.mark.slow


def document_pairs() -> list[Pair]:
    return [Pair(f"{d.title} by {d.author}", d.doc_id, i, f"{d.title} {d.text}", "real")
            for i, d in enumerate(make_documents())]


def test_finetune_keeps_the_best_checkpoint_and_saves_it(tmp_path):
    train, validation = split_by_document(document_pairs(), 0.25, seed=0)
    assert (len(train), len(validation)) == (18, 6)
    train = train[:16]  # all used (shuffled): the evaluator's distractors are known
    params = PARAMS.finetune_embed.updated(max_pairs=None, epochs=1.0, batch_size=4, eval_steps=2,
                                           max_seq_length=32, warmup_steps=0, device="cpu")
    metrics = finetune(MODEL, train, validation, params, tmp_path / "model", tmp_path / "ckpt")
    assert metrics["training_pairs"] == 16 and metrics["steps"] == 4
    assert [e["step"] for e in metrics["evaluations"]] == [2, 4]
    best = max(metrics["evaluations"], key=lambda e: e["ndcg@10"])
    assert metrics["best_step"] == best["step"]
    assert not (tmp_path / "ckpt").exists()
    saved = load_encoder(str(tmp_path / "model"), "cpu")
    assert saved.max_seq_length == 256  # the training limit is not saved
    evaluator = validation_evaluator(validation, train, params.validation_distractors)
    score = evaluator(saved)[f"{EVALUATOR}_cosine_ndcg@10"]
    assert score == pytest.approx(metrics["validation_ndcg@10_after"], abs=1e-4)


def test_without_both_splits_the_base_model_is_kept_and_the_reason_recorded(tmp_path):
    metrics = finetune(MODEL, document_pairs()[:3], [], PARAMS.finetune_embed.updated(device="cpu"),
                       tmp_path / "m", tmp_path / "c")
    assert metrics["trained"] is False
    assert "no pairs to learn from (3 training, 0 validation)" in metrics["reason"]
    texts = ["tidal power", "an essay on jazz"]
    kept, base = load_encoder(str(tmp_path / "m"), "cpu"), load_encoder(MODEL, "cpu")
    assert (kept.encode(texts) == base.encode(texts)).all()
