"""`unillm access check`: may this tier or user use this model, which rule decides, with what limits."""

from __future__ import annotations

from typing import Annotated

import typer

from unillm.access import check_service
from unillm.access.check_service import AccessCheckRead
from unillm.access.quota import create_counter
from unillm.cli.common import JsonOption, console, fail, load_settings, print_json, run_async
from unillm.runtime import Runtime

app = typer.Typer(help="Access rules: explain decisions.", no_args_is_help=True)


@app.command("check")
def check(
    model: Annotated[str, typer.Option("--model", "-m", help="Model id, e.g. openai/gpt-4o.")],
    tier: Annotated[str | None, typer.Option("--tier", "-t", help="Decide for this tier.")] = None,
    user: Annotated[str | None, typer.Option("--user", "-u", help="Decide for this user.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Exit 0 when allowed, 1 when denied (or on an error, such as an unknown user)."""
    if bool(tier) == bool(user):
        fail("give exactly one of --tier or --user")
    settings = load_settings()

    async def work(runtime: Runtime) -> AccessCheckRead:
        counter = create_counter(runtime.settings, runtime.engine)
        try:
            async with runtime.sessions() as session:
                return await check_service.check(session=session, model=model, tier=tier, user=user,
                                                 counter=counter, quota_timezone=settings.quota_timezone)
        finally:
            await counter.aclose()

    result = run_async(work, settings)
    if as_json:
        print_json(result)
    else:
        _print(result)
    raise typer.Exit(0 if result.allowed else 1)


def _print(result: AccessCheckRead) -> None:
    verdict = "[green]allowed[/green]" if result.allowed else "[red]denied[/red]"
    who = f"user '{result.user_id}' (tier '{result.tier}', role '{result.role}')" if result.user_id \
        else f"tier '{result.tier}'"
    console.print(f"{who} → {result.model}: {verdict}", highlight=False)
    console.print(f"  {result.message}", highlight=False)
    if result.allowed:
        per_day = "unlimited" if result.max_requests_per_day is None else f"{result.max_requests_per_day:,}"
        context = "no limit" if result.max_context_length is None else f"{result.max_context_length:,}"
        console.print(f"  requests per day: {per_day}; max context length: {context}", highlight=False)
        if result.remaining_today is not None:
            console.print(f"  remaining today ({result.quota_day}): {result.remaining_today:,}",
                          highlight=False)
