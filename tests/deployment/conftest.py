"""Deployment tests reuse the server fixtures (admin API harness, aiohttp client, fake Ollama)."""

from tests.server.conftest import api, http, ollama

__all__ = ["api", "http", "ollama"]
