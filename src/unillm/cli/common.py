"""What every command shares: settings, a runtime for async work, `--json` output, and errors that
end the command with one readable line instead of a traceback."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, NoReturn, Protocol, TypeVar
from uuid import UUID

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import DBAPIError, OperationalError

from unillm.audit.schemas import CLI_CONTEXT_USER_AGENT, AuditContext
from unillm.config import Settings
from unillm.errors import UnillmError
from unillm.runtime import Runtime

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

console = Console()
err_console = Console(stderr=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        fail(f"setting UNILLM_{field.upper()}: {first['msg']}")


def fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def friendly_errors(settings: Settings | None = None) -> Iterator[None]:
    """Turn the errors a user can fix into one line on stderr and exit code 1."""
    try:
        yield
    except UnillmError as exc:
        fail(exc.message)
    except (OperationalError, DBAPIError, OSError, ConnectionError) as exc:
        fail(describe_database_error(exc, settings))


def describe_database_error(exc: BaseException, settings: Settings | None) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    where = ""
    if settings is not None:
        try:  # the URL as the user wrote it, password hidden
            where = f" at {make_url(settings.database_url).render_as_string(hide_password=True)}"
        except ArgumentError:
            where = ""
    original = getattr(exc, "orig", None) or exc
    reason = str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
    return (f"cannot use the database{where}: {reason}. Check UNILLM_DATABASE_URL and that the "
            "server is running and reachable.")


def run_async(work: Callable[[Runtime], Awaitable[T]], settings: Settings | None = None) -> T:
    """Run one async unit of work with a fresh runtime, closed afterwards."""
    settings = settings or load_settings()

    async def _main() -> T:
        runtime = Runtime.create(settings)
        try:
            return await work(runtime)
        finally:
            await runtime.close()

    with friendly_errors(settings):
        return asyncio.run(_main())
    raise AssertionError("unreachable")  # pragma: no cover


class Page(Protocol[T_co]):
    @property
    def items(self) -> Sequence[T_co]: ...

    @property
    def next_cursor(self) -> str | None: ...


async def all_pages(fetch: Callable[[str | None], Awaitable[Page[T]]]) -> list[T]:
    """Every item of a cursor-paginated service list (the CLI prints whole lists)."""
    items: list[T] = []
    cursor: str | None = None
    while True:
        page = await fetch(cursor)
        items.extend(page.items)
        if page.next_cursor is None:
            return items
        cursor = page.next_cursor


def cli_audit_context() -> AuditContext:
    import getpass

    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    return AuditContext(actor=f"cli:{who}", ip_address=None, user_agent=CLI_CONTEXT_USER_AGENT)


def to_jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    return value


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(to_jsonable(value), indent=2) + "\n")


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if cell is None else str(cell) for cell in row))
    console.print(table)
