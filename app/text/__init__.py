"""Text to ids: the tokenizer backends, the tokenizer (parallel, cached) and the vocabulary."""
