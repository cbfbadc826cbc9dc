"""Helpers for tests that stop a child process the way a terminal's Ctrl-C would."""

from __future__ import annotations

import signal


def default_sigint() -> None:
    """`preexec_fn` for a child sent SIGINT: a shell that runs the tests in the background
    ignores SIGINT, and a child would inherit that (Python then installs no KeyboardInterrupt)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
