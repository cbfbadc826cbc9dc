"""The Redis counters behind `/metrics` and `mjw status` (worker/capacity/metrics.py), directly.

tests/unit/test_metrics.py covers the page they feed; this module covers what it does not:
where the one-minute window starts and ends, per-account and per-status separation, what a
minute's counter losing its TTL leaves, refused outcomes counting nothing, and the duration
histogram as `durations()` returns it.
"""

from __future__ import annotations

import fakeredis
import pytest

from worker.capacity import metrics
from worker.keys import KEYS

A, B = "acct-aaaa0001", "acct-bbbb0002"
NOW = 60 * 28_000_000 + 30.0  # half-way through a minute


@pytest.fixture
def r() -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis(decode_responses=True)


@pytest.mark.parametrize(
    ("seconds_ago", "minutes", "counted"),
    [
        (0, 5, True),
        (30, 5, True),  # the start of this minute
        (31, 5, True),  # the end of the minute before
        (4 * 60, 5, True),
        (4 * 60 + 30, 5, True),  # the first second of the window's oldest minute
        (4 * 60 + 31, 5, False),
        (5 * 60, 5, False),
        (30, 1, True),
        (31, 1, False),
        (59 * 60, 60, True),
        (60 * 60, 60, False),
    ],
)
def test_recent_counts_whole_minutes_back_from_the_current_one(
    r: fakeredis.FakeRedis, seconds_ago: float, minutes: int, counted: bool
) -> None:
    metrics.count(r, A, 429, now=NOW - seconds_ago, keys=KEYS)
    assert metrics.recent(r, A, 429, minutes=minutes, now=NOW, keys=KEYS) == int(counted)


def test_counts_in_one_minute_add_up_and_stay_apart_by_account_and_status(
    r: fakeredis.FakeRedis,
) -> None:
    for offset in (0, 1, 2):
        metrics.count(r, A, 499, now=NOW + offset, keys=KEYS)
    metrics.count(r, A, 429, now=NOW, keys=KEYS)
    metrics.count(r, B, 499, now=NOW, keys=KEYS)
    assert metrics.recent(r, A, 499, now=NOW, keys=KEYS) == 3
    assert metrics.recent(r, A, 429, now=NOW, keys=KEYS) == 1
    assert metrics.recent(r, B, 499, now=NOW, keys=KEYS) == 1
    assert metrics.recent(r, B, 429, now=NOW, keys=KEYS) == 0
    assert metrics.totals(r, A, keys=KEYS) == {"499": 3, "429": 1}
    assert metrics.totals(r, B, keys=KEYS) == {"499": 1}


def test_a_minutes_counter_expires_but_the_total_never_does(r: fakeredis.FakeRedis) -> None:
    metrics.count(r, A, 429, now=NOW, keys=KEYS)
    ttls = {key: r.ttl(key) for key in r.keys("*")}
    expiring = [key for key, ttl in ttls.items() if ttl > 0]
    assert len(ttls) == 2 and len(expiring) == 1
    assert ttls[expiring[0]] <= 3600  # `mjw status` reads at most the last hour
    r.delete(*expiring)  # as its TTL would
    assert metrics.recent(r, A, 429, now=NOW, keys=KEYS) == 0
    assert metrics.totals(r, A, keys=KEYS) == {"429": 1}


@pytest.mark.parametrize("outcome", ["lost", "", "success ", "successful", "fail", "SUCCEEDED"])
def test_an_unknown_outcome_is_refused_and_counts_nothing(
    r: fakeredis.FakeRedis, outcome: str
) -> None:
    with pytest.raises(ValueError, match="outcome"):
        metrics.count_outcome(r, outcome, keys=KEYS)
    assert metrics.outcomes(r, keys=KEYS) == {"success": 0, "failed": 0, "revoked": 0}


@pytest.mark.parametrize(
    ("outcome", "counted_as"),
    [("success", "success"), ("Failed", "failed"), ("REVOKED", "revoked")],
)
def test_an_outcome_counts_under_its_lower_case_name(
    r: fakeredis.FakeRedis, outcome: str, counted_as: str
) -> None:
    metrics.count_outcome(r, outcome, keys=KEYS)
    metrics.count_outcome(r, outcome, keys=KEYS)
    assert metrics.outcomes(r, keys=KEYS)[counted_as] == 2
    assert sum(metrics.outcomes(r, keys=KEYS).values()) == 2


def test_durations_are_cumulative_buckets_ending_with_inf_and_a_sum(
    r: fakeredis.FakeRedis,
) -> None:
    for seconds in (0, 5, 5.01, 44.5, 1200, 1200.5):
        metrics.observe_duration(r, "fast", seconds, keys=KEYS)
    pairs, total = metrics.durations(r, keys=KEYS)["fast"]
    assert [le for le, _ in pairs] == [f"{b:g}" for b in metrics.DURATION_BUCKETS] + ["+Inf"]
    wanted = {"5": 2, "10": 3, "45": 4, "600": 4, "1200": 5, "+Inf": 6}
    assert {le: n for le, n in pairs if le in wanted} == wanted
    assert [n for _, n in pairs] == sorted(n for _, n in pairs)
    assert total == pytest.approx(0 + 5 + 5.01 + 44.5 + 1200 + 1200.5)


@pytest.mark.parametrize(
    ("mode", "stored_as"),
    [
        ("fast", "fast"),
        ("Relax", "relax"),
        ("TURBO", "turbo"),
        ("fast mode", "other"),
        ("fast2", "other"),
        ("x" * 17, "other"),  # label values stay few and short
        ("", "other"),
    ],
)
def test_a_duration_is_kept_under_its_mode_or_under_other(
    r: fakeredis.FakeRedis, mode: str, stored_as: str
) -> None:
    metrics.observe_duration(r, mode, 12.0, keys=KEYS)
    got = metrics.durations(r, keys=KEYS)
    assert list(got) == [stored_as]
    pairs, total = got[stored_as]
    assert dict(pairs)["15"] == 1 and dict(pairs)["10"] == 0 and total == 12.0


def test_no_durations_observed_is_an_empty_histogram(r: fakeredis.FakeRedis) -> None:
    assert metrics.durations(r, keys=KEYS) == {}
