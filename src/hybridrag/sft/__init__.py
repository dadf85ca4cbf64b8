"""Supervised fine-tuning of a small chat model: ChatML data, LoRA / QLoRA / prompt and prefix
tuning / full fine-tuning, and their comparison on held-out conversations."""
