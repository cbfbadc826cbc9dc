"""`fail_paths`: an endpoint that is down (always 500) while others get their own random faults."""

from __future__ import annotations

import pytest

from tests.support.sim_http import Api
from tests.support.simulators import KEY, LABEL
from worker.devtools.simulator import Simulator


def test_a_failing_path_always_answers_500_and_the_others_work(sim: Simulator) -> None:
    api = Api(sim.url, KEY)
    sim.set_faults(fail_paths=["fetch-list"])
    job_id = api.imagine("a cat on a roof")
    assert api.get("fetch", jobId=job_id).status_code == 200
    for _ in range(5):
        assert api.get("fetch-list").status_code == 500
    assert sim.stats()["accounts"][LABEL]["count_500"] == 5


def test_a_failing_path_holds_while_fault_paths_limit_random_faults_elsewhere(
    sim: Simulator,
) -> None:
    api = Api(sim.url, KEY)
    sim.set_faults(rate_504_after_create=1.0, fault_paths=["imagine"], fail_paths=["fetch-list"])
    assert api.post("imagine", {"prompt": "a lost answer"}).status_code == 504
    assert api.get("fetch-list").status_code == 500
    assert sim.stats()["accounts"][LABEL]["submits"] == 1  # the 504 still created the job
    sim.set_faults(fail_paths=[])
    rows = api.get("fetch-list").json()["data"]["list"]
    assert [row["prompt"] for row in rows] == ["a lost answer"]


def test_an_unknown_failing_path_is_refused_naming_the_field(sim: Simulator) -> None:
    with pytest.raises(ValueError, match="fail_paths"):
        sim.set_faults(fail_paths=["nowhere"])
