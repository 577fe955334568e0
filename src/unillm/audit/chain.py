"""The audit hash chain, pure: the canonical text of a row, its hash, and verification of a sequence.

The canonical text must match the PostgreSQL trigger of migration 0002 byte for byte, because
PostgreSQL rows are hashed in the database and verified here. Each field is written as
`<length>:<value>` (length in characters, as PostgreSQL's `length()` counts them), fields joined by
`|`, NULL written as the empty string, in this order: id, timestamp (UTC,
`YYYY-MM-DDTHH:MM:SS.ffffff`), user_id, action_type, resource_type, resource_id, details (the
JSON text as stored), ip_address, user_agent, prev_hash. The hash is the SHA-256 hex digest of the
UTF-8 text. Length prefixes make the encoding unambiguous (no value can smuggle in a separator).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True, slots=True)
class ChainRow:
    """One audit row as text, exactly as hashed (timestamp already in canonical form)."""

    id: int
    timestamp: str
    user_id: str | None
    action_type: str
    resource_type: str
    resource_id: str | None
    details: str | None
    ip_address: str | None
    user_agent: str | None
    prev_hash: str | None
    row_hash: str | None


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """The outcome of walking the chain: `ok`, how many rows were read, and the first fault."""

    ok: bool
    rows_checked: int
    first_bad_id: int | None = None
    reason: str | None = None
    last_hash: str | None = None


def format_timestamp(value: datetime) -> str:
    """The canonical timestamp: UTC, microseconds always present (as PostgreSQL's `to_char(... US)`)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f")


def timestamp_from_sqlite_text(stored: str) -> str:
    """SQLite keeps `YYYY-MM-DD HH:MM:SS[.ffffff]` (naive UTC); turn it into the canonical form."""
    text = stored.strip().replace(" ", "T", 1)
    if "." not in text:
        return text + ".000000"
    head, _, fraction = text.partition(".")
    return f"{head}.{fraction[:6].ljust(6, '0')}"


def _field(value: str | int | None) -> str:
    text = "" if value is None else str(value)
    return f"{len(text)}:{text}"


def canonical_text(row: ChainRow, prev_hash: str | None) -> str:
    return "|".join(_field(value) for value in (
        row.id, row.timestamp, row.user_id, row.action_type, row.resource_type, row.resource_id,
        row.details, row.ip_address, row.user_agent, prev_hash,
    ))


def row_hash(row: ChainRow, prev_hash: str | None) -> str:
    return hashlib.sha256(canonical_text(row, prev_hash).encode("utf-8")).hexdigest()


@dataclass
class ChainVerifier:
    """Walks rows in id order, batch by batch, keeping only the previous row (logs may be large)."""

    rows_checked: int = 0
    previous_id: int | None = None
    previous_hash: str | None = None
    failure: VerifyResult | None = None

    def feed(self, rows: Iterable[ChainRow]) -> bool:
        """Check more rows; False once a fault was found (the rest need not be read)."""
        for row in rows:
            if self.failure is not None:
                return False
            self.rows_checked += 1
            reason = self._check(row)
            if reason is not None:
                self.failure = VerifyResult(False, self.rows_checked, row.id, reason, self.previous_hash)
                return False
            self.previous_id, self.previous_hash = row.id, row.row_hash
        return self.failure is None

    def _check(self, row: ChainRow) -> str | None:
        if row.row_hash is None:
            return f"row {row.id} has no hash (inserted outside unillm on SQLite)"
        if row_hash(row, row.prev_hash) != row.row_hash:
            return f"row {row.id} was edited (its content no longer matches its hash)"
        if row.prev_hash != self.previous_hash:
            if self.previous_id is None:
                return f"row before {row.id} was removed (the first row left points to a missing row)"
            if row.id != self.previous_id + 1:
                return (f"row before {row.id} was removed "
                        f"(row {row.id} does not chain to row {self.previous_id})")
            return f"row {self.previous_id} was changed or a row before {row.id} was removed " \
                   f"(row {row.id} does not chain to row {self.previous_id})"
        return None

    def result(self) -> VerifyResult:
        if self.failure is not None:
            return self.failure
        return VerifyResult(True, self.rows_checked, last_hash=self.previous_hash)


def verify_rows(rows: Iterable[ChainRow]) -> VerifyResult:
    verifier = ChainVerifier()
    verifier.feed(rows)
    return verifier.result()
