"""Held-out scores of a chat model: loss, perplexity and token accuracy on assistant tokens."""

from __future__ import annotations

import math
from typing import Any

import torch

from hybridrag.sft.conversations import Conversation


def encode_with_labels(tokenizer: Any, conversation: Conversation, max_length: int
                       ) -> tuple[list[int], list[int]]:
    """(input ids, labels) where labels keep only assistant tokens (reply + <|im_end|>)."""
    encoded = tokenizer.apply_chat_template(conversation, tokenize=True, return_dict=True,
                                            return_assistant_tokens_mask=True)
    ids = encoded["input_ids"][:max_length]
    mask = encoded["assistant_masks"][:max_length]
    return ids, [token if keep else -100 for token, keep in zip(ids, mask, strict=True)]


@torch.inference_mode()
def heldout_scores(model: Any, tokenizer: Any, conversations: list[Conversation], max_length: int,
                   batch_size: int = 4) -> dict[str, float]:
    """Mean next-token loss over assistant tokens, its exp (perplexity), and argmax accuracy."""
    model.eval()
    device = next(model.parameters()).device
    total_loss, correct, count = 0.0, 0, 0
    examples = [encode_with_labels(tokenizer, c, max_length) for c in conversations]
    for start in range(0, len(examples), batch_size):
        batch = examples[start:start + batch_size]
        width = max(len(ids) for ids, _ in batch)
        pad = tokenizer.pad_token_id
        input_ids = torch.tensor([ids + [pad] * (width - len(ids)) for ids, _ in batch], device=device)
        attention = torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids, _ in batch],
                                 device=device)
        labels = torch.tensor([lab + [-100] * (width - len(lab)) for _, lab in batch], device=device)
        logits = model(input_ids=input_ids, attention_mask=attention).logits[:, -width:, :].float()
        shifted_logits, shifted_labels = logits[:, :-1, :], labels[:, 1:]
        keep = shifted_labels != -100
        losses = torch.nn.functional.cross_entropy(
            shifted_logits.reshape(-1, shifted_logits.shape[-1]), shifted_labels.reshape(-1),
            ignore_index=-100, reduction="sum")
        total_loss += float(losses)
        correct += int(((shifted_logits.argmax(-1) == shifted_labels) & keep).sum())
        count += int(keep.sum())
    loss = total_loss / max(count, 1)
    return {"loss": round(loss, 5), "perplexity": round(math.exp(loss), 4),
            "token_accuracy": round(correct / max(count, 1), 5), "tokens": count}
