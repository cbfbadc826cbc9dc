"""Three rows of the fault table as tests (the rest run in `make faults`): each starts its own
restartable redis-server, simulator and two celery nodes, and must hold."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults import scenarios_celery, scenarios_platform, scenarios_ttapi
from tests.faults.registry import log_tails
from tests.faults.row import Row

pytestmark = pytest.mark.e2e


def assert_holds(row: Row, workdir: Path) -> None:
    """Fail with the row, the notes on its jobs and the logs' tails."""
    assert row.holds, "\n".join([row.markdown(), *row.notes, log_tails(workdir)])


def test_a_clean_redis_restart_mid_run_kills_no_worker_and_pays_no_job_twice(
    tmp_path: Path,
) -> None:
    assert_holds(scenarios_platform.redis_restart(tmp_path), tmp_path)


def test_jobs_that_expire_while_parked_leak_no_slot_and_lose_no_job_ttapi_ran(
    tmp_path: Path,
) -> None:
    assert_holds(scenarios_celery.expires(tmp_path), tmp_path)


def test_a_504_after_create_on_a_third_of_submits_pays_no_job_twice(tmp_path: Path) -> None:
    assert_holds(scenarios_ttapi.gateway_timeouts(tmp_path), tmp_path)
