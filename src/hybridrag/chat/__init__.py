"""Chat models: loading (the base model or a trained run), the ChatML template, generation on
transformers or ONNX Runtime GenAI. Used by answers (the product) and by the trainers alike."""
