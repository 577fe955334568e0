"""The `unillm` command line: one module per command group."""
