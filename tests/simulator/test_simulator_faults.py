"""Fault injection, hookUrl callbacks and the /_sim control endpoints of the simulator."""

from __future__ import annotations

import time

import pytest
import requests

from tests.support.sim_http import Api, Receiver, eventually
from tests.support.simulators import KEY, LABEL, SimFactory
from worker.devtools.simulator import Simulator


@pytest.fixture
def sim(make_sim: SimFactory) -> Simulator:
    """The default simulator, whose hooks retry after 0.05 s."""
    return make_sim(hook_retry_delay_s=0.05)


def test_a_hook_fires_at_job_end_with_actions_and_is_retried_until_200(
    sim: Simulator, api: Api
) -> None:
    with Receiver([500, 500, 200]) as receiver:
        job_id = api.imagine("a hooked cat", hookUrl=receiver.url)
        assert eventually(lambda: len(receiver.calls) == 3)
        time.sleep(0.1)
        assert len(receiver.calls) == 3
    first_at, body = receiver.calls[0]
    assert body["status"] == "SUCCESS" and body["jobId"] == job_id
    assert body["data"]["actions"] == "imagine" and "action" not in body["data"]
    assert body["data"]["hookUrl"] == receiver.url and len(body["data"]["images"]) == 4
    gaps = [b[0] - a[0] for a, b in zip(receiver.calls, receiver.calls[1:], strict=False)]
    assert all(0.04 < gap < 0.3 for gap in gaps)
    stats = sim.stats()
    job = stats["jobs"][job_id]
    assert (job["fetches"], job["hook_attempts"], job["hook_delivered"]) == (0, 3, True)
    started = time.monotonic() - stats["elapsed"]  # the simulator's t0 on our monotonic clock
    assert first_at - (started + job["finished_at"]) == pytest.approx(0.0, abs=0.05)
    account = sim.stats()["accounts"][LABEL]
    assert (account["hook_attempts"], account["hook_failures"]) == (3, 2)


def test_a_failed_job_also_calls_its_hook(api: Api) -> None:
    with Receiver([200]) as receiver:
        job_id = api.imagine("a banned cat", hookUrl=receiver.url)
        assert eventually(lambda: len(receiver.calls) == 1)
    body = receiver.calls[0][1]
    assert (body["status"], body["jobId"], body["data"]) == ("FAILED", job_id, [])
    assert body["message"].startswith("[Banned prompt detected]")


def test_dropped_callbacks_count_as_three_failed_tries(sim: Simulator, api: Api) -> None:
    sim.set_faults(drop_callback_rate=1.0)
    with Receiver([200]) as receiver:
        job_id = api.imagine("a lonely cat", hookUrl=receiver.url)
        assert eventually(lambda: sim.stats()["accounts"][LABEL]["hook_failures"] == 3)
        time.sleep(0.1)
        assert receiver.calls == []
    job = sim.stats()["jobs"][job_id]
    assert (job["hook_attempts"], job["hook_delivered"]) == (3, False)
    assert sim.stats()["accounts"][LABEL]["hook_failures"] == 3


def test_an_unreachable_hook_is_tried_three_times(sim: Simulator, api: Api) -> None:
    job_id = api.imagine("a cat", hookUrl="http://127.0.0.1:9/hook")
    assert eventually(lambda: sim.stats()["accounts"][LABEL]["hook_failures"] == 3)
    assert sim.stats()["jobs"][job_id]["hook_attempts"] == 3


@pytest.mark.parametrize(
    ("fault", "status", "content_type", "counter"),
    [
        ("rate_429", 429, "application/json", "count_429"),
        ("rate_500", 500, "application/json", "count_500"),
        ("rate_html_502", 502, "text/html", "count_502"),
        ("rate_truncated", 200, "application/json", None),
    ],
)
def test_random_faults_answer_before_any_job_is_created(
    sim: Simulator, api: Api, fault: str, status: int, content_type: str, counter: str | None
) -> None:
    sim.set_faults(**{fault: 1.0})
    reply = api.post("imagine", {"prompt": "a cat"})
    assert reply.status_code == status
    assert reply.headers["Content-Type"] == content_type
    if status == 502:
        assert reply.text.lstrip().startswith("<html>")
    if status == 200:
        with pytest.raises(requests.JSONDecodeError):
            reply.json()
    stats = sim.stats()["accounts"][LABEL]
    assert stats["submits"] == 0 and sim.stats()["jobs"] == {}
    if counter:
        assert stats[counter] == 1


