"""`unillm db`: migrations, the seed, the schema check and backups."""

from __future__ import annotations

from typing import Annotated

import typer

from unillm.cli.common import JsonOption, console, friendly_errors, load_settings, print_json, run_async
from unillm.db import migrate
from unillm.runtime import Runtime

app = typer.Typer(help="Migrate, check, seed and back up the database.", no_args_is_help=True)


async def _seed(runtime: Runtime) -> tuple[int, int]:
    from unillm.access import seed

    async with runtime.sessions.begin() as session:
        result = await seed.apply_seed(session=session)
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
