"""`unillm models`: list the models recorded on servers, pull one (with a progress bar), delete one."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from unillm.cli.common import JsonOption, cli_audit_context, console, print_json, print_table, run_async
from unillm.runtime import Runtime
from unillm.server import service as server_service
from unillm.server.adapters import PullProgress
from unillm.server.schemas import InstalledModelRead, SyncSummary

app = typer.Typer(help="Models installed on local model servers.", no_args_is_help=True)

ServerArgument = Annotated[str, typer.Argument(help="The server's name (or id).")]
ModelArgument = Annotated[str, typer.Argument(help="The model as the server names it, e.g. llama3.1:8b.")]


@app.command(name="list")
def list_models(
    server: Annotated[str | None, typer.Argument(help="Only this server (name or id).")] = None,
    include_gone: Annotated[
        bool, typer.Option("--include-gone", help="Also models no longer there.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Models as last synced; `unillm servers sync` refreshes them."""

    async def work(runtime: Runtime) -> list[tuple[str, InstalledModelRead]]:
        async with runtime.sessions() as session:
            if server is not None:
                servers = [await server_service.resolve(session=session, ref=server)]
            else:
                servers = await server_service.list_all(session=session)
            rows = []
            for s in servers:
                for model in await server_service.list_models(
                    session=session, server_id=s.id, include_gone=include_gone
                ):
                    rows.append((s.name, model))
            return rows

    rows = run_async(work)
    if json_output:
        print_json([{"server": name, **model.model_dump(mode="json")} for name, model in rows])
        return
    print_table(
        "Installed models",
        ["server", "model id", "size", "quantization", "context", "status"],
        [
            [name, m.model_id, _size(m.size_bytes), m.quantization, m.context_length, m.status]
            for name, m in rows
        ],
    )


def _size(value: int | None) -> str | None:
    if value is None:
        return None
    return f"{value / 1e9:.1f} GB" if value >= 1e8 else f"{value / 1e6:.0f} MB"


@app.command()
def pull(server: ServerArgument, model: ModelArgument, json_output: JsonOption = False) -> None:
    """Download a model onto the server (Ollama), then record it."""

    async def work(runtime: Runtime) -> SyncSummary:
        http = server_service.http_client(runtime)
        async with runtime.sessions() as session:
            target = await server_service.resolve(session=session, ref=server)
            progress = await server_service.start_pull(
                session=session, server_id=target.id, model=model, http=http
            )
        await _show(progress, json_output)
        async with runtime.sessions.begin() as session:
            return await server_service.sync(
                session=session, context=cli_audit_context(), server_id=target.id, http=http
            )

    summary = run_async(work)
    if json_output:
        print_json({"model": model, "status": "success", "sync": summary})
    else:
        console.print(f"pulled {model}; {len(summary.added)} new model(s) recorded", highlight=False)


async def _show(progress: Any, quiet: bool) -> None:
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=console, disable=quiet, transient=False) as bar:
        task = bar.add_task("starting", total=None)
        step: PullProgress
        async for step in progress:
            bar.update(task, description=step.status[:40], total=step.total, completed=step.completed or 0)


@app.command()
def delete(server: ServerArgument, model: ModelArgument, json_output: JsonOption = False) -> None:
    """Delete a model from the server's disk; its record is kept as gone."""

    async def work(runtime: Runtime) -> None:
        async with runtime.sessions.begin() as session:
            target = await server_service.resolve(session=session, ref=server)
            await server_service.delete_model(
                session=session,
                context=cli_audit_context(),
                server_id=target.id,
                model_name=model,
                http=server_service.http_client(runtime),
            )

    run_async(work)
    if json_output:
        print_json({"server": server, "model": model, "deleted": True})
    else:
        console.print(f"deleted {model} from {server}", highlight=False)
