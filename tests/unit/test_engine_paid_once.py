"""Nothing is paid twice: an answer that may follow a created job is reconciled, never retried.

A proxy or load balancer in front of TTAPI answers 502, 503 or an HTML page after TTAPI has
created the job; TTAPI itself may answer a JSON 500 after creating it. Only TTAPI's own 4xx
prove that no job was created.
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.support.engine import FAST, KEY_A, LABEL_A, account, build_engine
from tests.support.inline import InlineEngine
from tests.support.simulators import SimFactory
from worker.devtools.simulator import Simulator


@pytest.fixture
def sim(make_sim: SimFactory) -> Simulator:
    return make_sim(keys=[KEY_A], capacity=10, fast_s=FAST, seed=4)


@pytest.fixture
def eng(sim: Simulator) -> InlineEngine:
    return build_engine(sim, capacity=10)


def created_per_prompt(sim: Simulator) -> Counter[str]:
    return Counter(j["prompt"] for j in sim.stats()["jobs"].values())


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["rate_502_after_create", "rate_500_after_create"])
def test_a_5xx_after_the_job_was_created_is_reconciled_never_paid_twice(
    eng: InlineEngine, sim: Simulator, fault: str
) -> None:
    sim.set_faults(**{fault: 0.3}, fault_paths=["imagine"])
    jobs = [eng.imagine(f"a proxied lighthouse {i}") for i in range(20)]
    assert eng.run_until(eng.all_done, 30)
    assert all(eng.result(j)["status"] == "SUCCESS" for j in jobs)
    created = created_per_prompt(sim)
    assert account(sim)["count_502"] + account(sim)["count_500"] > 0
    assert max(created.values()) == 1, created.most_common(3)
    assert sorted(eng.result(j)["job_id"] for j in jobs) == sorted(sim.stats()["jobs"])
    assert eng.holders(LABEL_A) == 0
