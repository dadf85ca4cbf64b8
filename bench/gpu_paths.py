"""The fine-tuning half on a CUDA GPU, as dvc.yaml runs it: the training stage scripts (LoRA,
QLoRA, prompt and prefix tuning, full fine-tuning under torchrun with DeepSpeed ZeRO-2, then DPO)
with params.yaml's settings on `--device` (bf16 where the GPU has it), then the held-out
comparison's replies generated there by transformers. Each step is timed; one that fails is
reported with the end of its error output and the others go on. Results are rewritten after
every step, so a run cut short still says how far it got.

    python -m bench.gpu_paths --base-model models/base --data data/sft --out gpu_run

--base-model is prepared from sft.base_model first (stages/prepare_base.py) when it is not a
folder yet. Results: <out>/gpu_paths.json and .md (bench/results/ keeps the latest run).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import yaml

from hybridrag.atomic import atomic_write_text
from hybridrag.chat.models import RUN_INFO
from hybridrag.config import SFT_METHODS, load_params
from hybridrag.jsonl import read_jsonl
from hybridrag.reporting import describe_machine, markdown_table, write_json

ROOT = Path(__file__).resolve().parents[1]
PEFT_METHODS = [m for m in SFT_METHODS if m != "full"]  # train_lora's; full has train_full
PACKAGES = ["torch", "transformers", "peft", "trl", "accelerate", "deepspeed", "bitsandbytes"]
TRAIN_COLUMNS = ["train_seconds", "train_steps", "train_loss", "validation_loss",
                 "tokens_per_second", "peak_memory_mb"]
ANSWER_COLUMNS = ["f1", "exact_match", "overall_f1", "cites_relevant", "cites_relevant_not_first",
                  "abstains_unanswerable", "false_abstention"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", type=Path, default=ROOT / "params.yaml")
    parser.add_argument("--base-model", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True, help="chatml's output (data/sft)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--questions", type=int, default=200,
                        help="validation questions for base and the product's chat model")
    parser.add_argument("--other-questions", type=int, default=100,
                        help="validation questions for every other run")
    parser.add_argument("--methods", nargs="+", choices=SFT_METHODS, default=list(SFT_METHODS),
                        help="the SFT runs to train (DPO continues from sft.dpo.start)")
    return parser.parse_args()


def environment(device: str) -> dict[str, Any]:
    import torch

    packages = {name: version(name) for name in PACKAGES}
    if not device.startswith("cuda"):
        return {"device": device, "machine": describe_machine(), "packages": packages}
    return {"device": torch.cuda.get_device_name(), "cuda": torch.version.cuda,
            "bf16": torch.cuda.is_bf16_supported(), "machine": describe_machine(),
            "packages": packages}


def gpu_params(params_file: Path, device: str, questions: int, other_questions: int,
               methods: list[str]) -> dict:
    """params.yaml's settings with `methods` on, training and replies on `device` (transformers:
    the ONNX export is a CPU runtime)."""
    params = yaml.safe_load(params_file.read_text())
    params["sft"]["methods"] = methods
    params["sft"]["train"]["device"] = device
    params["sft"]["compare"].update(questions=questions, other_questions=other_questions)
    params["answers"].update(device=device, runtime="transformers", precision="fp32")
    return params


def stage_commands(params: Path, base: Path, data: Path, out: Path, methods: list[str]
                   ) -> dict[str, list[str]]:
    """Each training stage's command line, as dvc.yaml writes it, with outputs under `out`."""
    def run_args(name: str) -> list[str]:
        return ["--params", str(params), "--base-model", str(base), "--data", str(data),
                "--checkpoints", str(out / "checkpoints" / name), "--live",
                str(out / "dvclive" / name), "--metrics", str(out / "metrics" / f"{name}.json")]

    python = [sys.executable]
    commands = {method: [*python, "stages/train_lora.py", "--method", method, *run_args(method),
                         "--out", str(out / "sft" / method)]
                for method in PEFT_METHODS if method in methods}
    if "full" in methods:
        commands["full"] = [*python, "-m", "torch.distributed.run", "--nproc_per_node", "1",
                            "stages/train_full.py", *run_args("full"), "--out",
                            str(out / "sft" / "full")]
    commands["dpo"] = [*python, "stages/train_dpo.py", *run_args("dpo"),
                       "--sft-models", str(out / "sft"), "--out", str(out / "dpo")]
    return commands