def test_fault_paths_limit_faults_to_the_named_endpoints(sim: Simulator, api: Api) -> None:
    sim.set_faults(rate_500=1.0, fault_paths=["fetch"])
    job_id = api.imagine("a cat")
    assert api.get("info").status_code == 200
    assert api.get("fetch", jobId=job_id).status_code == 500


def test_a_504_after_create_still_creates_the_job(sim: Simulator, api: Api) -> None:
    sim.set_faults(rate_504_after_create=1.0)
    reply = api.post("imagine", {"prompt": "a lost answer"})
    assert reply.status_code == 504 and "504" in reply.text
    rows = api.get("fetch-list").json()["data"]["list"]
    assert [row["prompt"] for row in rows] == ["a lost answer"]
    stats = sim.stats()["accounts"][LABEL]
    assert (stats["submits"], stats["in_progress"], stats["count_504"]) == (1, 1, 1)
    assert api.wait(rows[0]["job_id"])["status"] == "SUCCESS"


def test_a_reset_after_create_drops_the_connection_but_creates_the_job(
    sim: Simulator, api: Api
) -> None:
    sim.set_faults(rate_reset_after_create=1.0)
    with pytest.raises(requests.ConnectionError):
        api.post("imagine", {"prompt": "a vanished answer"})
    rows = api.get("fetch-list").json()["data"]["list"]
    assert [row["prompt"] for row in rows] == ["a vanished answer"]
    stats = sim.stats()["accounts"][LABEL]
    assert (stats["submits"], stats["in_progress"], stats["count_reset"]) == (1, 1, 1)


def test_slow_delays_every_answer(sim: Simulator, api: Api) -> None:
    sim.set_faults(slow_s=0.15)
    started = time.monotonic()
    assert api.get("info").status_code == 200
    assert time.monotonic() - started >= 0.15


def test_faults_and_accounts_can_be_changed_over_http(sim: Simulator, api: Api) -> None:
    answer = requests.post(sim.url + "/_sim/faults", json={"rate_429": 1.0}, timeout=5)
    assert answer.status_code == 200 and answer.json()["rate_429"] == 1.0
    assert api.get("info").status_code == 429
    requests.post(sim.url + "/_sim/faults", json={"rate_429": 0}, timeout=5)
    answer = requests.post(
        sim.url + "/_sim/accounts", json={"key": KEY, "balance": 3, "capacity": 4}, timeout=5
    )
    assert answer.status_code == 200 and answer.json()["label"] == LABEL
    assert KEY not in answer.text
    info = api.get("info").json()["data"]
    assert (info["balance"], info["max_queue"]) == (3, 4)


@pytest.mark.parametrize(
    "body", [{"rate_500": 2}, {"nonsense": 1}, {"fault_paths": ["nowhere"]}, {"slow_s": -1}]
)
def test_bad_fault_settings_are_refused_with_400(sim: Simulator, body: dict[str, object]) -> None:
    answer = requests.post(sim.url + "/_sim/faults", json=body, timeout=5)
    assert answer.status_code == 400 and next(iter(body)) in answer.json()["message"]
    with pytest.raises(ValueError, match=next(iter(body))):
        sim.set_faults(**body)


def test_reset_stats_zeroes_the_counters(sim: Simulator, api: Api) -> None:
    api.imagine("a cat")
    assert requests.post(sim.url + "/_sim/reset-stats", timeout=5).status_code == 200
    stats = sim.stats()
    assert stats["accounts"][LABEL]["submits"] == 0 and stats["jobs"] == {}
    assert stats["accounts"][LABEL]["peak_in_progress"] == 1
