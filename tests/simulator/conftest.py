"""Fixtures of the simulator tests: raw HTTP (no project client) with the default key."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.sim_http import Api
from tests.support.simulators import KEY
from worker.devtools.simulator import Simulator


@pytest.fixture
def api(sim: Simulator) -> Iterator[Api]:
    """Plain `requests` calls to `sim` with KEY."""
    api = Api(sim.url, KEY)
    try:
        yield api
    finally:
        api.session.close()
