"""The simulator's refusals and job fates: 400/402/429/499, failure words, timeout, stuck."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.support.sim_http import Api
from tests.support.simulators import KEY, LABEL, SimFactory
from worker.devtools.simulator import Faults, SimConfig, Simulator

DATA_URI = "data:image/png;base64,iVBORw0KGgo="


@pytest.fixture(scope="module")
def shared() -> Iterator[tuple[Api, str]]:
    """One simulator for the read-only 400 table, with a finished imagine to hang actions on."""
    with Simulator(SimConfig(keys=[KEY], fast_s=0.1)) as running:
        api = Api(running.url, KEY)
        job_id = api.imagine("a parent cat")
        assert api.wait(job_id)["status"] == "SUCCESS"
        yield api, job_id


@pytest.fixture
def quick(make_sim: SimFactory) -> Api:
    """A simulator at fast_s=0.06, so TTAPI's 300 s timeout lasts 0.3 s."""
    return Api(make_sim(fast_s=0.06).url, KEY)


PARENT = "<parent>"
BAD_REQUESTS: list[tuple[str, dict[str, Any], str]] = [
    ("imagine", {}, "prompt"),
    ("imagine", {"prompt": ""}, "prompt"),
    ("imagine", {"prompt": 7}, "prompt"),
    ("imagine", {"prompt": "a cat", "mode": "slow"}, "mode"),
    ("imagine", {"prompt": "a cat", "model": "slow"}, "model"),
    ("imagine", {"prompt": "a cat", "timeout": 299}, "timeout"),
    ("imagine", {"prompt": "a cat", "timeout": 1201}, "timeout"),
    ("imagine", {"prompt": "a cat", "timeout": "300"}, "timeout"),
    ("imagine", {"prompt": "a cat", "hookUrl": 5}, "hookUrl"),
    ("action", {"jobId": PARENT, "action": "upsample9"}, "action"),
    ("action", {"jobId": PARENT, "action": "upscale_subtle"}, "action"),
    ("action", {"jobId": PARENT}, "action"),
    ("action", {"action": "upsample1"}, "jobId"),
    ("action", {"jobId": "00000000-0000-4000-8000-000000000000", "action": "upsample1"}, "jobId"),
    ("seed", {}, "jobId"),
    ("blend", {"imgBase64Array": [DATA_URI]}, "imgBase64Array"),
    ("blend", {"imgBase64Array": [DATA_URI] * 6}, "imgBase64Array"),
    ("blend", {"imgBase64Array": [DATA_URI, "not-a-data-uri"]}, "imgBase64Array"),
    ("blend", {"imgBase64Array": [DATA_URI] * 2, "dimensions": "WIDE"}, "dimensions"),
    ("describe", {}, "base64"),
    ("describe", {"base64": "plain text"}, "base64"),
    ("inpaint", {"jobId": PARENT}, "mask"),
    ("inpaint", {"mask": "bWFzaw=="}, "Jobid"),
]


@pytest.mark.parametrize(("endpoint", "body", "names"), BAD_REQUESTS)
def test_bad_parameters_are_400_with_a_message_naming_the_parameter(
    shared: tuple[Api, str], endpoint: str, body: dict[str, Any], names: str
) -> None:
    api, parent = shared
    body = {k: (parent if v == PARENT else v) for k, v in body.items()}
    reply = api.post(endpoint, body)
    assert reply.status_code == 400
    payload = reply.json()
    assert payload["status"] == "FAILED" and payload["data"] == {}
    assert payload["message"].startswith(names), payload["message"]


def test_a_body_that_is_not_json_is_400(sim: Simulator, api: Api) -> None:
    reply = api.session.post(
        sim.url + "/midjourney/v1/imagine", data=b"{nope", headers={"TT-API-KEY": KEY}, timeout=5
    )
    assert reply.status_code == 400 and "JSON" in reply.json()["message"]


