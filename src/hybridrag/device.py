"""The device a model runs on, picked at run time: the same code on a laptop, CI and a GPU box."""

from __future__ import annotations


def pick_device(requested: str = "auto") -> str:
    """'auto' picks CUDA, then Apple MPS, then CPU; an explicit device must be available."""
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
