from hybridrag.chat.template import END_OF_TURN

from ..conftest import CONVERSATIONS, SYSTEM

# SmolLM2-135M-Instruct's own template, as shipped in its GGUF
ORIGINAL = ("{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
            "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
            "Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + "
            "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
            "{{ '<|im_start|>assistant\n' }}{% endif %}")


def test_renders_exactly_like_the_models_own_template(smol_tokenizer):
    with_system = [{"role": "system", "content": "Be brief."}, *CONVERSATIONS[0]]
    for conversation in (CONVERSATIONS[0], with_system, CONVERSATIONS[1][:1]):
        for prompt in (False, True):
            ours = smol_tokenizer.apply_chat_template(conversation, tokenize=False,
                                                      add_generation_prompt=prompt)
            theirs = smol_tokenizer.apply_chat_template(conversation, tokenize=False,
                                                        add_generation_prompt=prompt,
                                                        chat_template=ORIGINAL)
            assert ours == theirs
    assert SYSTEM in smol_tokenizer.apply_chat_template(CONVERSATIONS[0], tokenize=False)


def test_assistant_mask_covers_replies_and_their_end_of_turn(smol_tokenizer):
    encoded = smol_tokenizer.apply_chat_template(CONVERSATIONS[0], tokenize=True, return_dict=True,
                                                 return_assistant_tokens_mask=True)
    ids, mask = encoded["input_ids"], encoded["assistant_masks"]
    learned = smol_tokenizer.decode([t for t, m in zip(ids, mask, strict=True) if m])
    assert learned == ("Yes, I really like tea. What about you?" + END_OF_TURN
                       + "Great, tea makes every day better." + END_OF_TURN)
