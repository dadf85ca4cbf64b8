"""Training the reranker: hard-negative mining, the trainer's columns per loss, the weight sweep,
and the train_reranker stage's choice of a weight on validation pairs."""

import numpy as np
import pytest

from hybridrag.learning.reranker import (
    TrainingQuery,
    ValidationSet,
    choose_weight,
    mine_examples,
    train_cross_encoder,
    train_reranker,
    training_columns,
    weight_sweep,
)

from ..conftest import MODEL, PARAMS, open_searcher, subject_pairs


def test_mined_examples_are_the_positive_and_hard_negatives_of_other_documents(small_reranker,
                                                                             small_index):
    _, _, pairs, examples = small_reranker
    assert [e.query for e in examples] == [p.query for p in pairs]
    with open_searcher(small_index) as searcher:
        for pair, example in zip(pairs, examples, strict=True):
            others = [r for r in searcher.search(pair.query, k=5) if r.doc_id != pair.doc_id]
            assert example.positive == pair.passage
            assert example.negatives == tuple(searcher.passages(others[:2]))


def test_training_columns_for_each_loss():
    examples = [TrainingQuery("q1", "p1", ("n1", "n2")), TrainingQuery("q2", "p2", ("n3",))]
    bce = training_columns(examples, "bce", seed=0)
    assert sorted(zip(bce["query"], bce["passage"], bce["label"], strict=True)) == [
        ("q1", "n1", 0.0), ("q1", "n2", 0.0), ("q1", "p1", 1.0), ("q2", "n3", 0.0), ("q2", "p2", 1.0)]
    assert training_columns(examples, "mnrl", seed=0) == {
        "query": ["q1"], "positive": ["p1"], "negative_1": ["n1"], "negative_2": ["n2"]}
    with pytest.raises(ValueError, match="unknown reranker loss 'hinge'"):
        training_columns(examples, "hinge", seed=0)


def test_searcher_reranks_its_top_depth(small_reranker, small_index):
    _, folder, pairs, _ = small_reranker
    with open_searcher(small_index, reranker=folder, rerank_depth=8) as searcher:
        plain = searcher.search("the structure of DNA", k=8)
        reranked = searcher.search("the structure of DNA", k=3, rerank=True)
        assert len(reranked) == 3
        assert {r.doc_id for r in reranked} <= {r.doc_id for r in plain}
        assert all(r.rerank_score is not None and 1 <= r.first_stage_rank <= 8 for r in reranked)
        sweep, seconds = weight_sweep(searcher.reranker, searcher, pairs, 8, (0.0, 1.0))
        assert [row["weight"] for row in sweep] == [0.0, 1.0]
        gains = []  # weight 0 is the first stage: nDCG@10 with one relevant document per query
        for pair in pairs:
            ranking = [r.doc_id for r in searcher.search(pair.query, k=8)]
            gains.append(1 / np.log2(ranking.index(pair.doc_id) + 2) if pair.doc_id in ranking else 0)
        assert sweep[0]["ndcg@10"] == pytest.approx(np.mean(gains), abs=1e-5)
        assert 0.0 <= sweep[1]["ndcg@10"] <= 1.0 and seconds > 0
    with open_searcher(small_index) as searcher, pytest.raises(ValueError,
                                                                       match="has no reranker"):
        searcher.search("DNA", rerank=True)



def test_train_reranker_samples_trains_and_keeps_the_best_validation_weight(small_index, tmp_path):
    settings = PARAMS.rerank.updated(max_queries=8, validation_queries=4, negatives=1, batch_size=4,
                                     max_length=64, weights=(0.0, 0.5, 1.0), device="cpu")
    with open_searcher(small_index) as searcher:
        pairs = subject_pairs(searcher)
        reranker, record = train_reranker(pairs[:10], pairs[10:], searcher, MODEL, settings,
                                          tmp_path / "checkpoints")
    assert record["training_queries"] == 8 and record["validation_queries"] == 2
    assert [row["weight"] for row in record["sweep"]] == [0.0, 0.5, 1.0]
    best = max(record["sweep"], key=lambda row: (row["ndcg@10"], -row["weight"]))
    assert reranker.weight == record["weight"] == best["weight"]
    assert record["validation_ndcg@10_first_stage"] == record["sweep"][0]["ndcg@10"]


def test_training_twice_with_one_seed_gives_the_same_reranker(small_index, tmp_path):
    # the fresh one-logit head is drawn before the trainer seeds anything: whatever used torch's
    # random numbers before (here a draw between the runs) must not change the trained weights
    import torch

    settings = PARAMS.rerank.updated(max_queries=6, validation_queries=2, negatives=1,
                                     batch_size=4, max_length=64, device="cpu")
    with open_searcher(small_index) as searcher:
        examples = mine_examples(searcher, subject_pairs(searcher)[:6], 1)
    first = train_cross_encoder(examples, MODEL, settings, tmp_path / "first")
    torch.rand(1000)
    second = train_cross_encoder(examples, MODEL, settings, tmp_path / "second")
    other = train_cross_encoder(examples, MODEL, settings.updated(seed=settings.seed + 1),
                                tmp_path / "other")
    weights = [dict(model.model.named_parameters()) for model in (first, second, other)]
    assert all(torch.equal(weights[0][name], weights[1][name]) for name in weights[0])
    assert not all(torch.equal(weights[0][name], weights[2][name]) for name in weights[0])


