"""A saved chat model's tokenizer without transformers: its tokenizer.json run by the
`tokenizers` library and its chat template rendered by jinja2, as transformers' fast tokenizer
and `apply_chat_template` do (tests/chat/test_tokenizer.py holds the two equal on the real
model). The ONNX answer path uses it, so that an answer imports neither torch nor transformers
(a cold `hybridrag ask` spent most of its time importing them)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

TEMPLATE_FILE = "chat_template.jinja"  # where transformers saves a tokenizer's chat template
SPECIAL_TOKENS = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token",
                  "mask_token")  # passed to the template, as transformers does


def compile_template(source: str) -> Any:
    """`source` compiled as transformers compiles chat templates: a sandbox, trim_blocks and
    lstrip_blocks, loop controls, and {% generation %} blocks (which mark assistant text for
    training) rendered as their content."""
    import jinja2
    import jinja2.ext
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class GenerationBlock(jinja2.ext.Extension):
        tags = {"generation"}

        def parse(self, parser: Any) -> Any:
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            return jinja2.nodes.CallBlock(self.call_method("_content"), [], [], body
                                          ).set_lineno(lineno)

        def _content(self, caller: Any) -> str:
            return caller()

    def raise_exception(message: str) -> None:
        raise jinja2.exceptions.TemplateError(message)

    environment = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True,
        extensions=[GenerationBlock, jinja2.ext.loopcontrols])
    environment.filters["tojson"] = lambda value, indent=None: json.dumps(
        value, ensure_ascii=False, indent=indent)
    environment.globals["raise_exception"] = raise_exception
    return environment.from_string(source)


class ChatTokenizer:
    """The part of a Hugging Face tokenizer that generation and prompts use: the chat template,
    encoding (with character offsets), decoding and the vocabulary."""

    def __init__(self, folder: str | os.PathLike[str]):
        from tokenizers import Tokenizer

        folder = Path(folder)
        self.backend = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.backend.no_padding()
        self.backend.no_truncation()
        config = json.loads((folder / "tokenizer_config.json").read_text())
        if config.get("clean_up_tokenization_spaces"):
            raise ValueError(f"{folder}: clean_up_tokenization_spaces is not supported; "
                             "load it with transformers")
        template = config.get("chat_template")
        if template is None and (folder / TEMPLATE_FILE).is_file():
            template = (folder / TEMPLATE_FILE).read_text()
        if not isinstance(template, str):
            raise ValueError(f"{folder} has no chat template (one string, in {TEMPLATE_FILE} "
                             "or tokenizer_config.json)")
        self.template = compile_template(template)
        self.special_tokens = {name: config[name] for name in SPECIAL_TOKENS
                               if isinstance(config.get(name), str)}

    def apply_chat_template(self, messages: list[dict[str, str]], tokenize: bool = False,
                            add_generation_prompt: bool = False) -> str:
        """The conversation as the template renders it (text only: `tokenize` must be False)."""
        if tokenize:
            raise ValueError("ChatTokenizer renders text only; encode it with the tokenizer")
        return self.template.render(messages=messages, tools=None, documents=None,
                                    add_generation_prompt=add_generation_prompt,
                                    **self.special_tokens)

    def __call__(self, text: str, add_special_tokens: bool = True,
                 return_offsets_mapping: bool = False) -> dict[str, list[Any]]:
        encoding = self.backend.encode(text, add_special_tokens=add_special_tokens)
        encoded: dict[str, list[Any]] = {"input_ids": encoding.ids,
                                         "attention_mask": encoding.attention_mask}
        if return_offsets_mapping:
            encoded["offset_mapping"] = encoding.offsets
        return encoded

    def decode(self, ids: list[int], skip_special_tokens: bool = False) -> str:
        return self.backend.decode(list(ids), skip_special_tokens=skip_special_tokens)

    def convert_tokens_to_ids(self, token: str) -> int:
        token_id = self.backend.token_to_id(token)
        if token_id is None:
            raise KeyError(f"{token!r} is not in the tokenizer's vocabulary")
        return token_id

    def __len__(self) -> int:
        return self.backend.get_vocab_size(with_added_tokens=True)
