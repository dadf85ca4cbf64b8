"""The regression head of hybrid-loss fine-tuning: a small MLP that reads the chat model's final
hidden state at the last prompt token and predicts the normalised number of the reply. Saved
beside the adapter (head.safetensors + head.json) and loaded with it."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import torch

HEAD_WEIGHTS = "head.safetensors"
HEAD_CONFIG = "head.json"
Normalization = Literal["zscore", "none"]


@dataclass(frozen=True)
class Normalizer:
    """Maps targets to the scale the head learns on; statistics from the training split only."""

    kind: Normalization
    mean: float
    std: float

    @classmethod
    def fit(cls, targets: list[float], kind: Normalization) -> Normalizer:
        if not targets:
            raise ValueError("no training targets to take the normalisation statistics from")
        values = torch.tensor(targets, dtype=torch.float64)
        if kind == "none":
            return cls(kind, 0.0, 1.0)
        std = float(values.std(unbiased=False))
        return cls(kind, float(values.mean()), std if std > 0 else 1.0)

    def normalize(self, values: torch.Tensor) -> torch.Tensor:
        return (values - self.mean) / self.std

    def denormalize(self, values: torch.Tensor) -> torch.Tensor:
        return values * self.std + self.mean


class RegressionHead(torch.nn.Module):
    """hidden state -> Linear -> GELU -> Linear -> one normalised value."""

    def __init__(self, hidden_size: int, inner_size: int):
        super().__init__()
        self.hidden_size, self.inner_size = hidden_size, inner_size
        self.layers = torch.nn.Sequential(torch.nn.Linear(hidden_size, inner_size), torch.nn.GELU(),
                                          torch.nn.Linear(inner_size, 1))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.layers(hidden.to(self.layers[0].weight.dtype)).squeeze(-1)


def save_head(folder: str | os.PathLike[str], head: RegressionHead, normalizer: Normalizer) -> None:
    """Into `folder` (the run's staging folder, swapped in atomically with the adapter)."""
    from safetensors.torch import save_file

    root = Path(folder)
    save_file({k: v.detach().cpu().contiguous() for k, v in head.state_dict().items()},
              str(root / HEAD_WEIGHTS))
    (root / HEAD_CONFIG).write_text(json.dumps(
        {"hidden_size": head.hidden_size, "inner_size": head.inner_size,
         "normalizer": asdict(normalizer)}, indent=2) + "\n")


def load_head(folder: str | os.PathLike[str], device: str = "cpu"
              ) -> tuple[RegressionHead, Normalizer]:
    from safetensors.torch import load_file

    root = Path(folder)
    if not (root / HEAD_CONFIG).is_file():
        raise FileNotFoundError(f"{root} has no regression head ({HEAD_CONFIG}); it was trained "
                                "with the cross-entropy loss only")
    config = json.loads((root / HEAD_CONFIG).read_text())
    head = RegressionHead(config["hidden_size"], config["inner_size"])
    head.load_state_dict(load_file(str(root / HEAD_WEIGHTS), device=device))
    return head.to(device).eval(), Normalizer(**config["normalizer"])


def value_positions(labels: torch.Tensor) -> torch.Tensor:
    """Per row, the last prompt token: the position before the first trained label (-100 marks
    untrained ones), whose hidden state has read the whole question and its sources."""
    trained = labels != -100
    if not bool(trained.any(dim=1).all()):
        raise ValueError("a row has no trained reply token, so there is no position to read")
    return (trained.int().argmax(dim=1) - 1).clamp(min=0)


def final_norm(model: torch.nn.Module) -> torch.nn.Module:
    """The decoder's last normalisation: its output is the final hidden state, whatever path
    (fused or not) a forward takes to the logits. Training and prediction read it alike."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    norm = getattr(base.get_decoder(), "norm", None)
    if norm is None:
        raise ValueError(f"{type(base).__name__} has no final norm to read hidden states from")
    return norm
