import pytest
import torch

from hybridrag.chat.models import load_base
from hybridrag.sft.evaluation import encode_with_labels, heldout_scores

from ..conftest import CONVERSATIONS


def test_heldout_loss_matches_the_models_own_loss_on_assistant_tokens(tiny_base, smol_tokenizer):
    model = load_base(tiny_base, None, "cpu")
    ids, labels = encode_with_labels(smol_tokenizer, CONVERSATIONS[0], max_length=512)
    assert sum(label != -100 for label in labels) > 10
    with torch.inference_mode():
        expected = model(input_ids=torch.tensor([ids]), labels=torch.tensor([labels])).loss.item()
    scores = heldout_scores(model, smol_tokenizer, CONVERSATIONS[:1], max_length=512)
    assert scores["loss"] == pytest.approx(expected, abs=1e-4)
    assert scores["perplexity"] == pytest.approx(2.718281828 ** expected, rel=1e-3)
    assert 0 <= scores["token_accuracy"] <= 1


def test_batching_and_padding_do_not_change_the_scores(tiny_base, smol_tokenizer):
    model = load_base(tiny_base, None, "cpu")
    one_by_one = heldout_scores(model, smol_tokenizer, CONVERSATIONS[:5], 512, batch_size=1)
    batched = heldout_scores(model, smol_tokenizer, CONVERSATIONS[:5], 512, batch_size=4)
    assert batched["loss"] == pytest.approx(one_by_one["loss"], abs=1e-4)
    assert batched["tokens"] == one_by_one["tokens"]
