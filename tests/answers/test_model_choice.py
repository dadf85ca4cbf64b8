import json

from hybridrag.answers.model_choice import beats_configured, gate_caps, trained_chat_models
from hybridrag.answers.policy import policy_key
from hybridrag.chat.models import RUN_INFO


def rates(overall_f1):
    return {"overall_f1": overall_f1, "false_abstention": 0.1}


def test_a_tie_with_the_configured_setting_does_not_beat_it():
    tables = {"dpo": {"gate 0.15, keep": rates(0.5038), "gate 0.15, extractive": rates(0.5038)},
              "lora": {"gate 0.15, keep": rates(0.4949)}}
    best = {"chat_model": "dpo", "setting": "gate 0.15, keep", **rates(0.5038)}
    assert not beats_configured(best, tables, "dpo", "gate 0.15, extractive")
    assert beats_configured(best, tables, "lora", "gate 0.15, keep")
    assert not beats_configured(None, tables, "dpo", "gate 0.15, keep")
    # a configured setting without an overall F1 (no reading items) is beaten by any best
    assert beats_configured(best, {"dpo": {"no gate, keep": rates(None)}}, "dpo", "no gate, keep")


def test_the_tables_score_the_configured_cap_beside_the_reported_ones():
    assert gate_caps(0.15) == (0.05, 0.1, 0.15, 0.2)
    assert gate_caps(0.12) == (0.05, 0.1, 0.12, 0.15, 0.2)
    assert policy_key(gate_caps(0.12)[2], "keep") == "gate 0.12, keep"


def run_folder(folder, kind):
    folder.mkdir(parents=True)
    (folder / RUN_INFO).write_text(json.dumps({"kind": kind}))


def test_the_configured_model_comes_first_then_every_trained_run(tmp_path):
    base, sft, dpo = tmp_path / "base", tmp_path / "sft", tmp_path / "dpo"
    for method, kind in [("lora", "adapter"), ("qlora", "skipped"), ("prompt_tuning", "adapter"),
                         ("prefix_tuning", "skipped"), ("full", "full")]:
        run_folder(sft / method, kind)
    run_folder(dpo, "dpo")
    assert trained_chat_models("dpo", base, sft, dpo) == ["dpo", "lora", "prompt_tuning", "full"]
    assert trained_chat_models("full", base, sft, dpo) == ["full", "lora", "prompt_tuning", "dpo"]
    run_folder(base, "base")
    assert trained_chat_models("base", base, sft, dpo) == ["base", "lora", "prompt_tuning", "full",
                                                           "dpo"]
