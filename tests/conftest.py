"""Shared fixtures: servers are started on free loopback ports and always stopped."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.scripted import ScriptedServer


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    """A loopback HTTP server answering from a script (see tests/scripted.py)."""
    server = ScriptedServer().start()
    try:
        yield server
    finally:
        server.stop()
