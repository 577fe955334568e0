"""Offset cursors for the admin lists that are small and sorted by non-unique columns (providers,
rules, keys, users). The large, append-only lists (usage logs, audit) use id cursors instead."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from unillm.errors import BadRequest

Row = TypeVar("Row")

MAX_CURSOR_DIGITS = 9


def parse_offset_cursor(cursor: str | None) -> int:
    """The offset a cursor stands for; anything this API did not hand out is a 400, never a 500."""
    if cursor is None or cursor == "":
        return 0
    if not (cursor.isascii() and cursor.isdigit()) or len(cursor) > MAX_CURSOR_DIGITS:
        raise BadRequest("cursor is not one this API returned", param="cursor")
    return int(cursor)


async def fetch_offset_page(session: AsyncSession, query: Select[Row], *, offset: int,
                            limit: int) -> tuple[list[Row], str | None]:
    """One page of ORM rows and the cursor of the next (None on the last page): one row more than
    the page is read to know whether another page follows."""
    rows = list((await session.scalars(query.offset(offset).limit(limit + 1))).all())
    return rows[:limit], (str(offset + limit) if len(rows) > limit else None)
