"""Network latency in the simulator: a round trip per request, TTAPI acting at its midpoint.

Timing bounds are generous (a shared 2-core machine), and where it matters the simulator's own
recorded timestamps are compared instead of the test's clock.
"""

from __future__ import annotations

import argparse
import random
import threading
import time

import pytest
import requests

from tests.support.sim_http import Api
from tests.support.simulators import KEY, LABEL, SimFactory
from worker.devtools.simulator.cli import add_arguments, build_config
from worker.devtools.simulator.config import Faults
from worker.devtools.simulator.latency import base_round_trip, round_trip


def timed(call: object) -> float:
    """Seconds `call()` took on the test's clock."""
    assert callable(call)
    start = time.monotonic()
    call()
    return time.monotonic() - start


def test_a_submit_creates_its_job_half_way_through_its_round_trip_and_answers_after_it(
    make_sim: SimFactory,
) -> None:
    sim = make_sim(fast_s=2.0)
    sim.set_faults(latency_submit_s=0.4)
    api = Api(sim.url, KEY)
    took = timed(lambda: api.imagine("a slow cat"))
    assert 0.38 <= took < 3.0
    (job,) = sim.stats()["jobs"].values()
    assert 0.19 <= job["submitted_at"] - job["requested_at"] < 1.0
    assert sim.stats()["accounts"][LABEL]["submits"] == 1


def test_a_fetch_sees_a_job_end_that_happens_during_its_way_in(make_sim: SimFactory) -> None:
    # A 0.5 s job, fetched at once with a 1.6 s round trip: the request starts long before the
    # end, but its midpoint (0.8 s) is after it, so TTAPI answers SUCCESS.
    sim = make_sim(fast_s=0.5)
    api = Api(sim.url, KEY)
    job_id = api.imagine("a cat")
    sim.set_faults(latency_fetch_s=1.6)
    start = time.monotonic()
    body = api.fetch(job_id)
    assert time.monotonic() - start >= 1.55
    assert body["status"] == "SUCCESS"
    job = sim.stats()["jobs"][job_id]
    assert job["finished_at"] <= job["seen_end_at"] < job["finished_at"] + 0.8


def test_a_fetch_answered_late_still_shows_the_state_at_its_midpoint(make_sim: SimFactory) -> None:
    # The mirror case: a 2 s job fetched with a 1.6 s round trip is read at 0.8 s (running),
    # and the answer, arriving at about 1.6 s, still says so although the job ends at 2 s.
    sim = make_sim(fast_s=2.0)
    api = Api(sim.url, KEY)
    job_id = api.imagine("a cat")
    sim.set_faults(latency_fetch_s=1.6)
    assert api.fetch(job_id)["status"] in ("PENDING_QUEUE", "ON_QUEUE")
    assert sim.stats()["jobs"][job_id]["seen_end_at"] is None


def test_ten_slow_fetches_in_parallel_overlap_instead_of_queueing(make_sim: SimFactory) -> None:
    sim = make_sim(fast_s=5.0)
    job_id = Api(sim.url, KEY).imagine("a cat")
    sim.set_faults(latency_fetch_s=0.3)
    gate = threading.Barrier(10)
    took: list[float] = []

    def fetch() -> None:
        api = Api(sim.url, KEY)
        gate.wait()
        took.append(timed(lambda: api.fetch(job_id)))
        api.session.close()

    threads = [threading.Thread(target=fetch) for _ in range(10)]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    total = time.monotonic() - start
    assert len(took) == 10 and min(took) >= 0.28
    assert total < 1.5  # one after the other would take 10 x 0.3 = 3 s
    assert sim.stats()["jobs"][job_id]["fetches"] == 10


def test_latency_is_set_at_run_time_through_the_control_endpoint(make_sim: SimFactory) -> None:
    sim = make_sim()
    api = Api(sim.url, KEY)
    reply = requests.post(
        sim.url + "/_sim/faults",
        json={"latency_fetch_s": 1.0, "latency_submit_s": 0.7, "latency_jitter": 0.1},
        timeout=5,
    )
    assert reply.status_code == 200
    assert (reply.json()["latency_fetch_s"], reply.json()["latency_submit_s"]) == (1.0, 0.7)
    assert sim.stats()["faults"]["latency_jitter"] == 0.1
    assert timed(lambda: api.get("info")) >= 0.89
    assert timed(lambda: requests.get(sim.url + "/_sim/stats", timeout=5)) < 0.8
    sim.set_faults(latency_fetch_s=0.0)
    assert timed(lambda: api.get("fetch-list")) < 0.8


@pytest.mark.parametrize(
    "body",
    [{"latency_fetch_s": -1}, {"latency_submit_s": "fast"}, {"latency_jitter": 1.5}],
)
def test_a_bad_latency_is_refused_with_400_naming_the_field(
    make_sim: SimFactory, body: dict[str, object]
) -> None:
    sim = make_sim()
    reply = requests.post(sim.url + "/_sim/faults", json=body, timeout=5)
    assert reply.status_code == 400 and next(iter(body)) in reply.json()["message"]


def test_submits_pay_the_submit_round_trip_and_every_other_endpoint_the_fetch_one() -> None:
    faults = Faults(latency_submit_s=0.6, latency_fetch_s=0.25)
    assert [base_round_trip(faults, e) for e in ("imagine", "action", "blend")] == [0.6] * 3
    assert [base_round_trip(faults, e) for e in ("fetch", "fetch-list", "info")] == [0.25] * 3


def test_jitter_draws_each_round_trip_within_the_fraction_around_its_base() -> None:
    faults = Faults(latency_fetch_s=1.0, latency_jitter=0.2)
    rng = random.Random(7)
    draws = [round_trip(faults, "fetch", rng) for _ in range(500)]
    assert all(0.8 <= d <= 1.2 for d in draws)
    assert min(draws) < 0.85 and max(draws) > 1.15
    assert round_trip(Faults(latency_fetch_s=1.0), "fetch", rng) == 1.0


def test_jittered_latency_leaves_job_durations_as_seeded(make_sim: SimFactory) -> None:
    durations = []
    for faults in ({}, {"latency_submit_s": 0.02, "latency_jitter": 0.5}):
        sim = make_sim(keys=[KEY], jitter=0.2, seed=3)
        sim.set_faults(**faults)
        api = Api(sim.url, KEY)
        for n in range(3):
            api.imagine(f"cat {n}")
        time.sleep(0.4)  # every job (0.2 s +/- 20 %) has ended
        jobs = sorted(sim.stats()["jobs"].values(), key=lambda j: j["requested_at"])
        durations.append([j["finished_at"] - j["submitted_at"] for j in jobs])
        sim.stop()
    assert durations[0] == pytest.approx(durations[1], abs=1e-5)


def test_cli_latency_options_become_the_simulator_faults() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    options = "--keys a --latency-submit 0.6 --latency-fetch 0.25 --latency-jitter 0.1"
    args = parser.parse_args(options.split())
    faults = build_config(args).faults
    assert (faults.latency_submit_s, faults.latency_fetch_s, faults.latency_jitter) == (
        0.6,
        0.25,
        0.1,
    )
    with pytest.raises(SystemExit):
        parser.parse_args(["--keys", "a", "--latency-jitter", "2"])
