"""The real WAIT: a replica that stops acknowledging holds a submit's intent back (a real master
and replica on loopback, no sentinel)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.support.sentinel import SentinelSet
from worker.jobs.record import RecordState
from worker.jobs.records import RecordStore
from worker.jobs.replicas import Durability
from worker.jobs.runtime import redis_client

pytestmark = pytest.mark.slow
WAIT_MS = 300  # the wait that must run out while the replica is paused
HEALTHY_WAIT_MS = 10_000  # a healthy replica answers well inside it, even on a loaded machine


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelSet]:
    found = SentinelSet(tmp_path_factory.mktemp("pair"), replicas=1, sentinels=0).start()
    try:
        yield found
    finally:
        found.stop()


def test_the_compare_and_set_and_its_wait_go_in_one_round_trip_and_count_real_replicas(
    pair: SentinelSet,
) -> None:
    master, replica = pair.data
    client = redis_client(f"redis://127.0.0.1:{master.port}/0", blocks_s=HEALTHY_WAIT_MS / 1000)
    records = RecordStore(client)
    records.create("job-1", RecordState.WAITING, account="acct-x")

    def intent(job: str, durability: Durability) -> tuple[bool, int, float]:
        started = time.monotonic()
        pipe = client.pipeline(transaction=False)
        records.move_on(pipe, job, RecordState.WAITING, RecordState.SUBMITTING, sent_at=1.0)
        acks = durability.run(pipe)
        return int(acks.replies[0]) == 1, acks.acked, time.monotonic() - started

    # A healthy replica acknowledges before the wait runs out (a 300 ms wait did run out once
    # on a loaded CI machine: the replica's answer to GETACK came late, not never).
    moved, acked, took = intent("job-1", Durability(1, HEALTHY_WAIT_MS))
    assert (moved, acked) == (True, 1) and took < HEALTHY_WAIT_MS / 1000
    assert replica.client().hget("mj:job:job-1", "state") == RecordState.SUBMITTING

    records.create("job-2", RecordState.WAITING, account="acct-x")
    replica.pause()
    try:
        moved, acked, took = intent("job-2", Durability(1, WAIT_MS))
    finally:
        replica.resume()
    assert (moved, acked) == (True, 0) and took >= WAIT_MS / 1000
    pair.wait(lambda: replica.client().hget("mj:job:job-2", "state") == "SUBMITTING", 10, "sync")
