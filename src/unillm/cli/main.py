"""The `unillm` command: `serve` and one sub-command group per domain."""

from __future__ import annotations

import typer

from unillm.cli import access, audit, db, deployments, keys, models, providers, secrets, serve, servers
from unillm.cli import usage as usage_cli

app = typer.Typer(
    help="unillm: providers, model servers, access control, usage and an OpenAI-compatible gateway.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command(name="serve")(serve.serve)
app.add_typer(db.app, name="db")
app.add_typer(audit.app, name="audit")
app.add_typer(providers.app, name="providers")
app.add_typer(secrets.app, name="secrets")
app.add_typer(access.app, name="access")
app.add_typer(keys.app, name="keys")
app.add_typer(keys.users_app, name="users")
app.add_typer(servers.app, name="servers")
app.add_typer(models.app, name="models")
app.add_typer(deployments.app, name="deployments")
app.add_typer(usage_cli.app, name="usage")
app.add_typer(usage_cli.pricing_app, name="pricing")