def test_natural_questions_train_and_choose_the_weight_with_the_corpus_pairs(small_index,
                                                                            tmp_path):
    settings = PARAMS.rerank.updated(max_queries=6, validation_queries=4, negatives=1, batch_size=4,
                                     max_length=64, weights=(0.0, 0.5, 1.0), device="cpu")
    with open_searcher(small_index) as searcher:
        pairs = subject_pairs(searcher)
        natural = [TrainingQuery(f"which passage talks about {p.query}?", p.passage,
                                 (pairs[(i + 1) % len(pairs)].passage,))
                   for i, p in enumerate(pairs[:6])]
        other = ValidationSet("reading", pairs[9:], searcher)
        reranker, record = train_reranker(pairs[:6], pairs[6:9], searcher, MODEL, settings,
                                          tmp_path / "checkpoints", natural, [other])
        alone, alone_record = train_reranker([], [], searcher, MODEL, settings,
                                             tmp_path / "alone", natural, [other])
    assert record["natural_training_queries"] == 6 and record["training_queries"] == 6
    corpus = {row["weight"]: row["ndcg@10"] for row in record["sweep"]}
    reading = {row["weight"]: row["ndcg@10"] for row in record["sweep_reading"]}
    worst = {w: min(corpus[w] - corpus[0.0], reading[w] - reading[0.0]) for w in (0.0, 0.5, 1.0)}
    assert reranker.weight == record["weight"]
    assert worst[record["weight"]] == max(worst.values()) >= 0.0
    assert record["chosen_on"] == ("the smallest validation nDCG@10 gain over the first stage "
                                   "among corpus and reading, then their mean gain")
    assert record["validation_ndcg@10_reading"]["queries"] == len(pairs) - 9
    assert record["validation_ndcg@10_reading"]["reranked"] == reading[record["weight"]]
    # a corpus without pairs still gets a reranker from the natural questions alone
    assert alone_record["trained"] is True and alone_record["training_queries"] == 0
    assert alone_record["chosen_on"] == ("the smallest validation nDCG@10 gain over the first "
                                         "stage among reading, then their mean gain")
    assert alone.weight == alone_record["weight"]


def sweep_of(ndcg: dict[float, float]) -> list[dict[str, float]]:
    return [{"weight": w, "ndcg@10": value} for w, value in ndcg.items()]


def test_the_share_is_the_one_whose_worst_validation_set_gains_most():
    # corpus gains 0, +0.03, +0.05, +0.06; reading 0, +0.01, -0.004, -0.02: the mean picks 0.6
    # (+0.02) though it lowers reading; the worst-set gain picks 0.2 (+0.01 on both at worst)
    sweeps = {"corpus": sweep_of({0.0: 0.80, 0.2: 0.83, 0.4: 0.85, 0.6: 0.86}),
              "reading": sweep_of({0.0: 0.95, 0.2: 0.96, 0.4: 0.946, 0.6: 0.93})}
    assert choose_weight(sweeps, (0.0, 0.2, 0.4, 0.6)) == 0.2
    # where every share lowers some set, the first stage (gain 0 everywhere) is kept
    assert choose_weight(sweeps, (0.0, 0.4, 0.6)) == 0.0
    # equal worst gains: the larger mean, then the smaller share
    tied = {"a": sweep_of({0.0: 0.5, 0.5: 0.6, 1.0: 0.6}), "b": sweep_of({0.0: 0.5, 0.5: 0.5,
                                                                           1.0: 0.5})}
    assert choose_weight(tied, (0.5, 1.0)) == 0.5
    assert choose_weight({"a": sweep_of({0.0: 0.5, 0.5: 0.55, 1.0: 0.6})}, (0.0, 0.5, 1.0)) == 1.0


def test_without_pairs_the_reranker_has_share_zero_and_keeps_the_first_stage_order(small_index,
                                                                                   tmp_path):
    settings = PARAMS.rerank.updated(max_length=64, device="cpu")
    with open_searcher(small_index) as searcher:
        reranker, record = train_reranker([], [], searcher, MODEL, settings, tmp_path / "c")
        first_stage = searcher.search("the structure of DNA", k=8)
        reranked = reranker.rerank("the structure of DNA", first_stage,
                                   searcher.passages(first_stage))
    assert record["trained"] is False and record["weight"] == reranker.weight == 0.0
    assert "no pairs to learn from (0 training, 0 validation)" in record["reason"]
    assert [r.doc_id for r in reranked] == [r.doc_id for r in first_stage]
