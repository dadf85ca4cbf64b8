"""A ChatML chat template that marks what the assistant says, for loss on assistant turns only."""

from __future__ import annotations

import json

END_OF_TURN = "<|im_end|>"
Messages = list[dict[str, str]]  # a conversation: {"role": ..., "content": ...} in order


def chatml_template(default_system_prompt: str | None) -> str:
    """ChatML (<|im_start|>role ... <|im_end|>) with {% generation %} around assistant replies.

    The generation block covers the reply *and* its <|im_end|>, so training teaches the model
    to stop. Conversations without a system message get `default_system_prompt` (as the
    SmolLM2 template does), at training and at inference alike.
    """
    default = ""
    if default_system_prompt:
        default = ("{% if loop.first and messages[0]['role'] != 'system' %}"
                   "{{ '<|im_start|>system\\n' + " + json.dumps(default_system_prompt, ensure_ascii=False) +
                   " + '<|im_end|>\\n' }}{% endif %}")
    return (
        "{% for message in messages %}" + default +
        "{% if message['role'] == 'assistant' %}"
        "{{ '<|im_start|>assistant\\n' }}{% generation %}{{ message['content'] + '<|im_end|>' }}"
        "{% endgeneration %}{{ '\\n' }}"
        "{% else %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
        "{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
    )
