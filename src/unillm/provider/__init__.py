"""Cloud providers and their encrypted credentials."""
