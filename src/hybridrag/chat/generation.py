"""Batched generation with a local chat model (the base model or any fine-tuned variant): greedy
for answers, seeded sampling for preference data; every reply says whether it ended by itself."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from hybridrag.chat.models import load_tokenizer, load_trained
from hybridrag.chat.template import END_OF_TURN, Messages


@dataclass(frozen=True)
class Generated:
    text: str
    stopped: bool  # ended with <|im_end|> before max_new_tokens


@dataclass(frozen=True)
class Sampling:
    """Sampling settings; generation is greedy without them."""

    temperature: float
    top_p: float
    seed: int


class ChatGenerator:
    """A chat model from prepare_base (or a trained run folder on that base) that replies to
    many prompts at once, stopping at <|im_end|>."""

    def __init__(self, model: Any, tokenizer: Any):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.end = tokenizer.convert_tokens_to_ids(END_OF_TURN)
        self._lock = threading.Lock()  # replies() switches the tokenizer's padding side

    @classmethod
    def load(cls, model_dir: str | os.PathLike[str], base_dir: str | os.PathLike[str],
             device: str = "auto") -> ChatGenerator:
        """The chat model saved in `model_dir` (prepare_base, an SFT or a DPO run)."""
        return cls(load_trained(Path(model_dir), Path(base_dir), device), load_tokenizer(base_dir))

    @torch.inference_mode()
    def replies(self, prompts: Sequence[Messages], max_new_tokens: int, batch_size: int,
                sampling: Sampling | None = None, samples: int = 1) -> list[Generated]:
        """`samples` replies per prompt (consecutive), greedy unless `sampling` is given."""
        tokenizer: Any = self.tokenizer
        options: dict[str, Any] = {"do_sample": False}
        if sampling is not None:
            torch.manual_seed(sampling.seed)
            options = {"do_sample": True, "temperature": sampling.temperature,
                       "top_p": sampling.top_p, "num_return_sequences": samples}
        generated: list[Generated] = []
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
                                                 eos_token_id=self.end,
                                                 pad_token_id=tokenizer.pad_token_id, **options)
                    for row in output[:, inputs["input_ids"].shape[1]:].tolist():
                        stopped = self.end in row
                        row = row[:row.index(self.end)] if stopped else row
                        generated.append(Generated(
                            tokenizer.decode(row, skip_special_tokens=True).strip(), stopped))
            finally:
                tokenizer.padding_side = "right"
        return generated

    def generate(self, prompts: Sequence[Messages], max_new_tokens: int, batch_size: int
                 ) -> list[str]:
        """Greedy reply texts, one per prompt."""
        return [g.text for g in self.replies(prompts, max_new_tokens, batch_size)]
