"""Learning from the corpus: training pairs, the fine-tuned embedder and the trained reranker."""
