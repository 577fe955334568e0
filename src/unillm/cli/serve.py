"""`unillm serve`: migrate, make sure an admin key exists, then run the app under uvicorn."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from unillm.cli.common import console, load_settings

BANNER = """[bold green]unillm is starting[/bold green]

A first admin key was created. It is shown [bold]once[/bold]; store it now:

    [bold yellow]{key}[/bold yellow]

Next steps:
  export UNILLM_ADMIN_KEY={key}
  curl -H "Authorization: Bearer $UNILLM_ADMIN_KEY" http://{host}:{port}/api/v1/access/tier-rules
  unillm keys create --user alice --tier professional    # (`uv run unillm …` in a source checkout)
  unillm providers add openai --type openai --api-key-env OPENAI_API_KEY
  API docs: http://{host}:{port}/docs
"""


def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on [UNILLM_HOST].")] = None,
    port: Annotated[int | None, typer.Option(help="Port [UNILLM_PORT].")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    no_migrate: Annotated[bool, typer.Option("--no-migrate", help="Do not apply migrations first.")] = False,
) -> None:
    """Serve the admin API, the gateway and the docs."""
    import uvicorn

    from unillm.cli.bootstrap import check_worker_settings, ensure_admin_key
    from unillm.cli.db import upgrade_and_seed
    from unillm.http_protocol import CoalescingHttpToolsProtocol

    settings = load_settings()
    host = host or settings.host
    port = port or settings.port
    check_worker_settings(settings, workers)
    if not no_migrate:
        upgrade_and_seed()
    created_key = ensure_admin_key(settings)
    if created_key:
        console.print(BANNER.format(key=created_key, host=host, port=port), highlight=False, soft_wrap=True)
    # The workers read their number from the environment (they are fresh processes): one worker alone
    # on SQLite may keep quota counters in memory; several must share them through the store.
    os.environ["UNILLM_WORKERS"] = str(workers)
    uvicorn.run("unillm.app:create_app", factory=True, host=host, port=port, workers=workers,
                loop="uvloop", http=CoalescingHttpToolsProtocol, log_level=settings.log_level,
                access_log=False)
