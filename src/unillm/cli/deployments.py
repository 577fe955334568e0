"""`unillm deployments`: deploy an installed model under an alias, list, start and stop deployments."""

from __future__ import annotations

import uuid
from typing import Annotated

import typer
from pydantic import ValidationError

from unillm.cli.common import JsonOption, cli_audit_context, console, fail, print_json, print_table, run_async
from unillm.cli.servers import validation_message
from unillm.deployment import reconcile
from unillm.deployment import service as deployment_service
from unillm.deployment.schemas import DeploymentCreate, DeploymentRead
from unillm.runtime import Runtime
from unillm.server import service as server_service

app = typer.Typer(help="Model deployments: which model runs where, under which alias.", no_args_is_help=True)

IdArgument = Annotated[str, typer.Argument(help="The deployment's id.")]


def _show(deployment: DeploymentRead, json_output: bool) -> None:
    if json_output:
        print_json(deployment)
        return
    line = (
        f"{deployment.alias or deployment.canonical_model} on {deployment.server_name}: {deployment.status}"
    )
    if deployment.error_message:
        line += f" ({deployment.error_message})"
    console.print(f"{line} [{deployment.id}]", highlight=False)


@app.command()
def create(
    server: Annotated[str, typer.Argument(help="The server's name (or id).")],
    model: Annotated[str, typer.Argument(help="The installed model's name on that server.")],
    alias: Annotated[str | None, typer.Option("--alias", help="A model name clients may use.")] = None,
    weight: Annotated[int, typer.Option("--weight", help="Share of traffic relative to others.")] = 1,
    context_length: Annotated[int, typer.Option("--context-length")] = 2048,
    stopped: Annotated[bool, typer.Option("--stopped", help="Create it without loading it.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Deploy a model (loading it where the server allows) and report the resulting status."""

    async def work(runtime: Runtime) -> DeploymentRead:
        async with runtime.sessions.begin() as session:
            target = await server_service.resolve(session=session, ref=server)
            try:
                data = DeploymentCreate.model_validate(
                    {
                        "server_id": target.id,
                        "model_name": model,
                        "alias": alias,
                        "weight": weight,
                        "context_length": context_length,
                        "desired_status": "stopped" if stopped else "running",
                    }
                )
            except ValidationError as exc:
                fail(validation_message(exc))
            created = await deployment_service.create(session=session, context=cli_audit_context(), data=data)
        return await reconcile.reconcile_deployment(runtime=runtime, deployment_id=created.id)

    _show(run_async(work), json_output)


@app.command(name="list")
def list_deployments(json_output: JsonOption = False) -> None:
    """Every deployment with its observed and desired status."""

    async def work(runtime: Runtime) -> list[DeploymentRead]:
        async with runtime.sessions() as session:
            return (await deployment_service.list_(session=session, limit=deployment_service.MAX_PAGE)).items

    items = run_async(work)
    if json_output:
        print_json(items)
        return
    print_table(
        "Deployments",
        ["id", "alias", "model", "server", "status", "desired", "weight", "error"],
        [
            [
                d.id,
                d.alias,
                d.canonical_model,
                d.server_name,
                d.status,
                d.desired_status,
                d.weight,
                d.error_message,
            ]
            for d in items
        ],
    )


def _set(deployment_id: str, desired: str, json_output: bool) -> None:
    try:
        target = uuid.UUID(deployment_id)
    except ValueError:
        fail(f"{deployment_id!r} is not a deployment id; `unillm deployments list` shows them")

    async def work(runtime: Runtime) -> DeploymentRead:
        async with runtime.sessions.begin() as session:
            await deployment_service.set_desired(
                session=session, context=cli_audit_context(), deployment_id=target, desired=desired
            )
        return await reconcile.reconcile_deployment(runtime=runtime, deployment_id=target)

    _show(run_async(work), json_output)


@app.command()
def start(deployment_id: IdArgument, json_output: JsonOption = False) -> None:
    """Ask for the deployment to run (loads the model where the server allows)."""
    _set(deployment_id, "running", json_output)


@app.command()
def stop(deployment_id: IdArgument, json_output: JsonOption = False) -> None:
    """Ask for the deployment to stop (unloads the model where the server allows)."""
    _set(deployment_id, "stopped", json_output)
