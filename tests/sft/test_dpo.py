
"""DPO: preference pairs mined with the scorer (and synthetic corruptions), a real DPOTrainer run
on a tiny random model that lowers its loss, and an adapter that reloads to the same outputs."""

import json
import random

import pytest
import torch

from hybridrag.answers.prompt import NO_ANSWER, Source
from hybridrag.answers.scoring import GroundedItem
from hybridrag.chat.generation import Generated, Sampling, TransformersGenerator
from hybridrag.chat.models import RUN_INFO, load_trained
from hybridrag.sft.dpo import (
    PreferencePair,
    balance_abstention,
    corrupt,
    preference_pairs,
    train_dpo,
)
from hybridrag.sft.training import train

from ..conftest import CONVERSATIONS, PARAMS
from ..runs import run_in

SOURCES = (Source(1, "d1", 1, "Potato", "The potato is a tuber. It grows underground."),
           Source(2, "d2", 2, "Tomato", "The tomato is a berry. It is red."))
ANSWERABLE = GroundedItem("What is the berry?", SOURCES, (2,), ("Tomato",),
                          "[2] Tomato: The tomato is a berry.")
UNANSWERABLE = GroundedItem("What is the fish?", SOURCES, (), ("Salmon",), NO_ANSWER)


def test_corruptions_are_a_wrong_citation_or_an_answer_where_the_reference_abstains():
    assert corrupt(ANSWERABLE, random.Random(0)) == ("[1] Tomato: The tomato is a berry.",
                                                     "synthetic_wrong_citation")
    text, kind = corrupt(UNANSWERABLE, random.Random(0))
    assert kind == "synthetic_answered_unanswerable" and text.startswith(("[1] ", "[2] "))


class Scripted:
    """A stand-in generator with fixed replies (preference_pairs only reads replies())."""

    def __init__(self, texts):
        self.texts = texts

    def replies(self, prompts, max_new_tokens, batch_size, sampling=None, samples=1):
        assert samples * len(prompts) == len(self.texts)
        return [Generated(text, stopped) for text, stopped in self.texts]


def test_pairs_keep_wrong_samples_once_and_corrupt_when_none_is_wrong():
    generator = Scripted([("[2] Tomato: The tomato is a berry.", True), ("Potato [1].", True),
                          ("Potato [1].", True), ("Potato [1].", True),  # item 2: one distinct
                          ("[2] Tomato: It is.", True), ("Tomato [2].", True)])  # all right
    pairs, summary = preference_pairs([ANSWERABLE, UNANSWERABLE, ANSWERABLE], generator, 2,
                                      Sampling(1.0, 1.0, 0), 16, 4, synthetic_share=1.0,
                                      balance=False, seed=0)
    assert [(p.rejected, p.kind) for p in pairs] == [
        ("Potato [1].", "wrong_citation"), ("Potato [1].", "answered_unanswerable"),
        ("[1] Tomato: The tomato is a berry.", "synthetic_wrong_citation")]
    assert all(p.chosen == item.reference for p, item in
               zip(pairs, [ANSWERABLE, UNANSWERABLE, ANSWERABLE], strict=True))
    assert summary["pairs_by_kind"] == {"answered_unanswerable": 1, "synthetic_wrong_citation": 1,
                                        "wrong_citation": 1}
    assert summary["sampled_by_fault"]["correct"] == 3


def test_balance_adds_answering_pairs_for_answerable_items_then_cuts_abstaining_ones():
    items = [UNANSWERABLE, UNANSWERABLE, UNANSWERABLE, ANSWERABLE, ANSWERABLE]
    prompts = [[{"role": "user", "content": str(i)}] for i in range(5)]
    answered = [PreferencePair(prompts[i], NO_ANSWER, f"Potato [1] {i}.", "answered_unanswerable")
                for i in range(3)] + [PreferencePair(prompts[0], NO_ANSWER, "Potato [1] again.",
                                                     "answered_unanswerable")]
    wrong = PreferencePair(prompts[3], ANSWERABLE.reference, "[1] Tomato.", "wrong_citation")
    refused = PreferencePair(prompts[4], ANSWERABLE.reference, NO_ANSWER, "false_abstention")
    balanced = balance_abstention([*answered, wrong, refused], items, prompts, random.Random(0))
    # 4 teach abstaining, 1 teaches answering: item 3 (answerable, none yet) gets a synthetic
    # false abstention, item 4 already has one; then 2 of the 4 abstaining pairs are cut.
    assert sum(p.chosen == NO_ANSWER for p in balanced) == 2
    assert [p.kind for p in balanced if p.rejected == NO_ANSWER] == ["false_abstention",
                                                                     "synthetic_false_abstention"]
    assert balanced[-1].prompt is prompts[3] and balanced[-1].chosen == ANSWERABLE.reference
    assert wrong in balanced and len(balanced) == 5


