"""`unillm secrets rotate`: re-encrypt stored provider credentials under the first configured key.

Rotation: put the new key first in UNILLM_SECRET_KEY (`NEW,OLD`), run this, then drop OLD.
"""

from __future__ import annotations

import typer

from unillm.cli.common import JsonOption, cli_audit_context, console, print_json, run_async
from unillm.provider import service as provider_service
from unillm.runtime import Runtime

app = typer.Typer(help="Encryption keys of stored credentials.", no_args_is_help=True)


@app.command()
def rotate(json_output: JsonOption = False) -> None:
    """Re-encrypt every provider credential with the first key of UNILLM_SECRET_KEY."""

    async def work(runtime: Runtime) -> int:
        async with runtime.sessions.begin() as session:
            return await provider_service.rotate_credentials(session=session, settings=runtime.settings,
                                                             context=cli_audit_context())

    count = run_async(work)
    if json_output:
        print_json({"re_encrypted": count})
        return
    console.print(f"re-encrypted {count} provider credential(s) under the first key; older keys may now "
                  "be removed from UNILLM_SECRET_KEY", highlight=False, soft_wrap=True)
