"""The `unillm` command: `serve` and one sub-command group per domain."""

from __future__ import annotations

import typer

from unillm.cli import db, serve

app = typer.Typer(
    help="unillm: providers, model servers, access control, usage and an OpenAI-compatible gateway.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command(name="serve")(serve.serve)
app.add_typer(db.app, name="db")
