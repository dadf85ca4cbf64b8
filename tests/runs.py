"""The paths of a training run inside one test folder (the stages get them from dvc.yaml)."""

from __future__ import annotations

import os
from pathlib import Path

from hybridrag.sft.training import RunPaths


def run_in(base_model: str | os.PathLike[str], folder: Path) -> RunPaths:
    return RunPaths(Path(base_model), folder / "model", folder / "checkpoints", folder / "live",
                    folder / "metrics.json")
