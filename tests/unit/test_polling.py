"""The poll schedule: rare early, prompt near the end, always within MJ_POLL_MIN_S..MAX_S."""

from __future__ import annotations

import fakeredis
from hypothesis import given
from hypothesis import strategies as st

from worker.jobs.timing import Durations, PollBounds, next_gap

PROD = PollBounds(1.0, 15.0)
SIM = PollBounds(0.05, 0.5)


@given(
    bounds=st.sampled_from([PROD, SIM]),
    elapsed=st.floats(0, 5000),
    expected=st.floats(0.01, 5000),
    progress=st.integers(0, 100),
    last=st.integers(0, 100),
    window=st.floats(0, 1000),
    errors=st.integers(0, 50),
)
def test_every_gap_stays_within_the_bounds(
    bounds: PollBounds,
    elapsed: float,
    expected: float,
    progress: int,
    last: int,
    window: float,
    errors: int,
) -> None:
    gap = next_gap(
        bounds,
        elapsed=elapsed,
        expected=expected,
        progress=progress,
        last_progress=last,
        since_last_progress=window,
        errors=errors,
    )
    assert bounds.min_s <= gap <= bounds.max_s


def test_early_in_a_long_job_polls_rarely_and_near_its_end_promptly() -> None:
    assert next_gap(PROD, elapsed=1, expected=60) == 15.0
    assert next_gap(PROD, elapsed=57, expected=60) == 3.0
    assert next_gap(PROD, elapsed=59.5, expected=60) == 1.0


def test_progress_between_two_fetches_predicts_the_end() -> None:
    # 40 → 60 % in 10 s: 2 %/s, 40 % left → 20 s, capped at the longest gap.
    assert (
        next_gap(
            PROD, elapsed=30, expected=60, progress=60, last_progress=40, since_last_progress=10
        )
        == 15.0
    )
    # 90 → 96 % in 3 s: 4 % left → 2 s.
    assert (
        next_gap(
            PROD, elapsed=50, expected=60, progress=96, last_progress=90, since_last_progress=3
        )
        == 2.0
    )


def test_fetch_errors_back_off_exponentially_up_to_the_longest_gap() -> None:
    gaps = [next_gap(PROD, elapsed=5, expected=60, errors=n) for n in range(1, 7)]
    assert gaps == [2.0, 4.0, 8.0, 15.0, 15.0, 15.0]


def test_a_scaled_simulation_keeps_the_shape_of_production() -> None:
    ratio = SIM.max_s / PROD.max_s
    scaled = PollBounds(PROD.min_s * ratio, PROD.max_s * ratio)
    for elapsed in (1, 30, 57, 59.5, 70):
        prod = next_gap(PROD, elapsed=elapsed, expected=60)
        sim = next_gap(scaled, elapsed=elapsed * ratio, expected=60 * ratio)
        assert abs(sim - prod * ratio) < 1e-9


def test_learned_durations_replace_the_typical_one_per_account_and_mode() -> None:
    durations = Durations(fakeredis.FakeRedis(decode_responses=True), time_scale=0.5)
    assert durations.expected("acct-a", "fast", "imagine") == 30.0
    assert durations.expected("acct-a", "relax", "imagine") == 150.0
    durations.learn("acct-a", "fast", "imagine", 10.0)
    durations.learn("acct-a", "fast", "imagine", 20.0)
    assert abs(durations.expected("acct-a", "fast", "imagine") - 13.0) < 1e-6
    assert durations.expected("acct-b", "fast", "imagine") == 30.0
