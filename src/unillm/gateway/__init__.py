"""The OpenAI-compatible hot path."""
