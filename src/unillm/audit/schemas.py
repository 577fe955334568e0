"""Audit schemas: who did a change, from where (`AuditContext`), and the rows as the API shows them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


@dataclass(frozen=True, slots=True)
class AuditContext:
    """The actor and client of an administrative change: from the request, or `cli` for the CLI."""

    actor: str
    ip_address: str | None = None
    user_agent: str | None = None


CLI_CONTEXT_USER_AGENT = "unillm-cli"


class AuditLogRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    timestamp: datetime
    user_id: str | None
    action_type: str
    resource_type: str
    resource_id: str | None
    details: dict[str, Any] | None
    ip_address: str | None
    user_agent: str | None
    prev_hash: str | None
    row_hash: str | None
