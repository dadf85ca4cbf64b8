"""Which params.yaml values each stage of a `dvc repro` read, and which of them its dvc.yaml entry
does not declare (so changing them would not rerun it). The reads come from
tests/params_recording/sitecustomize.py, in the processes `recording_env` starts."""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import Any

import yaml

RECORDER = Path(__file__).resolve().parent / "params_recording"


def recording_env(log_dir: Path) -> dict[str, str]:
    """Environment for a command whose stage scripts log their params reads to `log_dir`."""
    log_dir.mkdir(parents=True, exist_ok=True)
    path = os.pathsep.join(p for p in (str(RECORDER), os.environ.get("PYTHONPATH")) if p)
    return {"PYTHONPATH": path, "HYBRIDRAG_PARAMS_READS": str(log_dir)}


def declares(declared: set[str], key: str) -> bool:
    """A dotted key is declared by itself or by a section above it."""
    parts = key.split(".")
    return any(".".join(parts[:n]) in declared for n in range(1, len(parts) + 1))


def stage_of(argv: list[str], commands: dict[str, str]) -> str | None:
    """The stage whose command ends by running this script with these arguments."""
    for stage, command in commands.items():
        words = shlex.split(command)
        if len(words) >= len(argv) and words[len(words) - len(argv):] == argv:
            return stage
    return None


def undeclared_reads(log_dir: Path, lock_file: Path) -> dict[str, list[str]]:
    """Per stage (or per unmatched command), the params it read that dvc.lock does not list."""
    lock: dict[str, Any] = yaml.safe_load(lock_file.read_text())["stages"]
    commands = {name: " ".join(entry["cmd"]) if isinstance(entry["cmd"], list) else entry["cmd"]
                for name, entry in lock.items()}
    missing: dict[str, list[str]] = {}
    for log in sorted(log_dir.glob("*.json")):
        record = json.loads(log.read_text())
        stage = stage_of(record["argv"], commands)
        if stage is None:
            missing[f"no stage runs {shlex.join(record['argv'])}"] = record["reads"]
            continue
        declared = set(lock[stage].get("params", {}).get("params.yaml", {}))
        keys = [key for key in record["reads"] if not declares(declared, key)]
        if keys:
            missing[stage] = sorted(set(missing.get(stage, [])) | set(keys))
    return missing
