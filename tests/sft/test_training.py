"""Fine-tuning runs on a tiny random model that uses SmolLM2's real tokenizer and template."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from hybridrag.chat.models import (
    RUN_INFO,
    load_base,
    load_for_inference,
    load_trained,
    merged_model,
)
from hybridrag.config import SftParams
from hybridrag.sft.training import init_prefix_from_text, skip, train

from ..conftest import CONVERSATIONS, PARAMS
from ..runs import run_in

ROOT = Path(__file__).resolve().parents[2]
TINY_TRAIN = PARAMS.sft.train.updated(max_length=64, batch_size=2, max_steps=3, save_steps=1,
                                      eval_steps=3, eval_samples=2, device="cpu")


def tiny_params(**sections) -> SftParams:
    return PARAMS.sft.updated(train=TINY_TRAIN,
                              lora=PARAMS.sft.lora.updated(learning_rate=2e-2, r=4, alpha=8),
                              qlora=PARAMS.sft.qlora.updated(learning_rate=2e-2, r=4, alpha=8),
                              **sections)


def run(method, tiny_base, folder, params=None):
    paths = run_in(tiny_base, folder)
    metrics = train(method, params or tiny_params(), CONVERSATIONS[:6], CONVERSATIONS[6:], paths)
    return paths, metrics


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory, tiny_base):
    return run("lora", tiny_base, tmp_path_factory.mktemp("lora"))


def logits(model, tokenizer):
    ids = tokenizer.apply_chat_template(CONVERSATIONS[7], return_tensors="pt", return_dict=True)
    with torch.inference_mode():
        return model(**ids).logits


def test_lora_run_saves_an_adapter_and_measures_itself(lora_run):
    paths, metrics = lora_run
    assert metrics["train_steps"] == 3 and metrics["resumed_from_step"] == 0
    assert 0 < metrics["trainable_parameters"] < metrics["total_parameters"]
    assert metrics["peak_memory_mb"] > 0 and metrics["tokens_per_second"] > 0
    assert metrics["validation_loss"] > 0 and metrics["train_loss"] > 0
    info = json.loads((paths.out_dir / RUN_INFO).read_text())
    assert info["kind"] == "adapter" and info["method"] == "lora"
    assert (paths.out_dir / "adapter_model.safetensors").is_file()
    assert not paths.checkpoints.exists()  # finished: nothing left to resume
    with (paths.live_dir / "plots/metrics/train/loss.tsv").open() as handle:
        assert [int(r["step"]) for r in csv.DictReader(handle, delimiter="\t")] == [1, 2, 3]
    assert json.loads(paths.metrics.read_text()) == metrics


def test_a_run_without_validation_conversations_trains_without_evaluating(tmp_path, tiny_base):
    paths = run_in(tiny_base, tmp_path)
    metrics = train("lora", tiny_params(), CONVERSATIONS[:4], [], paths)
    assert metrics["train_steps"] == 3 and metrics["validation_loss"] is None


def test_an_untrained_run_loads_as_the_base_model_and_says_so(tmp_path, tiny_base, smol_tokenizer,
                                                             capsys):
    paths = run_in(tiny_base, tmp_path)
    skip("lora", paths, "no training conversations in data/sft")
    loaded = logits(load_trained(paths.out_dir, tiny_base, "cpu"), smol_tokenizer)
    assert torch.equal(loaded, logits(load_base(tiny_base, None, "cpu"), smol_tokenizer))
    assert "was not trained (no training conversations in data/sft)" in capsys.readouterr().err
    assert json.loads(paths.metrics.read_text())["reason"] == "no training conversations in data/sft"


def test_saved_adapter_reloads_to_the_same_outputs_and_merges(lora_run, tiny_base, smol_tokenizer,
                                                             tmp_path):
    paths, _ = lora_run
    adapted = logits(load_trained(paths.out_dir, tiny_base, "cpu"), smol_tokenizer)
    again = logits(load_trained(paths.out_dir, tiny_base, "cpu"), smol_tokenizer)
    base = logits(load_base(tiny_base, None, "cpu"), smol_tokenizer)
    assert torch.equal(adapted, again)
    assert (adapted - base).abs().max() > 1e-3  # the adapter learned something
    merged = merged_model(paths.out_dir, tiny_base)
    assert not hasattr(merged, "peft_config")  # one plain model: the adapter is in the weights
    assert torch.allclose(logits(merged, smol_tokenizer), adapted, atol=1e-4)
    for_inference = load_for_inference(paths.out_dir, tiny_base, "cpu")  # what generation loads
    assert not hasattr(for_inference, "peft_config")
    assert torch.allclose(logits(for_inference, smol_tokenizer), adapted, atol=1e-4)


def test_qlora_trains_on_a_4bit_base(tmp_path, tiny_base, smol_tokenizer):
    paths, metrics = run("qlora", tiny_base, tmp_path)
    assert metrics["train_steps"] == 3
    info = json.loads((paths.out_dir / RUN_INFO).read_text())
    assert info["quantize"] == {"quant_type": "nf4", "double_quant": True}
    model = load_trained(paths.out_dir, tiny_base, "cpu")
    assert any(type(m).__name__ == "Linear4bit" for m in model.modules())
    kept = load_for_inference(paths.out_dir, tiny_base, "cpu")  # not merged: 4-bit as trained
    assert any(type(m).__name__ == "Linear4bit" for m in kept.modules())
    assert torch.isfinite(logits(model, smol_tokenizer)).all()


@pytest.mark.parametrize("method", ["prompt_tuning", "prefix_tuning"])
def test_prompt_and_prefix_tuning_train_few_parameters(tmp_path, tiny_base, smol_tokenizer, method):
    paths, metrics = run(method, tiny_base, tmp_path)
    assert metrics["trainable_parameters"] < 0.2 * metrics["total_parameters"]
    model = load_trained(paths.out_dir, tiny_base, "cpu")
    assert torch.isfinite(logits(model, smol_tokenizer)).all()


def test_prefix_initialised_from_text_is_the_model_conditioned_on_that_text(tiny_base, smol_tokenizer):
    from peft import PrefixTuningConfig, get_peft_model

    base = load_base(tiny_base, None, "cpu")
    text = "Reply kindly."
    prefix_ids = smol_tokenizer(text, add_special_tokens=False)["input_ids"]
    model = get_peft_model(load_base(tiny_base, None, "cpu"), PrefixTuningConfig(
        task_type="CAUSAL_LM", num_virtual_tokens=len(prefix_ids)))
    init_prefix_from_text(model, smol_tokenizer, text)
    ids = smol_tokenizer("Hello there, friend", add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        conditioned = base(torch.cat([torch.tensor([prefix_ids]), ids], dim=1)).logits[:, len(prefix_ids):]
        prefixed = model(input_ids=ids).logits
    assert torch.allclose(prefixed, conditioned, atol=1e-4)


def write_stage_params(folder: Path, tiny_base: Path, **train) -> Path:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["sft"]["base_model"] = str(tiny_base)
    params["sft"]["train"].update(max_length=64, batch_size=2, eval_samples=2, device="cpu", **train)
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    data = folder / "data"
    data.mkdir()
    for split, part in (("train", CONVERSATIONS[:6]), ("validation", CONVERSATIONS[6:])):
        (data / f"{split}.jsonl").write_text("".join(json.dumps({"messages": c}) + "\n" for c in part))
    return path


def stage_paths(method: str) -> list[str]:
    """The output arguments dvc.yaml passes a training stage, relative to the run folder."""
    return ["--out", f"models/sft/{method}", "--checkpoints", f"checkpoints/{method}",
            "--live", f"dvclive/{method}", "--metrics", f"metrics/sft/train_{method}.json"]


@pytest.mark.slow
def test_killed_run_resumes_from_its_last_checkpoint(tmp_path, tiny_base):
    params = write_stage_params(tmp_path, tiny_base, max_steps=60, save_steps=5, eval_steps=60)
    command = [sys.executable, str(ROOT / "stages" / "train_lora.py"), "--params", str(params),
               "--method", "lora", "--base-model", str(tiny_base), "--data", str(tmp_path / "data"),
               *stage_paths("lora")]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    first = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    checkpoint = tmp_path / "checkpoints/lora/checkpoint-10/trainer_state.json"
    deadline = time.monotonic() + 300
    while not checkpoint.exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert checkpoint.exists() and not (tmp_path / "metrics/sft/train_lora.json").exists()
    second = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]
    metrics = json.loads((tmp_path / "metrics/sft/train_lora.json").read_text())
    assert metrics["resumed_from_step"] >= 10 and metrics["train_steps"] == 60
    with (tmp_path / "dvclive/lora/plots/metrics/train/loss.tsv").open() as handle:
        steps = [int(r["step"]) for r in csv.DictReader(handle, delimiter="\t")]
    assert steps == list(range(1, 61))  # rows after the checkpoint were replaced, not doubled


@pytest.mark.slow
def test_full_fine_tuning_with_deepspeed_under_torchrun(tmp_path, tiny_base, smol_tokenizer):
    params = write_stage_params(tmp_path, tiny_base, max_steps=2, save_steps=2, eval_steps=2)
    settings = yaml.safe_load(params.read_text())
    settings["sft"]["full"]["deepspeed_config"] = str(ROOT / "configs/deepspeed/zero2.json")
    params.write_text(yaml.safe_dump(settings))
    torchrun = Path(sys.executable).parent / "torchrun"
    result = subprocess.run(
        [str(torchrun), "--nproc_per_node", "1", str(ROOT / "stages" / "train_full.py"),
         "--params", str(params), "--base-model", str(tiny_base), "--data", str(tmp_path / "data"),
         *stage_paths("full")],
        cwd=tmp_path, env={**os.environ, "HF_HUB_OFFLINE": "1"}, capture_output=True, text=True,
        timeout=900)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "DeepSpeed" in result.stdout + result.stderr  # the engine really ran
    metrics = json.loads((tmp_path / "metrics/sft/train_full.json").read_text())
    assert metrics["train_steps"] == 2 and metrics["trainable_parameters"] == metrics["total_parameters"]
    model = load_trained(tmp_path / "models/sft/full", tiny_base, "cpu")
    base = load_base(tiny_base, None, "cpu")
    assert (logits(model, smol_tokenizer) - logits(base, smol_tokenizer)).abs().max() > 0