def test_an_action_on_an_unfinished_parent_is_400(api: Api) -> None:
    running = api.imagine("still drawing")
    reply = api.post("action", {"jobId": running, "action": "upsample1"})
    assert reply.status_code == 400 and "not SUCCESS" in reply.json()["message"]


def test_the_word_sexy_is_refused_as_a_banned_prompt(api: Api) -> None:
    reply = api.post("imagine", {"prompt": "a sexy robot"})
    assert reply.status_code == 400
    assert reply.json() == {"status": "FAILED", "message": "banned prompt words :sexy", "data": {}}


@pytest.mark.parametrize(("mode", "affordable"), [("fast", 2), ("turbo", 1), ("relax", 5)])
def test_402_once_the_balance_cannot_pay_the_next_job(
    sim: Simulator, api: Api, mode: str, affordable: int
) -> None:
    sim.set_account(KEY, balance=5.0)
    for _ in range(affordable):
        assert api.post("imagine", {"prompt": "a cat", "mode": mode}).status_code == 200
    reply = api.post("imagine", {"prompt": "a cat", "mode": mode})
    assert reply.status_code == 402
    assert reply.json() == {"status": "FAILED", "message": "Insufficient balance", "data": None}


def test_the_eleventh_concurrent_job_is_499_and_the_peak_stays_at_ten(
    sim: Simulator, api: Api
) -> None:
    for n in range(10):
        api.imagine(f"cat {n}")
    reply = api.post("imagine", {"prompt": "one too many"})
    assert reply.status_code == 499
    assert reply.json() == {
        "status": "FAILED",
        "message": "User product queue insufficient",
        "data": None,
    }
    stats = sim.stats()["accounts"][LABEL]
    assert (stats["peak_in_progress"], stats["in_progress"], stats["count_499"]) == (10, 10, 1)
    assert stats["submits"] == 10
    time.sleep(0.25)
    assert api.post("imagine", {"prompt": "room again"}).status_code == 200


def test_another_clients_jobs_take_slots_from_the_cap(sim: Simulator, api: Api) -> None:
    sim.set_account(KEY, other_client=8)
    api.imagine("one")
    api.imagine("two")
    assert api.post("imagine", {"prompt": "three"}).status_code == 499
    stats = sim.stats()["accounts"][LABEL]
    assert (stats["in_progress"], stats["peak_in_progress"]) == (10, 10)
    sim.set_faults(other_client={LABEL: 0})
    assert api.post("imagine", {"prompt": "three"}).status_code == 200


@pytest.mark.parametrize("retry_after", [False, True])
def test_the_token_bucket_answers_429_when_empty(make_sim: SimFactory, retry_after: bool) -> None:
    sim = make_sim(rate_per_s=2.0, burst=3, retry_after_header=retry_after)
    api = Api(sim.url, KEY)
    codes = [api.get("info").status_code for _ in range(3)]
    reply = api.get("info")
    assert codes == [200, 200, 200] and reply.status_code == 429
    assert reply.json() == {
        "status": "FAILED",
        "message": "Requests too frequent, please try again later.",
        "data": None,
    }
    assert ("Retry-After" in reply.headers) is retry_after
    if retry_after:
        assert reply.headers["Retry-After"] == "1"
    assert sim.stats()["accounts"][LABEL]["count_429"] == 1


FAILURES = [
    (
        "a banned cat",
        "[Banned prompt detected] Sorry! Our AI moderator thinks this prompt is "
        "probably against our community standards.",
    ),
    (
        "a denied cat",
        "[Image denied] Request cancelled due to image filters. Please try a "
        "different image or prompt.",
    ),
    ("a cat invalidparam", "[Invalid parameter] Invalid value for argument: `--v`:`8`"),
    ("an internal cat", "[Internal error] Something went wrong. Please try again later."),
]


