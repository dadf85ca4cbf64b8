"""Generation with a local chat model, the same on every runtime: batched replies (greedy for
answers, seeded sampling for preference data), each saying whether it ended by itself, and one
reply streamed as text pieces. `TransformersGenerator` runs the model in PyTorch (any device,
any fine-tuned variant); `hybridrag.chat.onnx.OnnxGenerator` runs an exported one in ONNX
Runtime GenAI (CPU, int8)."""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from hybridrag.chat.models import load_for_inference, load_tokenizer
from hybridrag.chat.template import END_OF_TURN, Messages


@dataclass(frozen=True)
class Generated:
    text: str
    stopped: bool  # ended with <|im_end|> before max_new_tokens
    tokens: tuple[int, ...] = ()  # the reply's token ids, <|im_end|> left out


@dataclass(frozen=True)
class Sampling:
    """Sampling settings; generation is greedy without them."""

    temperature: float
    top_p: float
    seed: int


class Stream:
    """One reply as it is generated: iterate for its text pieces (joined, they are the reply
    before stripping); `result` holds the whole reply once the iteration has ended."""

    def __init__(self, pieces: Generator[str, None, Generated]):
        self._pieces = pieces
        self.result: Generated | None = None

    def __iter__(self) -> Iterator[str]:
        self.result = yield from self._pieces


class ChatGenerator(Protocol):
    """What answers, the service and the comparison of models need from a chat model."""

    tokenizer: Any  # the model's Hugging Face tokenizer, or a ChatTokenizer (the same calls;
    # prompts are cut to token budgets with it)
    runtime: str  # transformers | onnx
    precision: str  # fp32 | int8 | int4

    def replies(self, prompts: Sequence[Messages], max_new_tokens: int, batch_size: int,
                sampling: Sampling | None = None, samples: int = 1) -> list[Generated]:
        """`samples` replies per prompt (consecutive), greedy unless `sampling` is given."""
        ...

    def stream(self, prompt: Messages, max_new_tokens: int) -> Stream:
        """The greedy reply to one prompt, piece by piece; the same text as `replies` gives."""
        ...


def prompt_ids(tokenizer: Any, prompt: Messages) -> list[int]:
    """The token ids of a conversation rendered by the chat template, ready for the reply."""
    text = tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def length_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Prompt indices in batches of similar length, longest first: a batch pads (and computes)
    little, and a batch too large for memory fails at once. Callers put the replies back in
    their prompts' order."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[start:start + batch_size] for start in range(0, len(order), batch_size)]


def reply_of(tokenizer: Any, tokens: Sequence[int], end: int) -> Generated:
    """The reply in generated `tokens`: up to <|im_end|> (stopped) or all of them (cut)."""
    tokens = list(tokens)
    stopped = end in tokens
    if stopped:
        tokens = tokens[:tokens.index(end)]
    return Generated(tokenizer.decode(tokens, skip_special_tokens=True).strip(), stopped,
                     tuple(tokens))


def text_pieces(tokenizer: Any, tokens: Iterator[int], end: int) -> Generator[str, None, Generated]:
    """Decode tokens as they come: each piece is the text the new token adds (held back while
    it ends in an incomplete character, flushed at the end); returns the whole reply, as
    `reply_of` reads it."""
    seen: list[int] = []
    shown = ""
    for token in tokens:
        seen.append(token)
        if token == end:
            break
        text = tokenizer.decode(seen, skip_special_tokens=True)
        if len(text) > len(shown) and not text.endswith("\ufffd"):  # not a split character
            yield text[len(shown):]
            shown = text
    reply = reply_of(tokenizer, seen, end)
    rest = tokenizer.decode(list(reply.tokens), skip_special_tokens=True)[len(shown):]
    if rest:
        yield rest
    return reply


Function = TypeVar("Function", bound=Callable[..., Any])


def inference_mode(function: Function) -> Function:
    """`torch.inference_mode()` as a decorator (a generator's steps each run inside it), with
    torch imported at the first call: the ONNX answer path never imports it."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import torch

        return torch.inference_mode()(function)(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


class TransformersGenerator:
    """A chat model from prepare_base (or a trained run folder on that base) in PyTorch."""

    runtime = "transformers"
    precision = "fp32"

    def __init__(self, model: Any, tokenizer: Any):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.end = tokenizer.convert_tokens_to_ids(END_OF_TURN)
        self._lock = threading.Lock()  # replies() switches the tokenizer's padding side

    @classmethod
    def load(cls, model_dir: str | os.PathLike[str], base_dir: str | os.PathLike[str],
             device: str = "auto") -> TransformersGenerator:
        """The chat model saved in `model_dir` (prepare_base, an SFT or a DPO run), adapters
        folded in where that computes the same (`load_for_inference`)."""
        return cls(load_for_inference(Path(model_dir), Path(base_dir), device),
                   load_tokenizer(base_dir))

    @inference_mode
    def replies(self, prompts: Sequence[Messages], max_new_tokens: int, batch_size: int,
                sampling: Sampling | None = None, samples: int = 1) -> list[Generated]:
        import torch

        tokenizer: Any = self.tokenizer
        options: dict[str, Any] = {"do_sample": False}
        if sampling is not None:
            torch.manual_seed(sampling.seed)
            options = {"do_sample": True, "temperature": sampling.temperature,
                       "top_p": sampling.top_p, "num_return_sequences": samples}
        ids = [prompt_ids(tokenizer, p) for p in prompts]
        generated: list[Generated | None] = [None] * (len(prompts) * samples)
        with self._lock:
            tokenizer.padding_side = "left"  # generation continues from the right edge
            try:
                for batch in length_batches([len(row) for row in ids], batch_size):
                    inputs = tokenizer.pad({"input_ids": [ids[i] for i in batch]},
                                           return_tensors="pt").to(self.model.device)
                    output = self.model.generate(**inputs, max_new_tokens=max_new_tokens,
                                                 eos_token_id=self.end,
                                                 pad_token_id=tokenizer.pad_token_id, **options)
                    rows = output[:, inputs["input_ids"].shape[1]:].tolist()
                    for n, row in enumerate(rows):  # samples of one prompt are consecutive
                        generated[batch[n // samples] * samples + n % samples] = reply_of(
                            tokenizer, row, self.end)
            finally:
                tokenizer.padding_side = "right"
        return generated  # type: ignore[return-value]  # every slot filled

    def stream(self, prompt: Messages, max_new_tokens: int) -> Stream:
        return Stream(text_pieces(self.tokenizer, self._greedy_tokens(prompt, max_new_tokens),
                                  self.end))

    @inference_mode
    def _greedy_tokens(self, prompt: Messages, max_new_tokens: int) -> Iterator[int]:
        """Greedy decoding with the key-value cache, one token at a time (as generate does)."""
        import torch

        ids = torch.tensor([prompt_ids(self.tokenizer, prompt)], device=self.model.device)
        cache = None
        for _ in range(max_new_tokens):
            output = self.model(input_ids=ids, past_key_values=cache, use_cache=True,
                                logits_to_keep=1)
            cache = output.past_key_values
            token = int(output.logits[0, -1].argmax())
            yield token
            if token == self.end:
                return
            ids = torch.tensor([[token]], device=self.model.device)
