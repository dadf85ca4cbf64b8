"""ChatTokenizer against transformers on the real SmolLM2 tokenizer with the project's ChatML
template: the same rendered prompts, token ids, offsets, decoded text and vocabulary; the ONNX
generator uses it and a new process answers without importing torch or transformers."""

import pytest

from hybridrag.chat.generation import prompt_ids
from hybridrag.chat.template import END_OF_TURN
from hybridrag.chat.tokenizer import ChatTokenizer

from ..conftest import CONVERSATIONS, in_new_process

PROMPTS = [
    CONVERSATIONS[0][:1], CONVERSATIONS[4], CONVERSATIONS[1][:3],
    [{"role": "system", "content": "Sources:\n[1] Mona Lisa: The Mona Lisa … by Leonardo — “é” 日本"},
     {"role": "user", "content": "Who painted it?\t (tabs,  two spaces)"}],
    [{"role": "user", "content": f"a {END_OF_TURN} inside a message, <|im_start|>user too"}],
]
TEXTS = ["The tomato (Solanum lycopersicum) is an edible berry — 日本語 émigré\n\n  x", "", " ",
         "[1] Perth is the capital of Western Australia.<|im_end|>", "🙂 emoji and 12,345.6"]


@pytest.fixture(scope="module")
def saved_tokenizer(tmp_path_factory, smol_tokenizer):
    folder = tmp_path_factory.mktemp("tokenizer")
    smol_tokenizer.save_pretrained(folder)
    return folder


def test_prompts_render_and_encode_as_transformers_does(saved_tokenizer, smol_tokenizer):
    fast = ChatTokenizer(saved_tokenizer)
    for prompt in PROMPTS:
        for generation_prompt in (True, False):
            assert fast.apply_chat_template(prompt, add_generation_prompt=generation_prompt) == \
                smol_tokenizer.apply_chat_template(prompt, tokenize=False,
                                                   add_generation_prompt=generation_prompt)
        assert prompt_ids(fast, prompt) == prompt_ids(smol_tokenizer, prompt)
    with pytest.raises(ValueError, match="text only"):
        fast.apply_chat_template(PROMPTS[0], tokenize=True)


def test_text_encodes_and_decodes_as_transformers_does(saved_tokenizer, smol_tokenizer):
    fast = ChatTokenizer(saved_tokenizer)
    for text in TEXTS:
        expected = smol_tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        encoded = fast(text, add_special_tokens=False, return_offsets_mapping=True)
        assert encoded["input_ids"] == expected["input_ids"]
        assert [tuple(o) for o in encoded["offset_mapping"]] == \
            [tuple(o) for o in expected["offset_mapping"]]
        ids = expected["input_ids"] + [smol_tokenizer.convert_tokens_to_ids(END_OF_TURN)]
        for skip in (True, False):
            assert fast.decode(ids, skip_special_tokens=skip) == \
                smol_tokenizer.decode(ids, skip_special_tokens=skip)
    assert len(fast) == len(smol_tokenizer)
    for token in (END_OF_TURN, "<|endoftext|>", "<|im_start|>"):
        assert fast.convert_tokens_to_ids(token) == smol_tokenizer.convert_tokens_to_ids(token)
    with pytest.raises(KeyError, match="not in the tokenizer"):
        fast.convert_tokens_to_ids("<|no such token|>")


def test_the_onnx_generator_answers_in_a_process_without_torch(onnx_chat):
    from hybridrag.chat.onnx import OnnxGenerator

    expected = [list(r.tokens) for r in OnnxGenerator(onnx_chat).replies(PROMPTS[:3], 8, 2)]
    # this load kept the rewritten decoder (chat.last_position), so a new process opens it as is
    tokens, imported = in_new_process(
        f"from hybridrag.chat.onnx import OnnxGenerator\ng = OnnxGenerator({str(onnx_chat)!r})",
        f"[r.tokens for r in g.replies({PROMPTS[:3]!r}, 8, 2)]")
    assert imported == [] and tokens == expected
