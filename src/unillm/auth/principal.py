"""Who a request acts as: resolved from an API key by `auth.service`, read by every other domain."""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: str
    role: str
    tier_code: str
    api_key_id: uuid.UUID | None = None
    key_kind: str = "user"
    agent_id: str | None = None

    @property
    def can_read_admin(self) -> bool:
        return self.role in {"admin", "viewer"}

    @property
    def can_write_admin(self) -> bool:
        return self.role == "admin"

    @property
    def actor(self) -> str:
        """The name written into audit rows."""
        return self.user_id
