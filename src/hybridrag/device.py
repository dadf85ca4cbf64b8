"""The device a model runs on, picked at run time: the same code on a laptop, CI and a GPU box."""

from __future__ import annotations

import sys
from importlib import metadata


def cpu_only_torch() -> bool:
    """True when the installed torch is a CPU-only build (its version ends in +cpu) away from
    macOS (Apple's GPU): "auto" is then the CPU, known without importing torch (seconds)."""
    try:
        return metadata.version("torch").endswith("+cpu") and sys.platform != "darwin"
    except metadata.PackageNotFoundError:
        return False


def pick_device(requested: str = "auto") -> str:
    """'auto' picks CUDA, then Apple MPS, then CPU; an explicit device must be available."""
    if requested == "cpu" or (requested == "auto" and cpu_only_torch()):
        return "cpu"
    import torch

    if requested == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {requested!r} requested but CUDA is not available")
    return requested
