"""The hybrid loss on a toy batch: cross-entropy + w * MSE by hand, gradients reaching both the
head and the LoRA adapter, and a saved head reloading to identical predictions."""

import pytest
import torch

from hybridrag.numeric.head import Normalizer, RegressionHead, load_head, save_head, value_positions
from hybridrag.numeric.trainer import TARGET, RegressionSFTTrainer, regression_loss

ROWS = [
    {"messages": [{"role": "user", "content": "In what year was Beethoven born?"},
                  {"role": "assistant", "content": "1770"}], TARGET: 1770.0},
    {"messages": [{"role": "user", "content": "In what year did the Titanic sink, exactly?"},
                  {"role": "assistant", "content": "It sank in 1912."}], TARGET: 1912.0},
    {"messages": [{"role": "user", "content": "Year of the fall of Constantinople?"},
                  {"role": "assistant", "content": "1453"}], TARGET: 1453.0},
]
WEIGHT = 0.7


@pytest.fixture
def trainer(tmp_path, tiny_base):
    from datasets import Dataset
    from peft import LoraConfig
    from trl import SFTConfig

    from hybridrag.chat.models import load_base, load_tokenizer

    torch.manual_seed(0)
    tokenizer = load_tokenizer(tiny_base)
    normalizer = Normalizer.fit([r[TARGET] for r in ROWS], "zscore")
    args = SFTConfig(output_dir=str(tmp_path / "out"), max_steps=1, per_device_train_batch_size=3,
                     use_cpu=True, bf16=False, gradient_checkpointing=False, report_to=[],
                     assistant_only_loss=True, remove_unused_columns=False, seed=0,
                     learning_rate=1e-3, save_strategy="no", disable_tqdm=True)
    return RegressionSFTTrainer(
        model=load_base(tiny_base, None, "cpu"), args=args, train_dataset=Dataset.from_list(ROWS),
        processing_class=tokenizer, peft_config=LoraConfig(r=4, lora_alpha=8, target_modules="all-linear",
                                                          task_type="CAUSAL_LM"),
        head=RegressionHead(64, 16), normalizer=normalizer, weight=WEIGHT, loss="mse")


def test_loss_is_cross_entropy_plus_weighted_mse_by_hand(trainer):
    model = trainer.model.train()
    batch = next(iter(trainer.get_train_dataloader()))
    hand_batch = {k: v.clone() for k, v in batch.items()}
    loss = trainer.compute_loss(model, batch)

    labels = hand_batch["labels"]
    decoder = model.get_base_model().model
    hidden = decoder(input_ids=hand_batch["input_ids"],
                     attention_mask=hand_batch["attention_mask"]).last_hidden_state
    logits = model.get_base_model().lm_head(hidden)
    cross_entropy = torch.nn.functional.cross_entropy(
        logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1), ignore_index=-100)
    positions = value_positions(labels)
    prediction = model.regression_head(hidden[torch.arange(3), positions])
    targets = hand_batch[TARGET]
    expected_mse = ((prediction - (targets - targets.mean()) / targets.std(unbiased=False)) ** 2).mean()
    assert float(loss) == pytest.approx(float(cross_entropy + WEIGHT * expected_mse), rel=1e-4)
    assert trainer.last_losses["regression"] == pytest.approx(float(expected_mse), rel=1e-4)


def test_gradients_reach_the_head_and_the_adapter(trainer):
    model = trainer.model.train()
    batch = next(iter(trainer.get_train_dataloader()))
    trainer.compute_loss(model, batch).backward()
    head_grads = [p.grad for p in model.regression_head.parameters()]
    lora_grads = [p.grad for n, p in model.named_parameters() if "lora_" in n]
    assert head_grads and all(g is not None and g.abs().sum() > 0 for g in head_grads)
    assert lora_grads and sum(float(g.abs().sum()) for g in lora_grads if g is not None) > 0
    base_grads = [p.grad for n, p in model.named_parameters() if "lora_" not in n
                  and "regression_head" not in n]
    assert all(g is None for g in base_grads)  # the frozen base stays frozen


def test_the_head_trains_with_the_adapter_in_one_optimizer_step(trainer):
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters() if p.requires_grad}
    trainer.train()
    after = dict(trainer.model.named_parameters())
    moved = {n for n, value in before.items() if not torch.equal(value, after[n].detach())}
    assert any("regression_head" in n for n in moved) and any("lora_" in n for n in moved)


def test_value_position_is_the_last_prompt_token():
    labels = torch.tensor([[-100, -100, 5, 6], [-100, 7, 8, -100]])
    assert value_positions(labels).tolist() == [1, 0]
    with pytest.raises(ValueError, match="no trained reply token"):
        value_positions(torch.tensor([[-100, -100]]))


@pytest.mark.parametrize(("kind", "expected"), [("mse", 2.5), ("mae", 1.5), ("huber", 1.0)])
def test_regression_losses_by_hand(kind, expected):
    prediction, target = torch.tensor([0.0, 0.0]), torch.tensor([1.0, -2.0])
    # huber (delta 1): 0.5 * 1^2 for the first, 2 - 0.5 for the second -> mean 1.0
    assert float(regression_loss(prediction, target, kind)) == pytest.approx(expected)
    with pytest.raises(ValueError, match="unknown regression loss"):
        regression_loss(prediction, target, "l3")


def test_normalizer_uses_training_statistics_and_round_trips():
    normalizer = Normalizer.fit([1900.0, 2000.0], "zscore")
    assert (normalizer.mean, normalizer.std) == (1950.0, 50.0)
    values = torch.tensor([1850.0, 2050.0])
    assert normalizer.normalize(values).tolist() == [-2.0, 2.0]
    assert torch.allclose(normalizer.denormalize(normalizer.normalize(values)), values)
    assert Normalizer.fit([5.0, 5.0], "zscore").std == 1.0
    assert Normalizer.fit([5.0], "none") == Normalizer("none", 0.0, 1.0)
    with pytest.raises(ValueError, match="no training targets"):
        Normalizer.fit([], "zscore")


def test_saved_head_reloads_to_identical_predictions(tmp_path):
    torch.manual_seed(1)
    head, normalizer = RegressionHead(64, 16), Normalizer("zscore", 1900.0, 120.0)
    save_head(tmp_path, head, normalizer)
    loaded, loaded_normalizer = load_head(tmp_path)
    hidden = torch.randn(5, 64)
    assert torch.equal(loaded(hidden), head.eval()(hidden)) and loaded_normalizer == normalizer
    with pytest.raises(FileNotFoundError, match="cross-entropy loss only"):
        load_head(tmp_path / "plain")


def test_a_row_cut_before_its_reply_is_left_out_of_the_regression(trainer):
    model = trainer.model.train()
    batch = next(iter(trainer.get_train_dataloader()))
    full = {k: v.clone() for k, v in batch.items()}
    trainer.compute_loss(model, full)
    both = trainer.last_losses["regression"]
    batch["labels"][0] = -100  # as if max_length had cut row 0's reply
    trainer.compute_loss(model, batch)
    assert trainer.last_losses["regression"] != both and torch.isfinite(torch.tensor(
        trainer.last_losses["regression"]))
