"""unillm: a self-hosted Unified LLM Management System."""

__version__ = "0.1.0"
