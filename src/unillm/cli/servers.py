"""`unillm servers`: register local model servers, list them, sync their models, check their health."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import ValidationError

from unillm.cli.common import JsonOption, cli_audit_context, console, fail, print_json, print_table, run_async
from unillm.runtime import Runtime
from unillm.server import service as server_service
from unillm.server.models import SERVER_TYPES
from unillm.server.schemas import HealthRead, ModelServerCreate, ModelServerRead, SyncSummary

app = typer.Typer(help="Local model servers (Ollama, vLLM, LM Studio, llama.cpp).", no_args_is_help=True)

NameArgument = Annotated[str | None, typer.Argument(help="A server name (or id); all servers when omitted.")]


def validation_message(exc: ValidationError) -> str:
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "input"
    return f"{field}: {first['msg']}"


@app.command()
def add(
    name: Annotated[str, typer.Argument(help="A unique name of your choice.")],
    type_: Annotated[str, typer.Option("--type", help=f"One of: {', '.join(SERVER_TYPES)}.")],
    host: Annotated[str, typer.Option("--host", help="Host name or IP address.")],
    port: Annotated[int, typer.Option("--port", help="The server's HTTP port.")],
    location: Annotated[str, typer.Option("--location", help="local or remote.")] = "local",
    disabled: Annotated[bool, typer.Option("--disabled", help="Add it switched off.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Register a server; `unillm servers sync NAME` then records its models."""
    try:
        data = ModelServerCreate.model_validate(
            {
                "name": name,
                "type": type_,
                "host": host,
                "port": port,
                "location": location,
                "enabled": not disabled,
            }
        )
    except ValidationError as exc:
        fail(validation_message(exc))

    async def work(runtime: Runtime) -> ModelServerRead:
        async with runtime.sessions.begin() as session:
            return await server_service.create(session=session, context=cli_audit_context(), data=data)

    created = run_async(work)
    if json_output:
        print_json(created)
        return
    console.print(
        f"added {created.type} server [bold]{created.name}[/bold] at {created.base_url} ({created.id})"
    )


@app.command(name="list")
def list_servers(json_output: JsonOption = False) -> None:
    """Every registered server with its last known health."""

    async def work(runtime: Runtime) -> list[ModelServerRead]:
        async with runtime.sessions() as session:
            return [server_service.to_read(s) for s in await server_service.list_all(session=session)]

    servers = run_async(work)
    if json_output:
        print_json(servers)
        return
    print_table(
        "Model servers",
        ["name", "type", "address", "enabled", "health", "latency ms", "checked"],
        [
            [
                s.name,
                s.type,
                f"{s.host}:{s.port}",
                s.enabled,
                s.health_status,
                f"{s.health_latency_ms:.0f}" if s.health_latency_ms is not None else None,
                s.last_health_check.isoformat(timespec="seconds") if s.last_health_check else None,
            ]
            for s in servers
        ],
    )


async def _targets(runtime: Runtime, name: str | None) -> list[ModelServerRead]:
    async with runtime.sessions() as session:
        if name is not None:
            return [server_service.to_read(await server_service.resolve(session=session, ref=name))]
        return [
            server_service.to_read(s)
            for s in await server_service.list_all(session=session, enabled_only=True)
        ]


@app.command()
def sync(name: NameArgument = None, json_output: JsonOption = False) -> None:
    """Bring the recorded models in line with what the server(s) report."""

    async def work(runtime: Runtime) -> list[tuple[str, SyncSummary | str]]:
        http = server_service.http_client(runtime)
        results: list[tuple[str, SyncSummary | str]] = []
        for server in await _targets(runtime, name):
            try:
                async with runtime.sessions.begin() as session:
                    summary = await server_service.sync(
                        session=session, context=cli_audit_context(), server_id=server.id, http=http
                    )
                results.append((server.name, summary))
            except Exception as exc:  # one unreachable server must not hide the others' results
                from unillm.errors import UnillmError

                if not isinstance(exc, UnillmError):
                    raise
                results.append((server.name, exc.message))
        return results

    results = run_async(work)
    failed = [n for n, r in results if isinstance(r, str)]
    if json_output:
        print_json({n: (r if isinstance(r, SyncSummary) else {"error": r}) for n, r in results})
    else:
        for server_name, result in results:
            if isinstance(result, str):
                console.print(f"[red]{server_name}[/red]: {result}", highlight=False)
            else:
                console.print(
                    f"{server_name}: {len(result.added)} added, {len(result.updated)} updated, "
                    f"{len(result.gone)} gone, {len(result.returned)} back, {result.unchanged} unchanged",
                    highlight=False,
                )
    if failed:
        raise typer.Exit(1)


@app.command()
def health(name: NameArgument = None, json_output: JsonOption = False) -> None:
    """Probe the server(s) now and store the result; exit 1 when any is unhealthy."""

    async def work(runtime: Runtime) -> list[HealthRead]:
        http = server_service.http_client(runtime)
        results = []
        for server in await _targets(runtime, name):
            async with runtime.sessions.begin() as session:
                results.append(
                    await server_service.check_health(session=session, server_id=server.id, http=http)
                )
        return results

    results = run_async(work)
    if json_output:
        print_json(results)
    else:
        print_table(
            "Health",
            ["name", "status", "latency ms", "error"],
            [
                [h.name, h.status, f"{h.latency_ms:.0f}" if h.latency_ms is not None else None, h.error]
                for h in results
            ],
        )
    if any(h.status == "unhealthy" for h in results):
        raise typer.Exit(1)