@pytest.mark.parametrize(("prompt", "message"), FAILURES)
def test_failure_words_fail_the_job_as_it_leaves_the_pending_queue(
    sim: Simulator, api: Api, prompt: str, message: str
) -> None:
    job_id = api.imagine(prompt)
    body = api.wait(job_id, timeout=2)
    assert body == {"status": "FAILED", "jobId": job_id, "message": message, "data": []}
    job = sim.stats()["jobs"][job_id]
    assert job["finished_at"] - job["submitted_at"] == pytest.approx(0.02, abs=1e-3)
    assert sim.stats()["accounts"][LABEL]["in_progress"] == 0


def test_a_flaky_prompt_times_out_once_then_succeeds(api: Api) -> None:
    first = api.wait(api.imagine("a flaky cat"))
    assert (first["status"], first["message"]) == ("FAILED", "Job Timeout")
    assert api.wait(api.imagine("a flaky cat"))["status"] == "SUCCESS"


@pytest.mark.parametrize(
    ("mode", "timeout", "seconds"),
    [
        ("fast", None, 0.3),
        ("relax", None, 0.6),
        ("fast", 400, 0.4),
    ],
)
def test_a_job_running_past_its_scaled_timeout_fails_job_timeout_at_the_timeout(
    quick: Api, mode: str, timeout: int | None, seconds: float
) -> None:
    extra = {"mode": mode} if timeout is None else {"mode": mode, "timeout": timeout}
    job_id = quick.imagine("this one will timeout", **extra)
    assert quick.fetch(job_id)["status"] == "PENDING_QUEUE"
    body = quick.wait(job_id, timeout=3)
    assert (body["status"], body["message"], body["data"]) == ("FAILED", "Job Timeout", [])
    stats = quick.session.get(quick.url + "/_sim/stats", timeout=5).json()["jobs"][job_id]
    assert stats["finished_at"] - stats["submitted_at"] == pytest.approx(seconds, abs=1e-3)


def test_a_stuck_job_stays_on_queue_past_any_timeout_until_finished_by_hand(
    make_sim: SimFactory,
) -> None:
    sim = make_sim(fast_s=0.06)
    api = Api(sim.url, KEY)
    sim.set_faults(stuck_words=["stuck", "frozen"])
    job_id = api.imagine("a frozen cat", timeout=300)
    time.sleep(0.35)
    body = api.fetch(job_id)
    assert body["status"] == "ON_QUEUE" and body["data"]["progress"] == "99"
    assert sim.stats()["accounts"][LABEL]["in_progress"] == 1
    assert sim.finish_stuck() == 1
    assert api.fetch(job_id)["status"] == "SUCCESS"


def test_faults_given_in_the_config_apply_from_the_start(make_sim: SimFactory) -> None:
    sim = make_sim(faults=Faults(other_client={LABEL: 10}))
    assert Api(sim.url, KEY).post("imagine", {"prompt": "a cat"}).status_code == 499


def test_concurrent_submits_never_admit_more_than_the_cap(sim: Simulator) -> None:
    def submit(n: int) -> int:
        # "stuck" jobs never end, so no place frees up while the racers run (fast_s is 0.2 s)
        return Api(sim.url, KEY).post("imagine", {"prompt": f"stuck racer {n}"}).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        codes = sorted(pool.map(submit, range(20)))
    assert codes == [200] * 10 + [499] * 10
    assert sim.stats()["accounts"][LABEL]["peak_in_progress"] == 10


def test_stats_say_when_a_fetch_first_saw_a_job_ended(sim: Simulator, api: Api) -> None:
    """`seen_end_at`: when a client could first know; the bench measures hand-offs from it."""
    job_id = api.imagine("a cat seen ending")
    assert api.fetch(job_id)["status"] != "SUCCESS"
    assert sim.stats()["jobs"][job_id]["seen_end_at"] is None
    api.wait(job_id, timeout=5)
    job = sim.stats()["jobs"][job_id]
    assert job["seen_end_at"] >= job["finished_at"]
    api.fetch(job_id)
    assert sim.stats()["jobs"][job_id]["seen_end_at"] == job["seen_end_at"]  # the first one
