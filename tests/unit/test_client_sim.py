"""The client against the simulator over a real loopback socket: every endpoint, every status."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from config.settings import Account
from tests.support.simulators import KEY, OTHER, SimFactory
from worker.devtools.simulator import Simulator
from worker.ttapi import errors
from worker.ttapi.client import TTAPIClient
from worker.ttapi.responses import JobInfo

PNG = "data:image/png;base64,iVBORw0KGgo="


@pytest.fixture
def sim(make_sim: SimFactory) -> Simulator:
    """The default simulator with slower jobs (0.4 s), so progress is seen rising."""
    return make_sim(fast_s=0.4)


@pytest.fixture
def client(sim: Simulator) -> Iterator[TTAPIClient]:
    c = TTAPIClient(Account.from_key(KEY), sim.url, read_timeout=5.0)
    try:
        yield c
    finally:
        c.close()


def finish(client: TTAPIClient, job_id: str, timeout: float = 10.0) -> JobInfo:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = client.fetch(job_id)
        if info.finished:
            return info
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


def test_every_endpoint_round_trips_through_the_models(client: TTAPIClient) -> None:
    grid = finish(client, client.imagine("a lighthouse --ar 3:2", mode="turbo").job_id)
    assert grid.status == "SUCCESS" and len(grid.images or []) == 4
    assert "upsample2" in grid.components
    up = finish(client, client.start("action", job_id=grid.job_id, action="upsample2").job_id)
    assert up.action == "upsample2" and "upscale_creative" in up.components
    seed = finish(client, client.start("seed", job_id=grid.job_id).job_id)
    assert seed.seed and seed.seed.isdigit()
    for job in (
        client.start("blend", images=[PNG, PNG], dimensions="PORTRAIT"),
        client.start("describe", image=PNG),
        client.start("inpaint", job_id=grid.job_id, mask="UklGRrw0AABXRUJQ", prompt="white"),
    ):
        assert finish(client, job.job_id).status == "SUCCESS"
    info = client.info()
    assert info.max_queue == 10 and info.balance is not None
    rows = client.fetch_list(limit=100)
    assert {r.action for r in rows} >= {"imagine", "upsample2", "seed", "blend", "describe"}
    assert all(r.created_at is not None for r in rows)


def test_progress_arrives_and_rises_while_the_job_runs(client: TTAPIClient) -> None:
    job = client.imagine("a slow sunrise").job_id
    seen = []
    while not (info := client.fetch(job)).finished:
        seen.append((info.status, info.progress))
        time.sleep(0.02)
    progress = [p for s, p in seen if s == "ON_QUEUE"]
    assert progress and progress == sorted(progress)
    assert seen[0][0] == "PENDING_QUEUE"


def test_a_failed_job_carries_ttapis_message(client: TTAPIClient) -> None:
    info = finish(client, client.imagine("something banned").job_id)
    assert info.status == "FAILED"
    assert info.message.startswith("[Banned prompt detected]")


def test_each_refusal_of_the_simulator_raises_its_exception(
    sim: Simulator, client: TTAPIClient
) -> None:
    with pytest.raises(errors.BadRequest, match="banned prompt words :sexy"):
        client.imagine("something sexy")
    with pytest.raises(errors.Unauthorized):
        TTAPIClient(Account.from_key("sk-not-a-known-key"), sim.url).imagine("a cat")
    with pytest.raises(errors.NotFound):
        client.fetch("no-such-job")
    with pytest.raises(errors.BadRequest, match="upscale_creative"):
        grid = finish(client, client.imagine("a boat").job_id)
        client.start("action", job_id=grid.job_id, action="upscale_creative")
    sim.set_account(OTHER, balance=0)
    with pytest.raises(errors.InsufficientBalance):
        TTAPIClient(Account.from_key(OTHER), sim.url).imagine("a cat")


def test_the_eleventh_job_in_progress_is_refused_with_499(
    sim: Simulator, client: TTAPIClient
) -> None:
    for i in range(10):
        client.imagine(f"a stuck job {i}")  # "stuck" jobs never finish
    with pytest.raises(errors.QueueFull) as info:
        client.imagine("one too many")
    assert info.value.may_have_created is False
    stats = sim.stats()["accounts"][client.label]
    assert stats["peak_in_progress"] == 10 and stats["count_499"] == 1


@pytest.mark.parametrize(
    ("faults", "exc_type"),
    [
        ({"rate_429": 1.0}, errors.RateLimited),
        ({"rate_500": 1.0}, errors.ServerError),
        ({"rate_html_502": 1.0}, errors.ServerError),
        ({"rate_504_after_create": 1.0}, errors.GatewayTimeout),
        ({"rate_reset_after_create": 1.0}, errors.ConnectionLost),
        ({"rate_truncated": 1.0}, errors.ResponseError),
    ],
)
def test_each_injected_fault_maps_to_its_exception(
    sim: Simulator, client: TTAPIClient, faults: dict[str, float], exc_type: type
) -> None:
    sim.set_faults(**faults, fault_paths=["imagine"])
    with pytest.raises(exc_type) as info:
        client.imagine("a faulty day")
    assert KEY not in str(info.value)
