"""`python -m unillm.cli`: the same as the `unillm` command."""

from unillm.cli.main import app

app()
