"""One backoff: every wait after a failure comes from `Timing.backoff`, and the longest
countdown is derived from the same table instead of being listed by hand."""

from __future__ import annotations

import itertools

import pytest

from config.settings import Settings
from worker import policy as p
from worker.jobs.backoff import Backoff, Retry
from worker.jobs.timing import Timing


def timing(**values: object) -> Timing:
    return Timing.from_settings(Settings(ttapi_api_key="sk-x", **values))  # type: ignore[arg-type]


def test_a_backoff_doubles_per_failure_up_to_its_doublings_and_its_cap() -> None:
    b = Backoff(0.5, 3, cap_s=3.0)
    assert [b.after(n) for n in range(6)] == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]
    assert Backoff(1.0, 2).longest_s == 4.0
    assert b.after(-1) == 0.5


@pytest.mark.parametrize("retry", list(Retry))
def test_every_kind_of_retry_is_within_the_longest_countdown(retry: Retry) -> None:
    t = timing(mj_poll_min_s=0.01, mj_poll_max_s=0.2)  # cooldown and connect bases differ here
    assert t.backoff(retry, 1000) <= t.longest_countdown()


def test_the_waits_are_the_ones_each_place_computed_before() -> None:
    t = timing(mj_poll_min_s=0.5, mj_poll_max_s=10)
    assert t.backoff(Retry.COOLDOWN, 0) == t.cooldown_s
    assert t.backoff(Retry.COOLDOWN, 9) == t.cooldown_s * 2**p.COOLDOWN_DOUBLINGS
    assert t.backoff(Retry.CONNECT, 2) == t.submit_retry_s * 4
    assert t.backoff(Retry.STEP, 9) == t.submit_retry_s * 2**p.STEP_ERROR_DOUBLINGS
    assert t.backoff(Retry.FETCH, 3) == min(0.5 * 8, 10)
    assert t.backoff(Retry.STORE, 99) == p.STORE_RETRY_MAX_S


@pytest.mark.parametrize(
    ("poll_min", "poll_max", "pump", "grace"),
    list(
        itertools.product([0.01, 0.05, 1.0, 5.0], [1.0, 15.0, 120.0], [0.2, 5.0, 90.0], [1.0, 30.0])
    ),
)
def test_the_derived_longest_countdown_refuses_no_visibility_timeout_that_worked_before(
    poll_min: float, poll_max: float, pump: float, grace: float
) -> None:
    if poll_max < poll_min:
        return
    t = timing(
        mj_poll_min_s=poll_min,
        mj_poll_max_s=poll_max,
        mj_pump_interval_s=pump,
        mj_reconcile_grace_s=grace,
    )
    listed_before = max(
        t.bounds.max_s,
        t.cooldown_s * 2**p.COOLDOWN_DOUBLINGS,
        t.reconcile_grace_s,
        t.pump_interval_s,
        t.submit_retry_s * 2**p.SUBMIT_RETRY_DOUBLINGS,
        p.RETRY_AFTER_CAP_S,
    )
    assert t.longest_countdown() == listed_before