def test_balance_adds_abstaining_pairs_when_answering_ones_outnumber_them():
    prompts = [[{"role": "user", "content": str(i)}] for i in range(3)]
    refused = [PreferencePair(prompts[i], ANSWERABLE.reference, NO_ANSWER, "false_abstention")
               for i in range(2)]
    balanced = balance_abstention(refused, [ANSWERABLE, ANSWERABLE, UNANSWERABLE], prompts,
                                  random.Random(0))
    assert [p.kind for p in balanced] == ["false_abstention", "synthetic_answered_unanswerable"]
    assert balanced[1].chosen == NO_ANSWER and balanced[1].rejected.startswith(("[1] ", "[2] "))
    assert balance_abstention(balanced, [ANSWERABLE, ANSWERABLE, UNANSWERABLE], prompts,
                              random.Random(0)) == balanced


@pytest.fixture(scope="module")
def dpo_run(tmp_path_factory, tiny_base):
    folder = tmp_path_factory.mktemp("dpo")
    sft = PARAMS.sft.updated(
        train=PARAMS.sft.train.updated(max_length=160, batch_size=2, max_steps=2, save_steps=2,
                                       eval_steps=2, eval_samples=2, device="cpu"),
        dpo=PARAMS.sft.dpo.updated(prompts=6, samples=2, max_steps=8, batch_size=2,
                                   learning_rate=5e-3, beta=0.5, synthetic_share=1.0,
                                   sample_precision="fp32"))
    start = run_in(tiny_base, folder / "sft")
    train("lora", sft, CONVERSATIONS[:4], CONVERSATIONS[4:], start)
    paths = run_in(tiny_base, folder / "dpo")
    answers = PARAMS.answers.updated(max_new_tokens=8, batch_size=4)
    metrics = train_dpo([ANSWERABLE, UNANSWERABLE] * 3, sft, answers, start.out_dir, paths)
    return paths, start, metrics


def test_dpo_lowers_its_loss_and_records_reward_margins(dpo_run):
    paths, _, metrics = dpo_run
    assert metrics["train_steps"] == 8 and metrics["preference_data"]["pairs"] >= 6
    # sampled in sft.dpo.sample_precision, not in the answers' precision (int8)
    assert PARAMS.answers.precision == "int8"
    assert metrics["preference_data"]["sampled_on"] == "onnx fp32"
    losses = [float(line.split("\t")[-1]) for line in
              (paths.live_dir / "plots/metrics/train/loss.tsv").read_text().splitlines()[1:]]
    assert losses[0] == pytest.approx(0.6931, abs=0.01)  # policy = reference at the start
    assert losses[-1] < losses[0]
    assert metrics["reward_margin_last"] > 0
    assert json.loads(paths.metrics.read_text()) == metrics


def test_dpo_adapter_saves_with_its_start_and_reloads_to_the_same_outputs(dpo_run, tiny_base,
                                                                         smol_tokenizer):
    paths, start, _ = dpo_run
    info = json.loads((paths.out_dir / RUN_INFO).read_text())
    assert info["kind"] == "dpo" and (paths.out_dir / info["start"] / RUN_INFO).is_file()
    ids = smol_tokenizer.apply_chat_template(CONVERSATIONS[7], return_tensors="pt", return_dict=True)
    with torch.inference_mode():
        first = load_trained(paths.out_dir, tiny_base, "cpu")(**ids).logits
        second = load_trained(paths.out_dir, tiny_base, "cpu")(**ids).logits
        sft = load_trained(start.out_dir, tiny_base, "cpu")(**ids).logits
    assert torch.equal(first, second)
    assert (first - sft).abs().max() > 1e-4  # DPO moved the model
    generator = TransformersGenerator.load(paths.out_dir, tiny_base, "cpu")
    assert not hasattr(generator.model, "peft_config")  # both adapters folded in to generate
    with torch.inference_mode():
        assert torch.allclose(generator.model(**ids).logits, first, atol=1e-4)
    replies = generator.replies([CONVERSATIONS[7][:1]], 6, 1)
    assert len(replies) == 1
