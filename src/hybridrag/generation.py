"""Batched greedy generation with a local chat model (the base model or any fine-tuned variant)."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from hybridrag.sft.chat_template import END_OF_TURN
from hybridrag.sft.models import load_tokenizer, load_trained

Messages = list[dict[str, str]]


class ChatGenerator:
    """A chat model from prepare_base (or a trained run folder on that base) that replies to
    many prompts at once, greedily, stopping at <|im_end|>."""

    def __init__(self, model_dir: str | os.PathLike[str], base_dir: str | os.PathLike[str],
                 device: str = "auto"):
        self.tokenizer = load_tokenizer(base_dir)
        self.model = load_trained(Path(model_dir), Path(base_dir), device).eval()
        self.end = self.tokenizer.convert_tokens_to_ids(END_OF_TURN)
        self._lock = threading.Lock()  # generate() switches the tokenizer's padding side

    @torch.inference_mode()
    def generate(self, prompts: Sequence[Messages], max_new_tokens: int = 48, batch_size: int = 8
                 ) -> list[str]:
        replies: list[str] = []
        tokenizer: Any = self.tokenizer
        with self._lock:
            tokenizer.padding_side = "left"  # generation continues from the right edge
            try:
                for start in range(0, len(prompts), batch_size):
                    texts = [tokenizer.apply_chat_template(p, tokenize=False,
                                                           add_generation_prompt=True)
                             for p in prompts[start:start + batch_size]]
                    inputs = tokenizer(texts, return_tensors="pt", padding=True,
                                       add_special_tokens=False).to(self.model.device)
                    output = self.model.generate(**inputs, max_new_tokens=max_new_tokens,
                                                 do_sample=False, eos_token_id=self.end,
                                                 pad_token_id=tokenizer.pad_token_id)
                    for row in output[:, inputs["input_ids"].shape[1]:]:
                        replies.append(tokenizer.decode(row, skip_special_tokens=True).strip())
            finally:
                tokenizer.padding_side = "right"
        return replies
