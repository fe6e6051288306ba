"""The `rotation` command line (typer): one module per command group; `app.main` is the entry point."""
