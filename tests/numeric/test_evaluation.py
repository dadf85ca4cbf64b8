"""Numeric predictions: replies parsed, the head read from the generation's own forward pass
equals the head on the last prompt token of a separate forward, one model's predictions per
setting, and their file read back as written."""

import json

import pytest
import torch

from hybridrag.numeric.evaluation import (
    NumericPrediction,
    predict_numbers,
    predict_settings,
    read_predictions,
    score_predictions,
    write_predictions,
)
from hybridrag.numeric.head import Normalizer, RegressionHead, final_norm
from hybridrag.numeric.rows import question_row
from hybridrag.numeric.years import YearQuestion

QUESTIONS = [YearQuestion("a#born", "a", "In what year was Ada Lovelace born?", 1815.0, ""),
             YearQuestion("b#year", "b", "In what year was Dracula published, as a novel?", 1897.0, "")]


def test_head_values_come_from_the_last_prompt_token(tiny_base):
    from hybridrag.chat.generation import TransformersGenerator

    generator = TransformersGenerator.load(tiny_base, tiny_base, "cpu")
    torch.manual_seed(0)
    head, normalizer = RegressionHead(64, 8).eval(), Normalizer("zscore", 1900.0, 100.0)
    rows = [question_row(q, "none") for q in QUESTIONS]
    predictions = predict_numbers(generator, rows, max_new_tokens=4, batch_size=2,
                                  head=(head, normalizer))
    assert [p.question_id for p in predictions] == ["a#born", "b#year"]
    assert [p.target for p in predictions] == [1815.0, 1897.0]
    tokenizer = generator.tokenizer
    captured = []
    hook = final_norm(generator.model).register_forward_hook(lambda _m, _i, o: captured.append(o))
    for row in rows:
        text = tokenizer.apply_chat_template(row.messages[:-1], tokenize=False,
                                             add_generation_prompt=True)
        ids = tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            generator.model(input_ids=ids)
    hook.remove()
    with torch.no_grad():
        expected = [float(normalizer.denormalize(head(c[:, -1]).double())) for c in captured]
    assert [p.head for p in predictions] == pytest.approx(expected, abs=1e-3)
    plain = predict_numbers(generator, rows, max_new_tokens=4, batch_size=2)
    assert all(p.head is None for p in plain)
    assert [p.reply for p in plain] == [p.reply for p in predictions]  # the hook changes nothing


def test_scores_cover_the_head_only_when_every_row_has_one():
    predictions = [NumericPrediction("a", 1815.0, "1815", 1815.0, 1820.0),
                   NumericPrediction("b", 1897.0, "no idea", None, 1890.0)]
    scores = score_predictions(predictions, [5])
    assert scores["generated"]["exact_match"] == 0.5 and scores["generated"]["parse_failure_rate"] == 0.5
    assert scores["head"]["within_5"] == 0.5 and scores["head"]["mae"] == 6.0
    assert "head" not in score_predictions([NumericPrediction("a", 1.0, "1", 1.0, None)], [1])


def test_the_examples_baseline_is_the_median_of_the_values_the_prompt_shows():
    from hybridrag.numeric.evaluation import example_medians
    from hybridrag.numeric.rows import SolvedExample

    shown = [SolvedExample("Q1?", 1800.0, "x"), SolvedExample("Q2?", -50.0, "y"),
             SolvedExample("Q3?", 1900.0, "z")]
    rows = [question_row(QUESTIONS[0], "semantic", (), shown),
            question_row(QUESTIONS[1], "semantic", (), shown[:2]),
            question_row(QUESTIONS[1], "none")]
    assert example_medians(rows) == [
        NumericPrediction("a#born", 1815.0, "1800, 50 BC, 1900", 1800.0, None),
        NumericPrediction("b#year", 1897.0, "1800, 50 BC", 875.0, None),  # (1800 - 50) / 2
        NumericPrediction("b#year", 1897.0, "", None, None)]


def test_one_model_is_asked_every_setting_that_has_rows(tiny_base):
    rows = {("years", "none"): [question_row(q, "none") for q in QUESTIONS],
            ("years", "sources"): [],
            ("validation", "mixed"): [question_row(QUESTIONS[1], "none")]}
    predictions = predict_settings(tiny_base, tiny_base, rows, 4, 2, "cpu")
    assert list(predictions) == [("years", "none"), ("validation", "mixed")]
    assert [p.question_id for p in predictions["years", "none"]] == ["a#born", "b#year"]
    assert predictions["validation", "mixed"][0].reply == predictions["years", "none"][1].reply
    assert all(p.head is None for part in predictions.values() for p in part)  # no head saved
    assert predict_settings(tiny_base / "missing", tiny_base, {("years", "none"): []}, 4, 2,
                            "cpu") == {}  # nothing to ask: the model is not even loaded


def test_onnx_predictions_and_head_values_are_transformers_ones(varied_tiny_base, tmp_path):
    import shutil

    from hybridrag.numeric.head import save_head

    rows = {("years", "none"): [question_row(q, "none") for q in QUESTIONS],
            ("validation", "mixed"): [question_row(QUESTIONS[1], "none")]}
    on_onnx = predict_settings(varied_tiny_base, varied_tiny_base, rows, 6, 2, "cpu", "onnx")
    on_torch = predict_settings(varied_tiny_base, varied_tiny_base, rows, 6, 2, "cpu")
    assert on_onnx == on_torch  # fp32: the same greedy tokens, hence the same numbers
    assert len({p.reply for p in on_torch["years", "none"]}) == 2  # replies that can differ
    hybrid = tmp_path / "hybrid"  # a run with a head: ONNX exports its hidden states for it
    shutil.copytree(varied_tiny_base, hybrid)
    torch.manual_seed(0)
    save_head(hybrid, RegressionHead(64, 8).eval(), Normalizer("zscore", 1900.0, 100.0))
    head_on_onnx = predict_settings(hybrid, varied_tiny_base, rows, 6, 2, "cpu", "onnx")
    head_on_torch = predict_settings(hybrid, varied_tiny_base, rows, 6, 2, "cpu")
    for setting, part in head_on_torch.items():
        assert [p.reply for p in head_on_onnx[setting]] == [p.reply for p in part]
        assert all(p.head is not None for p in part)
        assert [p.head for p in head_on_onnx[setting]] == pytest.approx(
            [p.head for p in part], abs=1e-3)
    assert len({p.head for p in head_on_torch["years", "none"]}) == 2  # values that can differ


def test_predictions_read_back_per_setting_as_written(tmp_path):
    predictions = {("years", "none"): [NumericPrediction("q1", 1900.0, "1901", 1901.0, None),
                                       NumericPrediction(None, 5.0, "no idea", None, None)],
                   ("validation", "mixed"): [NumericPrediction("v", 2.0, "2", 2.0, 2.5)]}
    write_predictions(tmp_path / "p.jsonl", predictions)
    first = json.loads((tmp_path / "p.jsonl").read_text().splitlines()[0])
    assert first == {"question_set": "years", "context": "none", "question_id": "q1",
                     "target": 1900.0, "reply": "1901", "generated": 1901.0, "head": None}
    back = read_predictions(tmp_path / "p.jsonl")
    assert back == predictions and list(back) == [("years", "none"), ("validation", "mixed")]
