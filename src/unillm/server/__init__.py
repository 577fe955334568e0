"""Local model servers, installed models, health, and one adapter per server type."""
