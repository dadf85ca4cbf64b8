"""TRL's SFTTrainer with a regression loss on the number of the reply: loss = token
cross-entropy + weight * regression loss (mse | mae | huber) of a RegressionHead on the final
hidden state at the last prompt token, against the normalised target."""

from __future__ import annotations

from typing import Any, Literal

import torch
from trl import SFTTrainer

from hybridrag.numeric.head import (
    Normalizer,
    RegressionHead,
    final_norm,
    load_head,
    save_head,
    value_positions,
)

RegressionLoss = Literal["mse", "mae", "huber"]
TARGET = "target"  # the dataset column (and batch key) holding each row's number


def regression_loss(prediction: torch.Tensor, target: torch.Tensor, kind: RegressionLoss
                    ) -> torch.Tensor:
    if kind == "mse":
        return torch.nn.functional.mse_loss(prediction, target)
    if kind == "mae":
        return torch.nn.functional.l1_loss(prediction, target)
    if kind == "huber":
        return torch.nn.functional.huber_loss(prediction, target, delta=1.0)
    raise ValueError(f"unknown regression loss {kind!r}; use mse, mae or huber")


class TargetCollator:
    """Wraps the trainer's collator: each row's number travels beside its tokens."""

    def __init__(self, collator: Any):
        self.collator = collator

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        batch = self.collator([{k: v for k, v in e.items() if k != TARGET} for e in examples])
        batch[TARGET] = torch.tensor([float(e[TARGET]) for e in examples], dtype=torch.float32)
        return batch


class RegressionSFTTrainer(SFTTrainer):
    """SFTTrainer whose loss adds `weight` * the head's regression loss. The head is attached to
    the model (`model.regression_head`), so the optimizer trains it with the adapter; it is
    saved beside the adapter in every checkpoint and the final folder, and restored on resume."""

    def __init__(self, *args: Any, head: RegressionHead, normalizer: Normalizer, weight: float,
                 loss: RegressionLoss, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.model.regression_head = head.to(next(self.model.parameters()).device)
        self.normalizer, self.weight, self.loss_kind = normalizer, weight, loss
        self.data_collator = TargetCollator(self.data_collator)
        self._norm = final_norm(self.model)
        self.last_losses: dict[str, float] = {}

    def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False,
                     num_items_in_batch: Any = None) -> Any:
        targets = inputs.pop(TARGET)
        captured: list[torch.Tensor] = []
        hook = self._norm.register_forward_hook(lambda _m, _i, output: captured.append(output))
        try:
            # return_outputs only when the caller asks (evaluation): TRL's fused LM head builds
            # no logits, and asking for outputs costs a second forward pass.
            result = super().compute_loss(model, inputs, return_outputs=return_outputs,
                                          num_items_in_batch=num_items_in_batch)
        finally:
            hook.remove()
        hidden = captured[-1]
        # A row truncated before its reply (max_length) has no prompt end to read: left out.
        kept = (inputs["labels"] != -100).any(dim=1).to(hidden.device)
        if kept.any():
            labels, hidden, targets = inputs["labels"][kept], hidden[kept], targets[kept.cpu()]
            rows = torch.arange(hidden.shape[0], device=hidden.device)
            prediction = self.model.regression_head(
                hidden[rows, value_positions(labels).to(hidden.device)])
            regression = regression_loss(prediction.float(),
                                         self.normalizer.normalize(targets.to(prediction.device)),
                                         self.loss_kind)
        else:
            regression = hidden.new_zeros(()).float()
        cross_entropy, outputs = result if return_outputs else (result, None)
        loss = cross_entropy + self.weight * regression
        self.last_losses = {"cross_entropy": float(cross_entropy.detach()),
                            "regression": float(regression.detach())}
        mode = "train" if model.training else "eval"
        self._metrics[mode]["regression_loss"].append(self.last_losses["regression"])
        return (loss, outputs) if return_outputs else loss

    def save_model(self, output_dir: str | None = None, _internal_call: bool = False) -> None:
        super().save_model(output_dir, _internal_call)
        if self.args.should_save:
            save_head(output_dir or self.args.output_dir, self.model.regression_head,
                      self.normalizer)

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model: Any = None) -> None:
        super()._load_from_checkpoint(resume_from_checkpoint, model)
        head, _ = load_head(resume_from_checkpoint, str(next(self.model.parameters()).device))
        self.model.regression_head.load_state_dict(head.state_dict())
