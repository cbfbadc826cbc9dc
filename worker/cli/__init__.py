"""The `mjw` command line: `main` parses and dispatches; one module per command."""

from worker.cli.commands import main

__all__ = ["main"]
