"""The embedded toy world: synthetic multi-step arithmetic, a char tokenizer, tiny models."""