def run_step(command: list[str], metrics: Path) -> dict[str, Any]:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"})
    row: dict[str, Any] = {"ok": result.returncode == 0, "wall_seconds": round(
        time.perf_counter() - started, 1)}
    if result.returncode != 0:
        row["error"] = (result.stderr or result.stdout)[-3000:]
    elif metrics.is_file():
        row |= {k: v for k, v in json.loads(metrics.read_text()).items() if k in TRAIN_COLUMNS}
    print(f"{command[1:4]}: {row}", flush=True)
    return row


def compare_on_device(params_file: Path, base: Path, data: Path, out: Path) -> dict[str, Any]:
    """The held-out comparison's answers from every run that trained (infer_compare's scorer)."""
    from hybridrag.sft.compare import compare_models

    params = load_params(params_file)
    rows = [row for _, row in read_jsonl(data / "validation.jsonl")]
    models = {"base": base, **{name: out / "sft" / name for name in SFT_METHODS
                               if (out / "sft" / name / RUN_INFO).is_file()}}
    if (out / "dpo" / RUN_INFO).is_file():
        models["dpo"] = out / "dpo"
    default = "dpo" if "dpo" in models else "base"
    results = compare_models(models, base, {"validation": rows}, params.sft, params.answers,
                             default)["validation"].results
    return {name: {k: results[name].get(k) for k in [*ANSWER_COLUMNS, "eval_seconds"]}
            for name in models}


def report(summary: dict[str, Any]) -> str:
    env = summary["environment"]
    train_rows = [[name, "yes" if row["ok"] else "FAILED", row["wall_seconds"],
                   *(row.get(c) for c in TRAIN_COLUMNS)] for name, row in summary["steps"].items()]
    answer_rows = [[name, *(row.get(c) for c in [*ANSWER_COLUMNS, "eval_seconds"])]
                   for name, row in summary.get("answers", {}).items()]
    failures = [f"### {name}\n\n```\n{row['error']}\n```" for name, row in summary["steps"].items()
                if not row["ok"]]
    return "\n".join([
        "# The fine-tuning half on a GPU", "",
        f"Device: {env['device']} (CUDA {env.get('cuda')}, bf16 {env.get('bf16')}); host: "
        f"{env['machine']}. Packages: {', '.join(f'{k} {v}' for k, v in env['packages'].items())}."
        f" One run of `python -m bench.gpu_paths`, {summary['started']}; params.yaml's settings, "
        f"runs trained: {', '.join(summary['methods'])}, then DPO.", "",
        "## Training stages", "",
        markdown_table(["run", "ran", "wall s", *TRAIN_COLUMNS], train_rows), "",
        f"## Replies on the GPU (transformers), {summary['questions']} validation questions for "
        f"base and the product's model, {summary['other_questions']} for the others", "",
        markdown_table(["model", *ANSWER_COLUMNS, "eval s"], answer_rows) if answer_rows
        else "(not reached)", "", *failures])


def main() -> None:
    args = parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    params_file = out / "params.yaml"
    params_file.write_text(yaml.safe_dump(gpu_params(args.params, args.device, args.questions,
                                                     args.other_questions, args.methods),
                                          sort_keys=False))
    load_params(params_file)  # a bad setting fails here, not in every step
    summary: dict[str, Any] = {"environment": environment(args.device),
                               "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                               "methods": args.methods, "questions": args.questions,
                               "other_questions": args.other_questions, "steps": {}}

    def save() -> None:
        write_json(out / "gpu_paths.json", summary)
        atomic_write_text(out / "gpu_paths.md", report(summary) + "\n")

    base = args.base_model.resolve()
    if not base.is_dir():
        summary["steps"]["prepare_base"] = run_step(
            [sys.executable, "stages/prepare_base.py", "--params", str(params_file), "--out",
             str(base)], out / "none")
        save()
    for name, command in stage_commands(params_file, base, args.data.resolve(), out,
                                                args.methods).items():
        summary["steps"][name] = run_step(command, out / "metrics" / f"{name}.json")
        save()
    started = time.perf_counter()
    summary["answers"] = compare_on_device(params_file, base, args.data.resolve(), out)
    summary["answers_wall_seconds"] = round(time.perf_counter() - started, 1)
    save()
    print(report(summary))


if __name__ == "__main__":
    main()
