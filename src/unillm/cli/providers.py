"""`unillm providers`: add, list, test and remove cloud provider accounts.

The credential comes from an environment variable or stdin, never from an argument, because
arguments end up in shell history and in `ps` output.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.markup import escape

from unillm.cli.common import (
    JsonOption,
    all_pages,
    cli_audit_context,
    console,
    fail,
    print_json,
    print_table,
    run_async,
)
from unillm.provider import service as provider_service
from unillm.provider import testing as provider_testing
from unillm.provider.models import PROVIDER_TYPES
from unillm.provider.schemas import ProviderCreate, ProviderRead, ProviderTestResult
from unillm.runtime import Runtime

app = typer.Typer(help="Cloud provider accounts and their encrypted credentials.", no_args_is_help=True)

TypeOption = Annotated[str | None, typer.Option("--type", help="Provider type, when several share NAME.")]


def _validation_message(exc: ValidationError) -> str:
    """The field and the reason only: pydantic's own text would repeat the input (maybe a secret)."""
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "input"
    return f"{field}: {first['msg']}"


def _read_api_key(env_var: str | None, from_stdin: bool) -> str | None:
    if env_var and from_stdin:
        fail("give either --api-key-env or --api-key-stdin, not both")
    if env_var:
        value = os.environ.get(env_var)
        if not value:
            fail(f"environment variable {env_var} is not set or empty")
        return value.strip()
    if from_stdin:
        value = sys.stdin.readline().strip()
        if not value:
            fail("no API key on stdin")
        return value
    return None


@app.command()
def add(
    name: Annotated[str, typer.Argument(help="A name of your choice, unique per type.")],
    type_: Annotated[str, typer.Option("--type", help=f"One of: {', '.join(PROVIDER_TYPES)}.")],
    base_url: Annotated[str | None, typer.Option("--base-url", help="Required for type custom.")] = None,
    api_key_env: Annotated[
        str | None, typer.Option("--api-key-env", metavar="VAR", help="Read the API key from this variable.")
    ] = None,
    api_key_stdin: Annotated[
        bool, typer.Option("--api-key-stdin", help="Read the API key from stdin.")
    ] = False,
    disabled: Annotated[bool, typer.Option("--disabled", help="Add it switched off.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Add a provider; its API key is stored encrypted and shown only as a hint."""
    api_key = _read_api_key(api_key_env, api_key_stdin)
    try:
        data = ProviderCreate.model_validate(
            {"name": name, "type": type_, "base_url": base_url, "api_key": api_key, "enabled": not disabled}
        )
    except ValidationError as exc:
        fail(_validation_message(exc))

    async def work(runtime: Runtime) -> ProviderRead:
        async with runtime.sessions.begin() as session:
            return await provider_service.create(
                session=session, settings=runtime.settings, context=cli_audit_context(), data=data
            )

    created = run_async(work)
    if json_output:
        print_json(created)
        return
    console.print(
        f"added provider [bold]{escape(created.name)}[/bold] ({created.type}) id {created.id}; "
        f"key {created.api_key_hint or 'none'}",
        highlight=False,
        soft_wrap=True,
    )


@app.command(name="list")
def list_(json_output: JsonOption = False) -> None:
    """List providers (credentials as hints only)."""

    async def work(runtime: Runtime) -> list[ProviderRead]:
        async with runtime.sessions() as session:
            return await all_pages(
                lambda cursor: provider_service.list_(
                    session=session, limit=provider_service.MAX_PAGE, cursor=cursor
                )
            )

    providers = run_async(work)
    if json_output:
        print_json(providers)
        return
    print_table(
        "providers",
        ["name", "type", "base url", "key", "enabled", "id"],
        [
            [p.name, p.type, p.effective_base_url, p.api_key_hint, "yes" if p.enabled else "no", p.id]
            for p in providers
        ],
    )


@app.command()
def test(name: str, type_: TypeOption = None, json_output: JsonOption = False) -> None:
    """List the provider's models with its stored credential; exit 1 when that fails."""

    async def work(runtime: Runtime) -> dict[str, Any]:
        async with runtime.sessions.begin() as session:
            provider = await provider_service.get_by_name(session=session, name=name, type=type_)
            target = await provider_testing.load_probe_target(
                session=session, settings=runtime.settings, provider_id=provider.id
            )
        result: ProviderTestResult = await provider_testing.probe(target)
        return {"provider": provider.name, "type": provider.type, **result.model_dump()}

    outcome = run_async(work)
    if json_output:
        print_json(outcome)
    elif outcome["ok"]:
        models = outcome["models"]
        console.print(
            f"{escape(outcome['provider'])}: ok in {outcome['latency_ms']} ms, {len(models)} models"
            + (f": {', '.join(models[:10])}{' …' if len(models) > 10 else ''}" if models else ""),
            highlight=False,
            soft_wrap=True,
        )
    else:
        console.print(
            f"{escape(outcome['provider'])}: [red]failed[/red]: {escape(outcome['error'] or '')}",
            highlight=False,
            soft_wrap=True,
        )
    if not outcome["ok"]:
        raise typer.Exit(1)


@app.command()
def remove(name: str, type_: TypeOption = None, json_output: JsonOption = False) -> None:
    """Remove a provider and its stored credential."""

    async def work(runtime: Runtime) -> ProviderRead:
        async with runtime.sessions.begin() as session:
            provider = await provider_service.get_by_name(session=session, name=name, type=type_)
            removed = provider_service.to_read(provider)
            await provider_service.delete(
                session=session, context=cli_audit_context(), provider_id=provider.id
            )
            return removed

    removed = run_async(work)
    if json_output:
        print_json({"removed": removed})
        return
    console.print(
        f"removed provider [bold]{escape(removed.name)}[/bold] ({removed.type})",
        highlight=False,
        soft_wrap=True,
    )
