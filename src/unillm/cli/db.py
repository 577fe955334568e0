"""`unillm db`: migrations, the seed, the schema check and backups."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import text

from unillm.cli.common import (
    JsonOption,
    cli_audit_context,
    console,
    err_console,
    fail,
    friendly_errors,
    load_settings,
    print_json,
    run_async,
)
from unillm.db import migrate
from unillm.db.check import CheckReport
from unillm.runtime import Runtime

app = typer.Typer(help="Migrate, check, seed and back up the database.", no_args_is_help=True)


SEED_LOCK_ID = 0x756E696C73656564  # "unilseed"


async def _seed(runtime: Runtime) -> tuple[int, int]:
    """Apply the seed under a write lock, so two `db upgrade` processes at once do not both insert."""
    from unillm.access import seed
    from unillm.usage import service as pricing_service

    async with runtime.sessions.begin() as session:
        if session.get_bind().dialect.name == "postgresql":
            await session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": SEED_LOCK_ID})
        else:
            await session.execute(text("DELETE FROM tier_model_rules WHERE 0 = 1"))
        result = await seed.apply_seed(session=session, context=cli_audit_context())
        # The bundled prices of common models, missing ones only: an operator's price is never replaced.
        await pricing_service.load_defaults(session=session, context=cli_audit_context())
    return result.added, result.already_present


def upgrade_and_seed(revision: str = "head") -> tuple[int, int]:
    settings = load_settings()
    with friendly_errors(settings):
        migrate.upgrade(settings.database_url, revision)
    if revision != "head":
        return 0, 0
    return run_async(_seed, settings)


@app.command()
def upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
            json_output: JsonOption = False) -> None:
    """Apply migrations (default: to head) and the tier-rule seed. Safe to run twice."""
    added, present = upgrade_and_seed(revision)
    current = run_async(lambda runtime: migrate.current_revision(runtime.engine))
    if json_output:
        print_json({"revision": current, "seed_added": added, "seed_present": present})
        return
    console.print(f"database at revision [bold]{current}[/bold]; seed: {added} rules added, "
                  f"{present} already present")


@app.command()
def downgrade(revision: Annotated[str, typer.Argument(help="Target revision; 'base' removes everything.")],
              json_output: JsonOption = False) -> None:
    """Revert migrations to REVISION ("base" removes every table unillm created)."""
    settings = load_settings()
    with friendly_errors(settings):
        migrate.downgrade(settings.database_url, revision)
    current = run_async(lambda runtime: migrate.current_revision(runtime.engine), settings)
    if json_output:
        print_json({"revision": current})
        return
    console.print(f"database at revision [bold]{current or 'base (empty)'}[/bold]")


@app.command()
def current(json_output: JsonOption = False) -> None:
    """Print the database's migration revision."""
    revision = run_async(lambda runtime: migrate.current_revision(runtime.engine))
    head = migrate.head_revision()
    if json_output:
        print_json({"revision": revision, "head": head, "at_head": revision == head})
        return
    state = "(head)" if revision == head else f"(head is {head}: run `unillm db upgrade`)"
    typer.echo(f"{revision or 'base'} {state}")


@app.command()
def seed(json_output: JsonOption = False) -> None:
    """Apply the tier-rule seed: adds missing rules, changes none."""
    added, present = run_async(_seed)
    if json_output:
        print_json({"added": added, "already_present": present})
        return
    console.print(f"seed: {added} rules added, {present} already present")


def summarize_failures(report: CheckReport, per_category: int = 5) -> str:
    """One line naming what failed, grouped by kind; a long list (an empty database) is shortened."""
    groups: dict[str, list[str]] = {}
    for item in report.failures:
        groups.setdefault(item.category, []).append(f"{item.name} ({item.detail})")
    parts = []
    for category, names in groups.items():
        more = f" and {len(names) - per_category} more" if len(names) > per_category else ""
        parts.append(f"{category} {', '.join(names[:per_category])}{more}")
    hint = " Run `unillm db upgrade`." if {"table", "migration", "seed"} & groups.keys() else ""
    return "; ".join(parts) + "." + hint


@app.command()
def check(json_output: JsonOption = False) -> None:
    """Verify the live schema: tables, indexes, audit protection, migration and seed. Exit 1 on a fault."""
    from rich.table import Table

    from unillm.db.check import check_database

    async def _check(runtime: Runtime) -> CheckReport:
        return await check_database(runtime.engine)

    report = run_async(_check)
    if json_output:
        print_json({"ok": report.ok, "items": report.items,
                    "failures": [f"{item.category} {item.name}: {item.detail}" for item in report.failures]})
    else:
        table = Table(title="unillm db check", title_justify="left")
        for column in ("", "check", "name", "result"):
            table.add_column(column)
        for item in report.items:
            mark = "[green]✓[/green]" if item.ok else "[red]✗[/red]"
            table.add_row(mark, item.category, item.name, item.detail)
        console.print(table)
    if not report.ok:
        fail(f"{len(report.failures)} check(s) failed: {summarize_failures(report)}")
    if not json_output:
        console.print(f"[green]✓ all {len(report.items)} checks passed[/green]")


@app.command()
def backup(
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Backup file (default: "
                      "<data dir>/backups/unillm-<UTC time>.db or .dump).")] = None,
    json_output: JsonOption = False,
) -> None:
    """Write a restorable copy of the database (SQLite backup API / pg_dump --format=custom)."""
    from unillm.db.backup import backup as run_backup

    settings = load_settings()

    def _progress(message: str) -> None:
        if not json_output:
            err_console.print(f"[dim]{message}[/dim]", highlight=False)

    with friendly_errors(settings):
        result = run_backup(settings.database_url, output, settings.data_dir / "backups", _progress)
    if json_output:
        print_json({"path": str(result.path), "backend": result.backend, "size_bytes": result.size_bytes,
                    "source": result.source})
        return
    console.print(f"[green]✓[/green] backup of {result.source} written to [bold]{result.path}[/bold] "
                  f"({result.size_bytes} bytes)", highlight=False)
