"""`unillm keys` and `unillm users`: create, list and revoke API keys; change users' tier, role and
disabled flag. A new key's secret is printed once, by `keys create`; listings show the prefix only.

A running server picks these changes up within UNILLM_SNAPSHOT_REFRESH_SECONDS (default 5 s)
through the config version; changes made through the admin API apply at once in that process.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import typer
from pydantic import ValidationError

from unillm.auth import service as auth_service
from unillm.auth.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    UserCreate,
    UserRead,
    UserUpdate,
)
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
from unillm.runtime import Runtime

app = typer.Typer(help="API keys: create (shown once), list, revoke.", no_args_is_help=True)
users_app = typer.Typer(help="Users: their tier, role and whether they are disabled.", no_args_is_help=True)

LIST_LIMIT = 500


def _validation_message(exc: ValidationError) -> str:
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "input"
    return f"{field}: {first['msg']}"


def _fmt(value: datetime | None) -> str:
    return "" if value is None else value.isoformat(timespec="seconds")


@app.command()
def create(
    user: Annotated[str, typer.Option("--user", help="The user the key belongs to (created when new).")],
    tier: Annotated[str | None, typer.Option("--tier", help="Set the user's tier.")] = None,
    role: Annotated[str | None, typer.Option("--role", help="Set the user's role.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="A label for the key.")] = None,
    expires_days: Annotated[int | None, typer.Option("--expires-days", help="Expire after D days.")] = None,
    kind: Annotated[str, typer.Option("--kind", help="user, or service (acts for x-unillm-user).")] = "user",
    agent: Annotated[str | None, typer.Option("--agent", help="The agent id this key belongs to.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Create a key and print its secret once (under `key` with --json)."""
    try:
        data = ApiKeyCreate.model_validate(
            {
                "user_id": user,
                "tier_code": tier,
                "role": role,
                "name": name,
                "expires_days": expires_days,
                "kind": kind,
                "agent_id": agent,
            }
        )
    except ValidationError as exc:
        fail(_validation_message(exc))

    async def work(runtime: Runtime) -> ApiKeyCreated:
        async with runtime.sessions.begin() as session:
            read, secret = await auth_service.create_key(
                session=session,
                context=cli_audit_context(),
                user_id=data.user_id,
                tier_code=data.tier_code,
                role=data.role,
                name=data.name,
                expires_days=data.expires_days,
                kind=data.kind,
                agent_id=data.agent_id,
            )
        return ApiKeyCreated(**read.model_dump(), key=secret)

    created = run_async(work)
    if json_output:
        print_json(created)
        return
    expiry = f", expires {_fmt(created.expires_at)}" if created.expires_at else ""
    console.print(
        f"created key {created.id} for user [bold]{created.user_id}[/bold] (kind {created.kind}{expiry})",
        highlight=False,
    )
    console.print("The key is shown only now; store it:", highlight=False)
    typer.echo(created.key)


@app.command(name="list")
def list_(
    user: Annotated[str | None, typer.Option("--user", help="Only this user's keys.")] = None,
    include_revoked: Annotated[bool, typer.Option("--all", help="Include revoked keys.")] = False,
    json_output: JsonOption = False,
) -> None:
    """List keys (prefix only, never the secret)."""

    async def work(runtime: Runtime) -> list[ApiKeyRead]:
        async with runtime.sessions() as session:
            return await all_pages(
                lambda cursor: auth_service.list_keys(
                    session=session,
                    user_id=user,
                    include_revoked=include_revoked,
                    limit=LIST_LIMIT,
                    cursor=cursor,
                )
            )

    items = run_async(work)
    if json_output:
        print_json(items)
        return
    print_table(
        "API keys",
        ["id", "prefix", "user", "kind", "name", "status", "expires", "last used"],
        [
            [k.id, k.prefix, k.user_id, k.kind, k.name, k.status, _fmt(k.expires_at), _fmt(k.last_used_at)]
            for k in items
        ],
    )


@app.command()
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (from `unillm keys list`).")],
    json_output: JsonOption = False,
) -> None:
    """Revoke a key; running servers refuse it within the snapshot refresh interval."""
    try:
        parsed = uuid.UUID(key_id)
    except ValueError:
        fail(f"{key_id!r} is not a key id; use the id column of `unillm keys list`")

    async def work(runtime: Runtime) -> ApiKeyRead:
        async with runtime.sessions.begin() as session:
            return await auth_service.revoke_key(session=session, context=cli_audit_context(), key_id=parsed)

    revoked = run_async(work)
    if json_output:
        print_json(revoked)
        return
    console.print(f"revoked key {revoked.id} ({revoked.prefix}…) of user {revoked.user_id}", highlight=False)


@users_app.command(name="list")
def users_list(
    tier: Annotated[str | None, typer.Option("--tier", help="Only users of this tier.")] = None,
    role: Annotated[str | None, typer.Option("--role", help="Only users with this role.")] = None,
    json_output: JsonOption = False,
) -> None:
    """List users with their tier, role and disabled flag."""

    async def work(runtime: Runtime) -> list[UserRead]:
        async with runtime.sessions() as session:
            return await all_pages(
                lambda cursor: auth_service.list_users(
                    session=session, limit=LIST_LIMIT, cursor=cursor, tier_code=tier, role=role
                )
            )

    items = run_async(work)
    if json_output:
        print_json(items)
        return
    print_table(
        "Users",
        ["id", "tier", "role", "disabled", "updated"],
        [[u.id, u.tier_code, u.role, "yes" if u.disabled else "", _fmt(u.updated_at)] for u in items],
    )


@users_app.command(name="set")
def users_set(
    user: Annotated[str, typer.Argument(help="The user id.")],
    tier: Annotated[str | None, typer.Option("--tier", help="New tier.")] = None,
    role: Annotated[str | None, typer.Option("--role", help="New role.")] = None,
    disable: Annotated[bool | None, typer.Option("--disable/--enable", help="Disable or enable.")] = None,
    create_missing: Annotated[bool, typer.Option("--create", help="Create the user when new.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Change a user's tier, role or disabled flag; all of the user's keys follow."""
    try:
        data = UserUpdate.model_validate({"tier_code": tier, "role": role, "disabled": disable})
    except ValidationError as exc:
        fail(_validation_message(exc))
    if create_missing:
        try:
            UserCreate.model_validate({"id": user})
        except ValidationError as exc:
            fail(_validation_message(exc))
    if not create_missing and data.model_dump(exclude_none=True) == {}:
        fail("nothing to change: give --tier, --role, --disable or --enable")

    async def work(runtime: Runtime) -> UserRead:
        async with runtime.sessions.begin() as session:
            return await auth_service.set_user(
                session=session,
                context=cli_audit_context(),
                user_id=user,
                tier_code=data.tier_code,
                role=data.role,
                disabled=data.disabled,
                create=create_missing,
            )

    updated = run_async(work)
    if json_output:
        print_json(updated)
        return
    state = "disabled" if updated.disabled else "enabled"
    console.print(
        f"user [bold]{updated.id}[/bold]: tier {updated.tier_code}, role {updated.role}, {state}",
        highlight=False,
    )
