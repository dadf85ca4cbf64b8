"""The params-read recorder and its check, by hand on a probe script (the check over every stage
of `dvc repro` is in test_pipeline.py and test_files_pipeline.py)."""

import json
import subprocess
import sys
from pathlib import Path

import yaml

from .params_reads import declares, recording_env, stage_of, undeclared_reads

ROOT = Path(__file__).resolve().parents[1]

PROBE = """\
from hybridrag.config import load_params
params = load_params("params.yaml")
answers = params.answers
print(answers.batch_size, answers.batch_size)
print(params.fusion.updated(method="rrf").method)  # set by the code: not a param read
print(params.fusion.updated(method="rrf").rrf_k)   # the copy's other values are params
params.sft.dpo.model_dump()                        # a whole section
params.numeric                                     # a section alone is no value read
"""


def run_probe(tmp_path: Path) -> Path:
    (tmp_path / "stages").mkdir()
    (tmp_path / "stages" / "probe.py").write_text(PROBE)
    (tmp_path / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    logs = tmp_path / "logs"
    subprocess.run([sys.executable, "stages/probe.py", "--flag"], cwd=tmp_path, check=True,
                   env={"PATH": "", **recording_env(logs)}, capture_output=True)
    return logs


def test_the_recorder_notes_each_value_a_stage_script_reads(tmp_path):
    logs = run_probe(tmp_path)
    [log] = logs.glob("*.json")
    record = json.loads(log.read_text())
    dpo = yaml.safe_load((ROOT / "params.yaml").read_text())["sft"]["dpo"]
    assert record["argv"] == ["stages/probe.py", "--flag"]
    assert record["reads"] == sorted({"answers.batch_size", "fusion.rrf_k"}
                                     | {f"sft.dpo.{key}" for key in dpo})


def test_a_script_outside_stages_is_not_recorded(tmp_path):
    (tmp_path / "probe.py").write_text(PROBE)
    (tmp_path / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    logs = tmp_path / "logs"
    subprocess.run([sys.executable, "probe.py"], cwd=tmp_path, check=True,
                   env={"PATH": "", **recording_env(logs)}, capture_output=True)
    assert list(logs.glob("*.json")) == []


def test_a_key_is_declared_by_itself_or_a_section_above_it():
    declared = {"answers", "sft.train", "rerank.depth"}
    assert declares(declared, "answers.batch_size") and declares(declared, "sft.train.seed")
    assert declares(declared, "rerank.depth")
    assert not declares(declared, "rerank.depth_x") and not declares(declared, "sft.dpo.beta")
    assert not declares(declared, "rerank")


def test_a_log_is_matched_to_its_stage_and_undeclared_reads_named(tmp_path):
    commands = {"a": "env X=1 python stages/a.py --out x", "b@1": "python stages/b.py --n 1",
                "b@2": "python stages/b.py --n 2"}
    assert stage_of(["stages/b.py", "--n", "2"], commands) == "b@2"
    assert stage_of(["stages/a.py", "--out", "x"], commands) == "a"
    assert stage_of(["stages/a.py", "--out", "y"], commands) is None
    lock = {"schema": "2.0", "stages": {
        "a": {"cmd": commands["a"], "params": {"params.yaml": {"answers": {}, "rerank.depth": 10}}},
        "b@2": {"cmd": commands["b@2"]}}}
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(lock))
    logs = tmp_path / "logs"
    logs.mkdir()
    for pid, (argv, reads) in enumerate([
            (["stages/a.py", "--out", "x"], ["answers.seed", "rerank.depth", "rerank.weights"]),
            (["stages/b.py", "--n", "2"], ["chunk.size"]),
            (["stages/c.py"], ["embed.model"])]):
        (logs / f"{pid}.json").write_text(json.dumps({"argv": argv, "reads": reads}))
    assert undeclared_reads(logs, tmp_path / "dvc.lock") == {
        "a": ["rerank.weights"], "b@2": ["chunk.size"], "no stage runs stages/c.py": ["embed.model"]}
