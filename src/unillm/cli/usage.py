"""`unillm usage summary` and `unillm pricing list|set|delete|load-defaults`."""

from __future__ import annotations

import csv
import sys
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

import typer

from unillm.cli.common import JsonOption, cli_audit_context, console, fail, print_json, print_table, run_async
from unillm.runtime import Runtime
from unillm.usage.schemas import GroupBy, LoadDefaultsResult, PricingRead, PricingUpsert, UsageSummary

app = typer.Typer(help="Usage and cost reports.", no_args_is_help=True)
pricing_app = typer.Typer(help="Model prices (USD per 1,000 tokens).", no_args_is_help=True)

By = Literal["day", "user", "model", "provider", "tier", "source"]


def _date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{option} must be a date such as 2026-11-24")


@app.command()
def summary(
    from_: Annotated[str | None, typer.Option(
        "--from", help="First day (YYYY-MM-DD); default 29 days before --to.")] = None,
    to: Annotated[str | None, typer.Option("--to", help="Last day (YYYY-MM-DD); default today.")] = None,
    by: Annotated[By, typer.Option(
        "--by", help="Group by day, user, model, provider, tier or source.")] = "day",
    json_output: JsonOption = False,
    csv_output: Annotated[bool, typer.Option("--csv", help="Print CSV on stdout.")] = False,
) -> None:
    """Cost, requests, tokens and unpriced requests per group (quota days, UNILLM_QUOTA_TIMEZONE)."""
    start, end = _date(from_, "--from"), _date(to, "--to")
    group_by: GroupBy = by

    async def _work(runtime: Runtime) -> UsageSummary:
        from unillm.usage import reports

        async with runtime.sessions() as session:
            return await reports.summary(session=session, start=start, end=end, group_by=group_by,
                                         tz=ZoneInfo(runtime.settings.quota_timezone))

    result = run_async(_work)
    columns = [by, "cost_usd", "requests", "tokens", "prompt_tokens", "cached_prompt_tokens",
               "completion_tokens", "error_requests", "unpriced_requests"]
    rows = [[getattr(g, name) for name in ["key", *columns[1:]]] for g in result.groups]
    if json_output:
        print_json(result)
    elif csv_output:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
    else:
        total = result.total
        print_table(f"Usage {result.from_date} to {result.to_date} by {by}", columns,
                    [*rows, [getattr(total, name) for name in ["key", *columns[1:]]]])
        if total.unpriced_requests:
            console.print(f"[yellow]{total.unpriced_requests} request(s) have no price[/yellow]: their cost "
                          "is unknown, not $0. Set one with `unillm pricing set`.")


@pricing_app.command(name="list")
def list_prices(json_output: JsonOption = False) -> None:
    """Every model's price."""

    async def _work(runtime: Runtime) -> list[PricingRead]:
        from unillm.usage import service

        async with runtime.sessions() as session:
            return await service.list_(session=session)

    prices = run_async(_work)
    if json_output:
        print_json(prices)
        return
    print_table("Prices (USD per 1k tokens)", ["model_id", "input", "output", "cached input", "source"],
                [[p.model_id, p.input_price_per_1k, p.output_price_per_1k, p.cached_input_price_per_1k,
                  p.source] for p in prices])


def _money(value: str, option: str) -> Decimal:
    try:
        amount = Decimal(value)
    except InvalidOperation:
        fail(f"{option} must be a number of US dollars per 1,000 tokens")
    return amount


@pricing_app.command(name="set")
def set_price(
    model_id: Annotated[str, typer.Argument(help="NAMESPACE/MODEL, e.g. openai/gpt-4o")],
    input_price: Annotated[str, typer.Option("--input", help="USD per 1k prompt tokens.")],
    output_price: Annotated[str, typer.Option("--output", help="USD per 1k completion tokens.")],
    cached_price: Annotated[str | None, typer.Option(
        "--cached-input", help="USD per 1k cached tokens.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Create or replace a model's price (audited)."""
    from pydantic import ValidationError

    try:
        data = PricingUpsert(input_price_per_1k=_money(input_price, "--input"),
                             output_price_per_1k=_money(output_price, "--output"),
                             cached_input_price_per_1k=_money(cached_price, "--cached-input")
                             if cached_price is not None else None)
    except ValidationError as exc:
        fail(str(exc.errors()[0]["msg"]))

    async def _work(runtime: Runtime) -> PricingRead:
        from unillm.usage import service

        async with runtime.sessions() as session, session.begin():
            return await service.upsert(session=session, context=cli_audit_context(), model_id=model_id,
                                        data=data)

    price = run_async(_work)
    print_json(price) if json_output else console.print(f"price of {price.model_id} set")


@pricing_app.command(name="delete")
def delete_price(model_id: str) -> None:
    """Remove a model's price (its requests become unpriced)."""

    async def _work(runtime: Runtime) -> None:
        from unillm.usage import service

        async with runtime.sessions() as session, session.begin():
            await service.delete(session=session, context=cli_audit_context(), model_id=model_id)

    run_async(_work)
    console.print(f"price of {model_id} removed")


@pricing_app.command(name="load-defaults")
def load_defaults(json_output: JsonOption = False) -> None:
    """Add the bundled list prices of models that have no price yet (never overwrites)."""

    async def _work(runtime: Runtime) -> LoadDefaultsResult:
        from unillm.usage import service

        async with runtime.sessions() as session, session.begin():
            return await service.load_defaults(session=session, context=cli_audit_context())

    result = run_async(_work)
    if json_output:
        print_json(result)
    else:
        console.print(f"{len(result.inserted)} price(s) added, {result.skipped} already set (kept)")
