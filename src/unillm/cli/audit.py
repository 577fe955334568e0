"""`unillm audit`: verify the hash chain (non-zero exit on tampering) and list recent rows."""

from __future__ import annotations

from typing import Annotated

import typer

from unillm.audit.chain import VerifyResult
from unillm.audit.schemas import AuditLogRead
from unillm.cli.common import JsonOption, console, err_console, print_json, print_table, run_async
from unillm.runtime import Runtime

app = typer.Typer(help="Read and verify the append-only audit log.", no_args_is_help=True)


async def _verify(runtime: Runtime) -> VerifyResult:
    from unillm.audit import service as audit_service

    async with runtime.sessions() as session:
        return await audit_service.verify(session=session)


@app.command()
def verify(json_output: JsonOption = False) -> None:
    """Recompute the hash chain; exit 1 and name the first bad row when it was tampered with."""
    result = run_async(_verify)
    if json_output:
        print_json({"ok": result.ok, "rows_checked": result.rows_checked,
                     "first_bad_id": result.first_bad_id, "reason": result.reason})
    elif result.ok:
        console.print(f"[green]✓[/green] audit chain intact: {result.rows_checked} rows checked")
    else:
        err_console.print(f"[red]✗ audit chain broken:[/red] {result.reason} "
                          f"(first bad row id {result.first_bad_id}; {result.rows_checked} rows read)",
                          highlight=False, soft_wrap=True)
    if not result.ok:
        raise typer.Exit(1)


@app.command(name="list")
def list_rows(
    actor: Annotated[str | None, typer.Option(help="Only rows by this actor (user id).")] = None,
    resource_type: Annotated[str | None, typer.Option(help="Only this resource type.")] = None,
    resource_id: Annotated[str | None, typer.Option(help="Only this resource id.")] = None,
    action: Annotated[str | None, typer.Option(help="Only this action type.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="How many rows, newest first.")] = 50,
    json_output: JsonOption = False,
) -> None:
    """List audit rows, newest first."""

    async def _list(runtime: Runtime) -> tuple[list[AuditLogRead], str | None]:
        from unillm.audit import service as audit_service

        async with runtime.sessions() as session:
            return await audit_service.query(session=session, actor=actor, resource_type=resource_type,
                                             resource_id=resource_id, action_type=action, limit=limit)

    items, next_cursor = run_async(_list)
    if json_output:
        print_json({"items": items, "next_cursor": next_cursor})
        return
    print_table("audit log", ["id", "time (UTC)", "actor", "action", "resource", "client"], [
        (item.id, item.timestamp.strftime("%Y-%m-%d %H:%M:%S"), item.user_id, item.action_type,
         f"{item.resource_type}:{item.resource_id}" if item.resource_id else item.resource_type,
         item.ip_address or item.user_agent)
        for item in items
    ])
