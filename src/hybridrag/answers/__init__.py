"""Grounded answers: numbered sources in the prompt, generation, citations read back and scored."""
