"""The capped index of recent endings: what `mjw jobs --recent/--failed` and the page read."""

from __future__ import annotations

import fakeredis
import pytest

from worker.jobs import recent
from worker.jobs.record import RecordState
from worker.keys import Keys
from worker.policy import RECENT_CAP, RECENT_FAILED_CAP

KEYS = Keys("t")


@pytest.fixture
def client() -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis(decode_responses=True)


def test_endings_are_listed_newest_first_and_failures_also_on_their_own(
    client: fakeredis.FakeRedis,
) -> None:
    recent.note_ended(client, KEYS, "a", RecordState.SUCCESS, 100.0)
    recent.note_ended(client, KEYS, "b", RecordState.FAILED, 101.0)
    recent.note_ended(client, KEYS, "c", RecordState.REVOKED, 102.0)
    assert recent.recent(client, KEYS) == [("c", 102.0), ("b", 101.0), ("a", 100.0)]
    assert recent.recent_failed(client, KEYS) == [("c", 102.0), ("b", 101.0)]
    assert recent.recent(client, KEYS, limit=1) == [("c", 102.0)]


def test_the_indexes_keep_only_their_newest_entries(client: fakeredis.FakeRedis) -> None:
    pipe = client.pipeline(transaction=False)
    for n in range(RECENT_CAP + 20):
        recent.note_ended(pipe, KEYS, f"job-{n}", RecordState.FAILED, float(n))
    pipe.execute()
    assert client.zcard(KEYS.recent) == RECENT_CAP
    assert client.zcard(KEYS.recent_failed) == RECENT_FAILED_CAP
    assert recent.recent(client, KEYS, limit=1) == [(f"job-{RECENT_CAP + 19}", RECENT_CAP + 19.0)]


def test_an_ending_noted_twice_is_listed_once(client: fakeredis.FakeRedis) -> None:
    recent.note_ended(client, KEYS, "a", RecordState.SUCCESS, 100.0)
    recent.note_ended(client, KEYS, "a", RecordState.SUCCESS, 100.5)
    assert recent.recent(client, KEYS) == [("a", 100.5)]


def test_only_final_states_are_noted(client: fakeredis.FakeRedis) -> None:
    with pytest.raises(ValueError, match="state"):
        recent.note_ended(client, KEYS, "a", RecordState.SUBMITTED, 1.0)


def test_the_keys_live_under_the_prefix() -> None:
    assert (KEYS.recent, KEYS.recent_failed, KEYS.pump_last) == (
        "t:recent",
        "t:recent:failed",
        "t:pump:last",
    )
